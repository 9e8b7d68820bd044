"""Robust fitting over any routing signal: the default way to fit a meta-verifier.

:class:`Calibrated` wraps any meta-verifier (``Threshold``, ``POMDP``, ...) and adds
what a fit on 50-300 noisy rows needs:

* **a signal of your choice**: the paper's ``verifier`` confidence, a free answer
  logprob signal (``answer_min_prob``, ...) or ``combined``, a
  :class:`~langchain_automix.signals.SignalCombiner` that learns a calibrated
  P(small answer correct) from several signals at once (``target="score"``, the
  default; ``target="gain"`` fits it to the gain of escalating instead: 1 where the
  small answer scores as well as the last tier's, 0 where it scores 1 and the last
  tier's 0);
* **an operating point chosen by cross-validation**: the whole fitting procedure
  (combiner and policy) is repeated on ``folds``-fold splits of the training rows for
  each escalation share in :data:`CV_SHARES` (each fitted with the target-share
  objective) and scored on the held-out folds; the share whose held-out gain over the
  best fixed choice (always escalate, or always accept) has the best lower bootstrap
  bound is refitted on all rows (``check="held_out"``; ``check="model"`` chooses under
  a smoothed model of the gain per signal level instead; ``check="agree"``, the
  default, takes the model's share where the cross-validation does not speak against
  it, else the held-out choice). ΔIBC maximised on the training rows themselves picks
  noise: its denominator is tiny at low escalation shares;
* **a fallback**: unless the chosen share's bound (held out: the ``1 - confidence`` =
  5% quantile over bootstrap resamples of the rows; model: the
  :data:`MODEL_QUANTILE` over posterior draws of the model) is above ``min_gain``, the
  policy *falls back* to the fixed
  choice and says why (``fallback``, ``report``, the policy file, ``automix fit``'s
  output). A fit that chases noise costs more than it saves; a fallback *is* the fixed
  choice, at its cost: always-accept calls the first tier alone (no verification),
  always-escalate the last tier alone (queries start there, :meth:`start_tier`), so
  the always-escalate fallback sits on always-large's point (ΔIBC 0, no worse than
  random mixing).

Example:
    >>> from langchain_automix.calibration.synthetic import synthetic_replay
    >>> from langchain_automix.meta_verifiers import Threshold
    >>> data = synthetic_replay(300, seed=0)
    >>> mv = Calibrated(Threshold()).fit(data)
    >>> mv.fallback is None, mv.report["cv_delta_ibc"] > 0
    (True, True)
    >>> Calibrated.from_dict(mv.to_dict()).describe() == mv.describe()
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import (
    as_bool,
    as_float,
    as_int,
    as_mapping,
    as_str,
    as_str_list,
    checked,
    optional,
)
from langchain_automix.meta_verifiers.base import (
    Decision,
    MetaVerifier,
    Observation,
    Routing,
    Target,
    meta_verifier_class,
    register_meta_verifier,
)
from langchain_automix.meta_verifiers.provenance import constant_signal_warning
from langchain_automix.signals import (
    AUTO,
    COMBINED,
    FREE,
    FREE_SIGNALS,
    SIGNALS,
    SignalCombiner,
    has_answer_probs,
    needs_verifier,
    resolve_auto,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Frontier, Objective

__all__ = ["Calibrated"]


def _inner_from(policy: MetaVerifier | str | Mapping[str, Any]) -> MetaVerifier:
    if isinstance(policy, MetaVerifier):
        return policy
    if isinstance(policy, str):
        return meta_verifier_class(policy)()
    if isinstance(policy, Mapping):
        return MetaVerifier.from_dict(dict(policy))
    raise TypeError(
        f"policy must be a MetaVerifier, a method name or a policy dict, got {policy!r}"
    )


def _clone(mv: MetaVerifier) -> MetaVerifier:
    return type(mv).from_params(mv.get_params())


def _signal_or_nan(data: ReplayDataset, name: str) -> np.ndarray:
    """A signal's values, all NaN when the rows lack it (the combiner fills those)."""
    if name in data.signal_names:
        return data.signal(name)
    return np.full((data.n_rows, data.n_tiers - 1), np.nan)


def _policy_param(value: Any, field: str) -> str | Mapping[str, Any]:
    """A policy file's wrapped policy: a nested policy object or a registry name."""
    return value if isinstance(value, str) else as_mapping(value, field)


def _signal_param(value: Any, field: str) -> str | list[str]:
    """A policy file's signal: a name or a list of names."""
    return value if isinstance(value, str) else as_str_list(value, field)


_WARNED: set[tuple[str, ...]] = set()


