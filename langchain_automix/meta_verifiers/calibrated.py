"""Robust fitting over any routing signal: the default way to fit a meta-verifier.

:class:`Calibrated` wraps any meta-verifier (``Threshold``, ``POMDP``, ...) and adds
what a fit on 50-300 noisy rows needs:

* **a signal of your choice**: the paper's ``verifier`` confidence, a free answer
  logprob signal (``answer_min_prob``, ...) or ``combined``, a
  :class:`~langchain_automix.signals.SignalCombiner` that learns a calibrated
  P(correct) from several signals at once;
* **a cross-validated check**: the whole fitting procedure (combiner and policy) is
  repeated on ``folds``-fold splits of the training rows and scored on the held-out
  folds. Unless that held-out result beats the best fixed choice (always escalate, or
  always accept) with 80% bootstrap confidence over the rows, the policy *falls back*
  to that fixed choice and says
  why (``fallback``, ``report``, the policy file, ``automix fit``'s output). A fit
  that chases noise costs more than it saves; the fallback never loses to random
  mixing by more than the verification it does not skip (ΔIBC -3.9 at costs 1/50).

Example:
    >>> from langchain_automix.synthetic import synthetic_replay
    >>> from langchain_automix.meta_verifiers import Threshold
    >>> data = synthetic_replay(300, seed=0)
    >>> mv = Calibrated(Threshold()).fit(data)
    >>> mv.fallback is None, mv.report["cv_delta_ibc"] > 0
    (True, True)
    >>> Calibrated.from_dict(mv.to_dict()).describe() == mv.describe()
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix.meta_verifiers.base import Decision, MetaVerifier, Observation
from langchain_automix.signals import AUTO, COMBINED, SIGNALS, SignalCombiner

if TYPE_CHECKING:
    from langchain_automix.meta_verifiers._fitting import Frontier, Objective
    from langchain_automix.metrics import CostSpec
    from langchain_automix.replay import ReplayDataset

__all__ = ["Calibrated"]


def _inner_from(policy: MetaVerifier | str | Mapping[str, Any]) -> MetaVerifier:
    from langchain_automix.meta_verifiers.registry import get_meta_verifier

    if isinstance(policy, MetaVerifier):
        return policy
    if isinstance(policy, str):
        return get_meta_verifier(policy)
    if isinstance(policy, Mapping):
        return MetaVerifier.from_dict(dict(policy))
    raise TypeError(
        f"policy must be a MetaVerifier, a method name or a policy dict, got {policy!r}"
    )


def _clone(mv: MetaVerifier) -> MetaVerifier:
    return type(mv).from_params(mv.get_params())


_DRAWS = 200
"""Bootstrap draws of the cross-validated check."""


def _score(scores: np.ndarray, final: np.ndarray, costs: CostSpec, objective: Objective) -> Any:
    """ΔIBC % (or utility for ``lam``) of routings ``final`` ``(..., n)`` of rows ``scores``.

    Vectorised over leading axes: ``scores`` ``(..., n, tiers)`` and ``final`` broadcast.
    """
    shape = np.broadcast_shapes(np.shape(final), scores.shape[:-1])
    scores = np.broadcast_to(scores, (*shape, scores.shape[-1]))
    final = np.broadcast_to(final, shape)
    perf = np.take_along_axis(scores, final[..., None], axis=-1)[..., 0].mean(axis=-1)
    cost = costs.stop_costs[final].mean(axis=-1)
    if objective.kind == "lam":
        return perf - float(objective.value or 0.0) * cost
    small, large = scores[..., 0].mean(axis=-1), scores[..., -1].mean(axis=-1)
    base = (large - small) / (costs.large_cost - costs.small_cost)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = ((perf - small) / (cost - costs.small_cost) - base) / base * 100.0
    return np.where(np.isfinite(d), d, -np.inf)


class Calibrated(MetaVerifier):
    """A meta-verifier fitted on a chosen signal, with a cross-validated fallback.

    Args:
        policy: the meta-verifier to fit (instance, registry name, or policy dict).
        signal: ``"verifier"`` (the paper's), another signal name from
            :data:`~langchain_automix.signals.SIGNALS`, ``"combined"`` (every signal in
            the training rows), or a list of names to combine.
        robust: run the cross-validated check and fall back when routing does not pay.
        folds: folds of the check (at least 2).
        repeats: how many times the folds are redrawn (the check's result is the mean).
        min_gain: how much (ΔIBC points, or utility for ``lam``) the held-out result must
            beat the best fixed choice by, at the bootstrap bound below.
        confidence: the check passes when the lower ``1 - confidence`` bootstrap quantile
            (over the rows) of the held-out gain over the best fixed choice is above
            ``min_gain``; 0.8 by default: a false "routing pays" costs far more than a
            missed one.
        l2: ridge penalty of the combiner.
        seed: seed of the fold splits.
        combiner: fitted combiner (set by :meth:`fit` or loaded from a policy file).
        fallback: fixed decision used instead of ``policy`` (set by :meth:`fit`).
        report: what the last fit measured (set by :meth:`fit`).

    A missing single signal at decision time (an endpoint without logprobs) counts
    as 0, the value of "no evidence", like a verification without a valid sample.
    """

    name: ClassVar[str] = "calibrated"

    def __init__(
        self,
        policy: MetaVerifier | str | Mapping[str, Any] = "threshold",
        *,
        signal: str | Sequence[str] = "verifier",
        robust: bool = True,
        folds: int = 5,
        repeats: int = 4,
        min_gain: float = 0.0,
        confidence: float = 0.8,
        l2: float = 1.0,
        seed: int = 0,
        combiner: SignalCombiner | Mapping[str, Any] | None = None,
        fallback: Decision | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        self.policy = _inner_from(policy)
        if isinstance(self.policy, Calibrated):
            raise ValueError("Calibrated cannot wrap another Calibrated policy")
        if isinstance(signal, str):
            if signal not in (COMBINED, AUTO) and signal not in SIGNALS:
                raise ValueError(
                    f"unknown signal {signal!r}; choose from {[*SIGNALS, COMBINED, AUTO]} or a list"
                )
            self.signal: str | tuple[str, ...] = signal
        else:
            names = tuple(str(s) for s in signal)
            bad = [s for s in names if s not in SIGNALS]
            if not names or bad:
                raise ValueError(f"signals to combine must be among {list(SIGNALS)}, got {names}")
            self.signal = names
        if int(folds) < 2 or int(repeats) < 1:
            raise ValueError(f"need folds >= 2 and repeats >= 1, got {folds} and {repeats}")
        if fallback not in (None, "accept", "escalate"):
            raise ValueError(f"fallback must be None, 'accept' or 'escalate', got {fallback!r}")
        self.robust = bool(robust)
        self.folds = int(folds)
        self.repeats = int(repeats)
        self.min_gain = float(min_gain)
        if not 0.0 < float(confidence) < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
        self.confidence = float(confidence)
        self.l2 = float(l2)
        self.seed = int(seed)
        self.combiner = (
            SignalCombiner.from_dict(combiner) if isinstance(combiner, Mapping) else combiner
        )
        self.fallback: Decision | None = fallback
        self.report: dict[str, Any] = dict(report or {})

    # ---------------------------------------------------------------- live use
    @property
    def _combines(self) -> bool:
        return self.signal == COMBINED or isinstance(self.signal, tuple)

    def _resolved(self) -> str | tuple[str, ...]:
        if self.signal == AUTO:
            raise ValueError("a policy with signal 'auto' must be fitted before use")
        return self.signal

    def _value(self, signals: Mapping[str, float], confidence: float) -> float:
        if self._combines:
            if self.combiner is None:
                raise ValueError("a combined-signal policy must be fitted before use")
            values: dict[str, float | None] = dict(signals)
            values.setdefault("verifier", confidence)
            return self.combiner.predict_one(values)
        if self._resolved() == "verifier":
            return float(signals.get("verifier", confidence))
        value = signals.get(str(self.signal))
        return 0.0 if value is None else float(value)

    def decide(self, observation: Observation) -> Decision:
        """The fallback if there is one, else the wrapped policy on the chosen signal."""
        if self.fallback is not None:
            return self.fallback
        value = self._value(observation.current_signals, observation.confidence)
        earlier: tuple[float, ...] = ()
        if len(observation.signals) == len(observation.confidences) > 1:
            pairs = zip(observation.signals[:-1], observation.confidences[:-1], strict=True)
            earlier = tuple(self._value(s, c) for s, c in pairs)
        return self.policy.decide(
            replace(observation, confidence=value, confidences=(*earlier, value))
        )

    # ------------------------------------------------------------ offline use
    def observations(self, data: ReplayDataset) -> np.ndarray:
        """The chosen signal (or the combiner's P(correct)) for every row and verified tier."""
        if self._combines:
            if self.combiner is None:
                raise ValueError("a combined-signal policy must be fitted before use")
            cols = self.combiner.signals
            return np.column_stack(
                [
                    self.combiner.predict(np.column_stack([data.signal(s)[:, t] for s in cols]))
                    for t in range(data.n_tiers - 1)
                ]
            )
        return np.nan_to_num(data.signal(str(self._resolved())), nan=0.0)

    def route(self, data: ReplayDataset) -> np.ndarray:
        """Stop tier of each row: the fallback's, or the wrapped policy's on the signal."""
        if self.fallback is not None:
            stop = 0 if self.fallback == "accept" else data.n_tiers - 1
            return np.full(data.n_rows, stop, dtype=np.intp)
        return self.policy.route(data.with_confidences(self.observations(data)))

    def _fit_signal(self, data: ReplayDataset) -> None:
        if self.signal == AUTO:
            self.signal = COMBINED if len(data.signal_names) > 1 else "verifier"
        if not self._combines:
            data.signal(str(self.signal))  # raises naming the signals present
            return
        names = data.signal_names if self.signal == COMBINED else self.signal
        x = np.column_stack([data.signal(s)[:, 0] for s in names])
        self.combiner = SignalCombiner(list(names), l2=self.l2).fit(x, data.scores[:, 0])

    def _fit_once(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: Any
    ) -> None:
        self.fallback = None
        self._fit_signal(data)
        self.policy._fit(data.with_confidences(self.observations(data)), costs, objective, forced)

    def _fit(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        forced: np.ndarray | None,
    ) -> None:
        self._fit_once(data, costs, objective, forced)
        self.report = {"signal": self._signal_label(), "n_rows": data.n_rows}
        if self.combiner is not None:
            self.report["combiner_weights"] = dict(
                zip(self.combiner.signals, self.combiner.weights.round(4).tolist(), strict=True)
            )
        if not self.robust or objective.kind not in ("max_delta_ibc", "lam"):
            return
        finals = self._held_out_routing(data, costs, objective)  # (repeats, n)
        n, last = data.n_rows, data.n_tiers - 1
        fixed_finals = {"escalate": np.full(n, last, np.intp), "accept": np.zeros(n, np.intp)}
        fixed = {
            k: float(_score(data.scores, f, costs, objective)) for k, f in fixed_finals.items()
        }
        best_fixed = max(fixed, key=lambda k: fixed[k])
        per_repeat = _score(data.scores, finals, costs, objective)
        mean = float(np.mean(per_repeat))
        # bootstrap the rows: how sure is it that the held-out routing beats the fixed choice?
        rows = np.random.default_rng(self.seed).integers(0, n, size=(_DRAWS, n))
        boot = np.mean(
            [_score(data.scores[rows], f[rows], costs, objective) for f in finals], axis=0
        )
        margin = boot - _score(data.scores[rows], fixed_finals[best_fixed][rows], costs, objective)
        margin = margin[np.isfinite(margin)]
        lower = float(np.quantile(margin, 1.0 - self.confidence)) if margin.size else -np.inf
        self.report.update(
            cv_delta_ibc=mean if objective.kind == "max_delta_ibc" else None,
            cv_score=mean,
            cv_score_std=float(np.std(per_repeat)),
            cv_margin_lower=lower,
            cv_confidence=self.confidence,
            cv_folds=self.folds,
            cv_repeats=self.repeats,
            best_fixed=best_fixed,
            best_fixed_score=fixed[best_fixed],
            objective=objective.kind,
        )
        if not lower > self.min_gain:
            self.fallback = best_fixed  # type: ignore[assignment]
            what = "ΔIBC" if objective.kind == "max_delta_ibc" else "utility"
            self.report["fallback_reason"] = (
                f"held-out {what} of the fitted policy {mean:+.4g} ({self.repeats} x "
                f"{self.folds}-fold) against always-{best_fixed} {fixed[best_fixed]:+.4g}: "
                f"the lower {1 - self.confidence:.0%} bootstrap bound of the gain is "
                f"{lower:+.4g}, not above {self.min_gain:g}, on {n} rows: routing on signal "
                f"{self._signal_label()!r} does not pay here"
            )

    def _signal_label(self) -> str:
        return self.signal if isinstance(self.signal, str) else "+".join(self.signal)

    def _held_out_routing(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective
    ) -> np.ndarray:
        """Stop tier of every row when routed by a fit that did not see it, per repeat."""
        n = data.n_rows
        folds = min(self.folds, n)
        rng = np.random.default_rng(self.seed)
        out = np.empty((self.repeats, n), dtype=np.intp)
        for r in range(self.repeats):
            perm = rng.permutation(n)
            for f in range(folds):
                test = np.sort(perm[f::folds])
                train = np.setdiff1d(np.arange(n), test)
                if train.size < 2:
                    out[r, test] = data.n_tiers - 1
                    continue
                part = Calibrated(_clone(self.policy), signal=self.signal, robust=False, l2=self.l2)
                part._fit_once(data.subset(train), costs, objective, None)
                out[r, test] = part.route(data.subset(test))
        return out

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        if self._combines and self.combiner is None:
            self._fit_signal(data)
        return self.policy._frontier(data.with_confidences(self.observations(data)), costs, forced)

    # ------------------------------------------------------------ serialisation
    def get_params(self) -> dict[str, Any]:
        """Wrapped policy, signal, check settings, fitted combiner, fallback and report."""
        return {
            "policy": self.policy.to_dict(),
            "signal": self.signal if isinstance(self.signal, str) else list(self.signal),
            "robust": self.robust,
            "folds": self.folds,
            "repeats": self.repeats,
            "min_gain": self.min_gain,
            "confidence": self.confidence,
            "l2": self.l2,
            "seed": self.seed,
            "combiner": None if self.combiner is None else self.combiner.to_dict(),
            "fallback": self.fallback,
            "report": self.report,
        }

    def describe(self) -> str:
        """E.g. ``calibrated[answer_min_prob](threshold(<0.31))`` or ``...->always-escalate``."""
        inner = f"always-{self.fallback}" if self.fallback else self.policy.describe()
        return f"{self.name}[{self._signal_label()}]({inner})"

    def __repr__(self) -> str:
        return f"Calibrated({self.policy!r}, signal={self.signal!r}, fallback={self.fallback!r})"