def _warn_missing(missing: tuple[str, ...], twin: bool) -> None:
    """Warn once per process (per set of missing signals) that a combination lacks some."""
    if missing in _WARNED:
        return
    _WARNED.add(missing)
    what = (
        "deciding with its verifier-only twin, fitted on the same rows"
        if twin
        else "escalating (a combination of free signals without them has no evidence)"
    )
    warnings.warn(
        f"the policy combines {', '.join(missing)}, which this attempt does not carry (an "
        f"endpoint without answer logprobs?): {what}. Fit on rows from this endpoint "
        "(automix collect) to route on what it gives.",
        UserWarning,
        stacklevel=3,
    )


def _fixed_tier(fallback: str, n_tiers: int) -> int:
    """The one tier a fixed choice calls, and where it stops: the first or the last.

    Always-escalate calls the last tier alone: an answer it always discards is not
    worth asking for (see :meth:`MetaVerifier.start_tier`).
    """
    return n_tiers - 1 if fallback == "escalate" else 0


def _fixed_visits(fallback: str, n_tiers: int) -> np.ndarray:
    """Tiers a fixed choice calls (:func:`_fixed_tier` alone)."""
    visits = np.zeros(n_tiers, dtype=bool)
    visits[_fixed_tier(fallback, n_tiers)] = True
    return visits


_DRAWS = 200
"""Bootstrap draws of the cross-validated check."""

_MODEL_DRAWS = 400
"""Posterior draws of the model check."""

MODEL_QUANTILE = 0.2
"""Posterior quantile of the model check's margin that must be above ``min_gain``
(``risk="balanced"``; ``"strict"`` uses ``1 - confidence``)."""

RISKS = ("strict", "balanced", "off")
"""How readily the robust fit routes (see :class:`Calibrated`'s ``risk``)."""

AGREE_TOLERANCE = 15.0
"""How far (ΔIBC points) below ``min_gain`` the cross-validated bound at the model's
share may be for ``check="agree"`` to take that share (``risk="strict"``: 0).
Chosen among 10, 15, 20 and 30 on 60 seeds of the default-fit benchmark's cells
(docs/meta-verifiers.md, "Which rule the default uses")."""

CHECKS = ("held_out", "model", "agree")
"""How the robust fit chooses its share and decides to fall back (``check``)."""

CV_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Escalation shares among which the robust fit chooses by cross-validation."""


def _label(objective: Objective) -> str:
    """A cross-validation candidate's name: an escalation share, or the objective."""
    if objective.kind == "target_share":
        return f"{objective.value:.2f}"
    return objective.kind


def _score(
    scores: np.ndarray,
    final: np.ndarray,
    costs: CostSpec,
    objective: Objective,
    visited: np.ndarray | None = None,
) -> Any:
    """ΔIBC % (or utility for ``lam``) of routings ``final`` ``(..., n)`` of rows ``scores``.

    Vectorised over leading axes: ``scores`` ``(..., n, tiers)`` and ``final`` broadcast
    (and ``visited`` ``(..., n, tiers)``, the tiers called, when a policy skips tiers).
    """
    from langchain_automix.calibration.metrics import routing_points

    p = routing_points(scores, final, costs, visited)
    if objective.kind == "lam":
        return p["avg_performance"] - float(objective.value or 0.0) * p["avg_cost"]
    return np.nan_to_num(p["delta_ibc"], nan=-np.inf)


@register_meta_verifier
class Calibrated(MetaVerifier):
    """A meta-verifier fitted on a chosen signal, with a cross-validated fallback.

    Args:
        policy: the meta-verifier to fit (instance, registry name, or policy dict).
        signal: ``"verifier"`` (the paper's), another signal name from
            :data:`~langchain_automix.signals.SIGNALS`, ``"combined"`` (every signal in
            the training rows), ``"auto"`` (the default, as ``automix fit --signal
            auto``: ``combined`` when the rows carry a model signal besides the
            verifier's, else ``verifier``), or a list of names to combine.
        robust: run the cross-validated check and fall back when routing does not pay.
        folds: folds of the check (at least 2).
        repeats: how many times the folds are redrawn (the check's result is the mean).
        min_gain: how much (ΔIBC points, or utility for ``lam``) the held-out result must
            beat the best fixed choice by, at the bootstrap bound below.
        confidence: the check passes when the lower ``1 - confidence`` bootstrap quantile
            (over the rows) of the held-out gain over the best fixed choice is above
            ``min_gain``; 0.95 by default: a false "routing pays" costs far more than a
            missed one, and the best of nine candidate shares is lucky more often than
            any one of them.
        risk: how readily a doubtful fit still routes: ``"balanced"`` (default) routes
            when the check passes *or* the held-out signal ranks the rows the last tier
            helps above chance (two tiers; not when the model check finds no gain at
            all); ``"strict"`` only when the check passes (the model check then at the
            ``1 - confidence`` quantile); ``"off"`` never falls back.
        check: how the escalation share is chosen and the fallback decided.
            ``"held_out"``: the share whose cross-validated gain over the best fixed
            choice has the best lower bound, falling back unless that bound is above
            ``min_gain``. ``"model"`` (two tiers and the ΔIBC objective): every share
            refitted on all rows and scored under a smoothed model of the gain per
            signal level (:class:`~langchain_automix.meta_verifiers._gain_model.
            GainModel`); the best one is kept unless the lower
            :data:`MODEL_QUANTILE` of its margin over the posterior draws is below
            ``min_gain``. ``"agree"`` (the default): the model's share when the model
            finds a gain there (its own rule) and the cross-validated bound of the
            same share is within :data:`AGREE_TOLERANCE` points of ``min_gain``;
            otherwise the ``"held_out"`` rule decides alone (and always on three
            tiers or with ``lam``). The model alone gains where a verifier is strong
            (synthetic rows, SQuAD 1.1) but routed where routing lost on the mixed
            replays and on weak small samples; requiring the cross-validation not to
            speak against it keeps most of the gain and most of the protection
            (docs/meta-verifiers.md, "Which rule the default uses"). The
            cross-validation runs in every case (``cv_*`` in the report).
        target: what the combiner is fitted to: ``"score"`` (default; the small
            answer's score, so the observation is a calibrated P(correct)) or ``"gain"``
            (whether the small answer is as good as the last tier's).
        l2: ridge penalty of the combiner.
        seed: seed of the fold splits.
        combiner: fitted combiner (set by :meth:`fit` or loaded from a policy file).
        fallback: fixed decision used instead of ``policy`` (set by :meth:`fit`).
        report: what the last fit measured (set by :meth:`fit`).
        verifier_twin: the same policy fitted on the verifier confidence alone, at the
            same time (set by :meth:`fit` for a combination that reads the verifier).

    A missing single signal at decision time (an endpoint without logprobs) counts
    as 0, the value of "no evidence", like a verification without a valid sample.
    A *combination* missing one of its signals live (the policy was fitted on rows
    with answer logprobs, the endpoint returns none) decides with its
    ``verifier_twin`` instead, or escalates when it has none (a combination of free
    signals: no verification was made); either way a warning names the missing
    signals once per process.
    """

    name: ClassVar[str] = "calibrated"

    def __init__(
        self,
        policy: MetaVerifier | str | Mapping[str, Any] = "threshold",
        *,
        signal: str | Sequence[str] = "auto",
        robust: bool = True,
        folds: int = 5,
        repeats: int = 4,
        min_gain: float = 0.0,
        confidence: float = 0.95,
        risk: str = "balanced",
        check: str = "agree",
        l2: float = 1.0,
        seed: int = 0,
        target: str = "score",
        combiner: SignalCombiner | Mapping[str, Any] | None = None,
        fallback: Decision | None = None,
        report: Mapping[str, Any] | None = None,
        verifier_twin: Calibrated | Mapping[str, Any] | None = None,
    ) -> None:
        self.policy = _inner_from(policy)
        if isinstance(self.policy, Calibrated):
            raise ValueError("Calibrated cannot wrap another Calibrated policy")
        if isinstance(signal, str):
            if signal not in (COMBINED, FREE, AUTO) and signal not in SIGNALS:
                raise ValueError(
                    f"unknown signal {signal!r}; choose from "
                    f"{[*SIGNALS, COMBINED, FREE, AUTO]} or a list"
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
        if target not in ("gain", "score"):
            raise ValueError(f"target must be 'gain' or 'score', got {target!r}")
        self.target = target
        self.robust = bool(robust)
        self.folds = int(folds)
        self.repeats = int(repeats)
        self.min_gain = float(min_gain)
        if not 0.0 < float(confidence) < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
        self.confidence = float(confidence)
        if risk not in RISKS:
            raise ValueError(f"risk must be one of {', '.join(RISKS)}, got {risk!r}")
        self.risk = risk
        if check not in CHECKS:
            raise ValueError(f"check must be one of {', '.join(CHECKS)}, got {check!r}")
        self.check = check
        self.l2 = float(l2)
        self.seed = int(seed)
        self.combiner = (
            SignalCombiner.from_dict(combiner) if isinstance(combiner, Mapping) else combiner
        )
        self.fallback: Decision | None = fallback
        self.report: dict[str, Any] = dict(report or {})
        twin = (
            Calibrated.from_dict(dict(verifier_twin))
            if isinstance(verifier_twin, Mapping)
            else verifier_twin
        )
        if twin is not None and (not isinstance(twin, Calibrated) or twin.signal != "verifier"):
            raise ValueError("verifier_twin must be a Calibrated policy on signal 'verifier'")
        self.verifier_twin: Calibrated | None = twin

    # ---------------------------------------------------------------- live use
    @property
    def _combines(self) -> bool:
        return self.signal in (COMBINED, FREE) or isinstance(self.signal, tuple)

    def reads_verifier(self) -> bool:
        """False when the decision needs no verification call.

        That is a fixed fallback, or a signal (or fitted combination) of free signals.
        """
        if self.fallback is not None:
            return False
        if self.signal == FREE:
            return False
        if self._combines:
            return self.combiner is None or needs_verifier(self.combiner.signals)
        return self.signal == AUTO or needs_verifier(str(self.signal))

    def start_tier(self, n_tiers: int) -> int:
        """The last tier when fallen back to ``"escalate"``, else the first.

        Fallen back to always-escalate, the first tier's answer is never kept, so it is
        not asked for.
        """
        return 0 if self.fallback is None else _fixed_tier(self.fallback, n_tiers)

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

    def decide(self, observation: Observation) -> Target:
        """The fallback if there is one, else the wrapped policy on the chosen signal.

        The ``"escalate"`` fallback sends queries to the last tier (live, they start
        there and this is not asked; see :meth:`start_tier`).
        """
        if self.fallback is not None:
            if self.fallback == "escalate" and observation.n_tiers - 1 > observation.tier + 1:
                return observation.n_tiers - 1
            return self.fallback
        missing = self._missing(observation.current_signals)
        if missing:
            _warn_missing(missing, self.verifier_twin is not None)
            if self.verifier_twin is not None:
                return self.verifier_twin.decide(observation)
            if observation.n_tiers - 1 > observation.tier + 1:
                return observation.n_tiers - 1
            return "escalate"
        value = self._value(observation.current_signals, observation.confidence)
        earlier: tuple[float, ...] = ()
        if len(observation.signals) == len(observation.confidences) > 1:
            pairs = zip(observation.signals[:-1], observation.confidences[:-1], strict=True)
            earlier = tuple(self._value(s, c) for s, c in pairs)
        return self.policy.decide(
            replace(observation, confidence=value, confidences=(*earlier, value))
        )

    def _missing(self, signals: Mapping[str, float]) -> tuple[str, ...]:
        """The combiner's signals (besides the verifier's) absent from a live attempt."""
        if not self._combines or self.combiner is None:
            return ()
        return tuple(s for s in self.combiner.signals if s != "verifier" and s not in signals)

    def _fit_twin(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: Any
    ) -> None:
        """Fit the verifier-only twin that decides when a live attempt lacks a signal."""
        self.verifier_twin = None
        if self.combiner is None or "verifier" not in self.combiner.signals:
            return
        if not self._missing({"verifier": 0.0}):
            return  # nothing but the verifier in the combination
        twin = Calibrated(
            _clone(self.policy),
            signal="verifier",
            robust=self.robust,
            folds=self.folds,
            repeats=self.repeats,
            min_gain=self.min_gain,
            confidence=self.confidence,
            risk=self.risk,
            check=self.check,
            seed=self.seed,
        )
        twin._fit(data, costs, objective, forced)
        self.verifier_twin = twin

    # ------------------------------------------------------------ offline use
    def observations(self, data: ReplayDataset) -> np.ndarray:
        """The chosen signal (or the combiner's P(correct)) for every row and verified tier."""
        if self._combines:
            if self.combiner is None:
                raise ValueError("a combined-signal policy must be fitted before use")
            cols = [_signal_or_nan(data, s) for s in self.combiner.signals]
            return np.column_stack(
                [
                    self.combiner.predict(np.column_stack([c[:, t] for c in cols]))
                    for t in range(data.n_tiers - 1)
                ]
            )
        # rows without the signal (an endpoint without logprobs) count as 0, as live
        return np.nan_to_num(_signal_or_nan(data, str(self._resolved())), nan=0.0)

    def route_paths(self, data: ReplayDataset) -> Routing:
        """Routing of each row: the fallback's, or the wrapped policy's on the signal."""
        if self.fallback is not None:
            stop = _fixed_tier(self.fallback, data.n_tiers)
            final = np.full(data.n_rows, stop, dtype=np.intp)
            visited = np.broadcast_to(
                _fixed_visits(self.fallback, data.n_tiers), (data.n_rows, data.n_tiers)
            ).copy()
            return Routing(final=final, visited=visited)
        return self.policy.route_paths(data.with_confidences(self.observations(data)))

    def _fit_signal(self, data: ReplayDataset) -> None:
        if self.signal == AUTO:
            self.signal = resolve_auto(data.signal_names)
        if not self._combines:
            data.signal(str(self.signal))  # raises naming the signals present
            return
        if self.signal == COMBINED:
            names: Sequence[str] = data.signal_names
        elif self.signal == FREE:
            names = [s for s in data.signal_names if s in FREE_SIGNALS]
            if not has_answer_probs(names):
                raise ValueError(
                    "signal 'free' needs answer token probabilities (answer_min_prob, ...) "
                    f"in the rows; they carry {list(data.signal_names)}. Collect with a "
                    "model that returns logprobs, or add them with `automix collect "
                    "--add-signals-to`"
                )
        else:
            names = self.signal
        x = np.column_stack([data.signal(s)[:, 0] for s in names])
        if self.target == "gain":  # 1: the small answer is as good as the last tier's
            y = 0.5 + (data.scores[:, 0] - data.scores[:, -1]) / 2.0
        else:
            y = data.scores[:, 0]
        self.combiner = SignalCombiner(list(names), l2=self.l2).fit(x, y)

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
        self.verifier_twin = None
        self._fit_policy(data, costs, objective, forced)
        if self.fallback is None:
            self._fit_twin(data, costs, objective, forced)

    def _fit_policy(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        forced: np.ndarray | None,
    ) -> None:
        if self.signal == AUTO:
            self.signal = resolve_auto(data.signal_names)
        self.fallback = None
        costs = self.charged(costs)  # free signals: no verification is charged
        if self.robust and self.check == "model" and objective.kind == "lam":
            raise ValueError(
                "check='model' scores candidate escalation shares by ΔIBC; a lam objective "
                "has one candidate: fit it with check='held_out'"
            )
        if not self.robust or objective.kind not in ("max_delta_ibc", "lam"):
            self._fit_once(data, costs, objective, forced)
            self._start_report(data)
            return
        n = data.n_rows
        fixed_finals = {
            k: np.full(n, _fixed_tier(k, data.n_tiers), np.intp) for k in ("escalate", "accept")
        }
        # each fixed choice calls one tier only (always-escalate: the last, directly)
        fixed_visited = {
            k: np.broadcast_to(_fixed_visits(k, data.n_tiers), (n, data.n_tiers))
            for k in fixed_finals
        }
        fixed = {
            k: float(_score(data.scores, f, costs, objective, fixed_visited[k]))
            for k, f in fixed_finals.items()
        }
        best_fixed = max(fixed, key=lambda k: fixed[k])
        self._fit_signal(data)
        constant = constant_signal_warning(self.observations(data), self._signal_label())
        if constant is not None:  # nothing to route on: no cross-validation can change that
            self._fit_once(data, costs, objective, forced)
            self._start_report(data)
            self.fallback = best_fixed  # type: ignore[assignment]
            self.report.update(
                best_fixed=best_fixed,
                best_fixed_score=fixed[best_fixed],
                objective=objective.kind,
                fallback_reason=f"{constant} (always-{best_fixed} is the better of the two)",
            )
            return
        # Choose the operating point by cross-validation: ΔIBC maximised on the training
        # rows themselves picks noise (its denominator is tiny at low escalation shares).
        # With the ΔIBC objective the candidates are escalation shares (each fitted with
        # the target-share objective); with lam, lam itself.
        candidates = self._candidates(objective)
        # (candidates, repeats, n) stop tiers and (..., n, tiers) tiers called
        held_out, held_visits = self._held_out_routing(data, costs, candidates)
        # Bootstrap the rows: the gain of each candidate's held-out routing over the best
        # fixed choice. The candidate with the best lower bound is chosen (a pessimistic
        # choice, so that picking the luckiest of several candidates is not rewarded).
        rows = data.resample_rows(_DRAWS, np.random.default_rng(self.seed))
        fixed_boot = _score(
            data.scores[rows],
            fixed_finals[best_fixed][rows],
            costs,
            objective,
            fixed_visited[best_fixed][rows],
        )
        lowers, means = [], []
        for finals, visits in zip(held_out, held_visits, strict=True):
            boot = np.mean(
                [
                    _score(data.scores[rows], f[rows], costs, objective, v[rows])
                    for f, v in zip(finals, visits, strict=True)
                ],
                axis=0,
            )
            with np.errstate(invalid="ignore"):
                diff = boot - fixed_boot
            margin = diff[np.isfinite(diff)]
            q = float(np.quantile(margin, 1.0 - self.confidence)) if margin.size else -np.inf
            lowers.append(q)
            means.append(float(np.mean(margin)) if margin.size else -np.inf)
        model = agree = None
        if objective.kind == "max_delta_ibc" and self._model_check_applies(data, candidates):
            model = self._model_check(data, costs, objective, candidates, forced, best_fixed)
            best = model_best = int(np.argmax(model["by_candidate"]))
            if self.check == "agree":
                agree = self._agreement(model, lowers[best])
                if not agree["agrees"]:  # the held-out rule decides alone
                    best = self._select(lowers, means)
        else:
            best = self._select(lowers, means)
        uses_model = model is not None and (agree is None or agree["agrees"])
        lower = lowers[best]
        chosen = candidates[best]
        if uses_model:  # the model check fitted every candidate on all rows already
            assert model is not None  # noqa: S101 - for the type checker
            self.fallback = None
            self.policy = model["policies"][best]
        else:
            self._fit_once(data, costs, chosen, forced)
        self._start_report(data)
        per_repeat = _score(data.scores, held_out[best], costs, objective, held_visits[best])
        mean = float(np.mean(per_repeat))
        if len(candidates) > 1:
            self.report["cv_choice"] = _label(chosen)
            self.report["cv_share"] = chosen.value if chosen.kind == "target_share" else None
            self.report["cv_lower_by_share"] = {
                _label(c): v for c, v in zip(candidates, lowers, strict=True)
            }
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
            check=self.check if model is not None else "held_out",
        )
        if model is not None:
            labels = [_label(c) for c in candidates]
            self.report.update(
                model_delta_ibc_by_share=dict(zip(labels, model["by_candidate"], strict=True)),
                model_share=labels[model_best],
                model_delta_ibc=model["by_candidate"][model_best],
                model_margin_lower=model["lower"],
                model_quantile=model["quantile"],
                model_tau2=model["tau2"],
            )
        if agree is not None:
            self.report.update(
                agree=agree["agrees"],
                agree_cv_lower=agree["cv_lower"],
                agree_tolerance=agree["tolerance"],
            )
        if uses_model:
            assert model is not None  # noqa: S101 - for the type checker
            pays = model["lower"] > self.min_gain
        else:
            pays = lower > self.min_gain
        # the rank check, unless the model check alone decides and finds no gain at all
        model_gains = (
            self.check != "model" or model is None or model["by_candidate"][best] > self.min_gain
        )
        if not pays and self.risk == "balanced" and data.n_tiers == 2 and model_gains:
            rank_lower = self._rank_lower(data, rows)
            self.report["cv_rank_auroc_lower"] = rank_lower
            pays = rank_lower > 0.5
            if pays:
                self.report["cv_routes_because"] = (
                    f"the held-out signal ranks the rows where the last tier scores higher "
                    f"(AUROC lower {1 - self.confidence:.0%} bound {rank_lower:.3f} > 0.5)"
                )
        if not pays and self.risk != "off":
            self.fallback = best_fixed  # type: ignore[assignment]
            what = "ΔIBC" if objective.kind == "max_delta_ibc" else "utility"
            if not uses_model:
                self.report["fallback_reason"] = (
                    f"held-out {what} of the fitted policy {mean:+.4g} ({self.repeats} x "
                    f"{self.folds}-fold) against always-{best_fixed} {fixed[best_fixed]:+.4g}: "
                    f"the lower {1 - self.confidence:.0%} bootstrap bound of the gain is "
                    f"{lower:+.4g}, not above {self.min_gain:g}, on {n} rows: routing on "
                    f"signal {self._signal_label()!r} does not pay here"
                )
            else:
                assert model is not None  # noqa: S101 - for the type checker
                self.report["fallback_reason"] = (
                    f"ΔIBC of the fitted policy under the smoothed gain model "
                    f"{model['by_candidate'][best]:+.4g} against always-{best_fixed}: its "
                    f"lower {model['quantile']:.0%} posterior bound is {model['lower']:+.4g}, "
                    f"not above {self.min_gain:g}, on {n} rows (held-out {what} {mean:+.4g}): "
                    f"routing on signal {self._signal_label()!r} does not pay here"
                )
            if "cv_rank_auroc_lower" in self.report:
                self.report["fallback_reason"] += (
                    "; nor does the held-out signal rank the rows the last tier helps (AUROC "
                    f"lower bound {self.report['cv_rank_auroc_lower']:.3f}, not above 0.5)"
                )

    def _rank_lower(self, data: ReplayDataset, rows: np.ndarray) -> float:
        """Lower bootstrap bound of how well the held-out signal finds escalation gains.

        The AUROC with which a *low* held-out observation (each row's from a fit that
        did not see it) picks the rows where the last tier scores higher than the first,
        averaged over the repeats, at the ``1 - confidence`` quantile of the bootstrap
        draws ``rows``. Above 0.5: escalating the low-signal rows first gains more than
        escalating at random, the premise of every threshold policy.
        """
        from langchain_automix.calibration.metrics import auroc

        helps = data.scores[:, -1] > data.scores[:, 0]
        held = self._held_obs
        values = []
        for draw in rows:
            per = []
            for r in range(held.shape[0]):
                seen = np.isfinite(held[r, draw])  # rows some fold did route
                per.append(auroc(-held[r, draw][seen], helps[draw][seen]))
            kept = [v for v in per if v is not None]
            values.append(float(np.mean(kept)) if kept else 0.5)
        return float(np.quantile(values, 1.0 - self.confidence))

    def _candidates(self, objective: Objective) -> list[Objective]:
        """The operating points the cross-validation compares (a hook for studies)."""
        from langchain_automix.meta_verifiers._fitting import Objective

        if objective.kind == "lam":
            return [objective]
        return [Objective("target_share", float(s)) for s in CV_SHARES]

    def _model_check_applies(self, data: ReplayDataset, candidates: Sequence[Objective]) -> bool:
        """Whether the model check runs (``check="model"`` or ``"agree"``; two tiers).

        ``"model"`` refuses more tiers; ``"agree"`` leaves them to the held-out rule.
        """
        if self.check == "held_out" or len(candidates) < 2:
            return False
        if data.n_tiers != 2:
            if self.check == "agree":
                return False
            raise ValueError(
                f"check='model' needs two tiers, got {data.n_tiers}; use check='held_out'"
            )
        return True

    def _agreement(self, model: Mapping[str, Any], cv_lower: float) -> dict[str, Any]:
        """Whether the cross-validation lets the model check's share stand.

        The model's lower posterior bound of the share's gain over the best fixed
        choice must be above ``min_gain`` (the model check's own rule), and the
        held-out gain of the same share at its ``1 - confidence`` bootstrap bound
        (``cv_lower``) must not fall short of ``min_gain`` by :data:`AGREE_TOLERANCE`
        points or more (``risk="strict"``: not at all, the held-out check's own bar).
        """
        tolerance = 0.0 if self.risk == "strict" else AGREE_TOLERANCE
        agrees = model["lower"] > self.min_gain and cv_lower > self.min_gain - tolerance
        return {"agrees": bool(agrees), "cv_lower": cv_lower, "tolerance": tolerance}

    def _model_check(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        candidates: Sequence[Objective],
        forced: np.ndarray | None,
        best_fixed: str,
    ) -> dict[str, Any]:
        """Each candidate refitted on all rows, scored under the smoothed gain model.

        Returns the fitted candidates (``policies``), the model ΔIBC of every one
        (``by_candidate``), and for the best one the lower ``quantile`` of its margin
        over the best fixed choice across posterior draws of the model (``lower``).
        """
        from langchain_automix.meta_verifiers._gain_model import GainModel

        obs = self.observations(data)
        routed = data.with_confidences(obs)
        model = GainModel.fit(obs[:, 0], data.scores[:, -1] - data.scores[:, 0], groups=data.groups)
        finals, visits, policies = [], [], []
        for objective_c in candidates:
            policy = _clone(self.policy)
            policy._fit(routed, costs, objective_c, forced)
            policies.append(policy)
            routing = policy.route_paths(routed)
            final, visited = routing.final, routing.visited
            if forced is not None:
                final = np.where(forced, data.n_tiers - 1, final)
                visited = np.where(forced[:, None], True, visited)
            finals.append(final)
            visits.append(visited)

        def scored(gains: np.ndarray, final: np.ndarray, visited: np.ndarray) -> Any:
            scores = np.stack([np.zeros_like(gains), gains], axis=-1)
            return _score(scores, final, costs, objective, visited)

        fixed_final = np.full(data.n_rows, _fixed_tier(best_fixed, 2), np.intp)
        fixed_visits = np.broadcast_to(_fixed_visits(best_fixed, 2), (data.n_rows, 2))
        mean = model.mean
        by_candidate = [float(scored(mean, f, v)) for f, v in zip(finals, visits, strict=True)]
        best = int(np.argmax(by_candidate))
        draws = model.draws(_MODEL_DRAWS, np.random.default_rng(self.seed))
        with np.errstate(invalid="ignore"):
            margin = scored(draws, finals[best], visits[best]) - scored(
                draws, fixed_final, fixed_visits
            )
        margin = margin[np.isfinite(margin)]
        quantile = 1.0 - self.confidence if self.risk == "strict" else MODEL_QUANTILE
        lower = float(np.quantile(margin, quantile)) if margin.size else -np.inf
        return {
            "policies": policies,
            "by_candidate": by_candidate,
            "lower": lower,
            "quantile": quantile,
            "tau2": model.tau2,
        }

    def _select(self, lowers: Sequence[float], means: Sequence[float]) -> int:
        """The candidate kept: the best lower bound (a hook for studies; see the benchmark)."""
        return int(np.argmax(lowers))

    def _start_report(self, data: ReplayDataset) -> None:
        self.report = {"signal": self._signal_label(), "n_rows": data.n_rows}
        if self.combiner is not None:
            self.report["combiner_weights"] = dict(
                zip(self.combiner.signals, self.combiner.weights.round(4).tolist(), strict=True)
            )

    def _signal_label(self) -> str:
        return self.signal if isinstance(self.signal, str) else "+".join(self.signal)

    def _routing_values(self, data: ReplayDataset) -> np.ndarray:
        return self.observations(data)

    def _held_out_routing(
        self, data: ReplayDataset, costs: CostSpec, candidates: Sequence[Objective]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Routing of every row by a fit that did not see it.

        Returns the stop tiers ``(candidates, repeats, n)`` and the tiers called
        ``(candidates, repeats, n, tiers)``.
        """
        n, t = data.n_rows, data.n_tiers
        folds = min(self.folds, data.n_groups)
        rng = np.random.default_rng(self.seed)
        out = np.full((len(candidates), self.repeats, n), t - 1, dtype=np.intp)
        visits = np.ones((len(candidates), self.repeats, n, t), dtype=bool)
        self._held_obs = np.full((self.repeats, n), np.nan)
        for r in range(self.repeats):
            fold = data.fold_of_rows(folds, rng)  # copies of one observation: one fold
            for f in range(folds):
                test_idx = np.flatnonzero(fold == f)
                train_idx = np.flatnonzero(fold != f)
                if train_idx.size < 2 or test_idx.size == 0:
                    continue
                train, test = data.subset(train_idx), data.subset(test_idx)
                part = Calibrated(
                    self.policy, signal=self.signal, robust=False, l2=self.l2, target=self.target
                )
                part._fit_signal(train)
                train_obs = train.with_confidences(part.observations(train))
                test_obs = test.with_confidences(part.observations(test))
                self._held_obs[r, test_idx] = test_obs.confidences[:, 0]
                for c, objective in enumerate(candidates):
                    policy = _clone(self.policy)
                    policy._fit(train_obs, costs, objective, None)
                    routing = policy.route_paths(test_obs)
                    out[c, r, test_idx] = routing.final
                    visits[c, r, test_idx] = routing.visited
        return out, visits

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
            "risk": self.risk,
            "check": self.check,
            "l2": self.l2,
            "seed": self.seed,
            "target": self.target,
            "combiner": None if self.combiner is None else self.combiner.to_dict(),
            "fallback": self.fallback,
            "report": self.report,
            "verifier_twin": None if self.verifier_twin is None else self.verifier_twin.to_dict(),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Calibrated:
        """Rebuild from :meth:`get_params` output, refusing values of the wrong JSON type."""
        spec = {
            "policy": _policy_param,
            "signal": _signal_param,
            "robust": as_bool,
            "folds": as_int,
            "repeats": as_int,
            "min_gain": as_float,
            "confidence": as_float,
            "risk": as_str,
            "check": as_str,
            "l2": as_float,
            "seed": as_int,
            "target": as_str,
            "combiner": optional(as_mapping),
            "fallback": optional(as_str),
            "report": as_mapping,
            "verifier_twin": optional(as_mapping),
        }
        params = dict(params)
        # policy files written before the risk option held the strict rule
        params.setdefault("risk", "strict")
        # and those written before the check option, the held-out rule
        params.setdefault("check", "held_out")
        return cls(**checked(params, spec))

    def describe(self) -> str:
        """E.g. ``calibrated[answer_min_prob](threshold(<0.31))`` or ``...->always-escalate``."""
        inner = f"always-{self.fallback}" if self.fallback else self.policy.describe()
        return f"{self.name}[{self._signal_label()}]({inner})"

    def __repr__(self) -> str:
        return f"Calibrated({self.policy!r}, signal={self.signal!r}, fallback={self.fallback!r})"
