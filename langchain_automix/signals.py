"""Routing signals: what a tier's answer tells about its own correctness.

AutoMix's paper routes on one signal, the share of ``k`` sampled self-verifications
that say "Correct". On small local models that signal can be close to chance, so
every tier attempt also records signals that cost little or nothing:

=====================  ==================================================================
``verifier``           the paper's ``k``-sample self-verification confidence
``logprob_verifier``   P(Correct) of one greedy verification call (one extra call)
``answer_min_prob``    lowest token probability of the answer (free: the solve call)
``answer_mean_prob``   geometric mean of the answer's token probabilities (free)
``answer_first_prob``  probability of the answer's first token (free)
``answer_abstains``    1 when the answer says the question cannot be answered, else 0
``answer_yes_no``      1 when the answer is yes or no, else 0
=====================  ==================================================================

The first five are numbers in ``[0, 1]`` where higher means "more likely correct", so
any meta-verifier can route on any of them (``Calibrated(signal=...)``). The two answer
kinds are read from the answer text (no call; also derived from the answers of replay
rows that predate them): they are indicators for :class:`SignalCombiner`, which learns
from several signals at once how likely the small answer is to be enough. A small model's
"unanswerable" and "yes" are right or wrong in other proportions than its extracted
spans, and its token probabilities mean different things for each kind.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> msg = AIMessage(content="Paris", response_metadata={"logprobs": {"content": [
    ...     {"token": "Par", "logprob": -0.1}, {"token": "is", "logprob": -0.7}]}})
    >>> {k: round(v, 3) for k, v in answer_signals(msg).items()}
    {'answer_min_prob': 0.497, 'answer_mean_prob': 0.67, 'answer_first_prob': 0.905}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from langchain_core.messages import BaseMessage

from langchain_automix._checks import as_float, as_float_list, as_str_list, checked, require
from langchain_automix.answers import is_unanswerable_prediction, normalize_answer

__all__ = [
    "ANSWER_SIGNALS",
    "AUTO",
    "COMBINED",
    "FREE",
    "FREE_SIGNALS",
    "KIND_SIGNALS",
    "SIGNALS",
    "VERIFIER_SIGNALS",
    "SignalCombiner",
    "answer_kind_signals",
    "answer_signals",
    "has_answer_probs",
    "needs_verifier",
    "resolve_auto",
    "token_logprobs",
]

ANSWER_SIGNALS = ("answer_min_prob", "answer_mean_prob", "answer_first_prob")
"""Signals read from the answer call's own token log-probabilities."""

KIND_SIGNALS = ("answer_abstains", "answer_yes_no")
"""Indicators of the answer's kind, read from its text."""

VERIFIER_SIGNALS = ("verifier", "logprob_verifier")
"""Signals that need a verification call after the answer."""

FREE_SIGNALS = (*ANSWER_SIGNALS, *KIND_SIGNALS)
"""Signals that cost no call beyond the answer itself."""

SIGNALS = (*VERIFIER_SIGNALS, *FREE_SIGNALS)
"""Every signal a tier attempt can carry."""

COMBINED = "combined"
"""Name of the learned combination of several signals."""

FREE = "free"
"""Name of the learned combination of the free signals in the training rows: a policy on
it never calls the verifier (the graph skips ``self_verify``'s model call and no
verification cost is charged), so a kept answer costs one small call."""

AUTO = "auto"
"""Fit on ``combined`` when the training rows carry a model signal besides the verifier's
(answer logprobs or the logprob verifier), else on ``verifier``: the default of
``automix fit`` and ``automix evaluate``."""


def has_answer_probs(signal_names: Sequence[str]) -> bool:
    """Whether rows carrying ``signal_names`` have answer token probabilities.

    The :data:`FREE` combination needs them (the answer kinds alone are not enough).

    Example:
        >>> has_answer_probs(["verifier", "answer_yes_no"])
        False
        >>> has_answer_probs(["answer_min_prob"])
        True
    """
    return any(n in ANSWER_SIGNALS for n in signal_names)


def needs_verifier(signals: str | Sequence[str]) -> bool:
    """Whether routing on ``signals`` (a name or names) needs a verification call.

    Example:
        >>> needs_verifier("answer_min_prob"), needs_verifier(["answer_yes_no", "verifier"])
        (False, True)
    """
    names = [signals] if isinstance(signals, str) else list(signals)
    return any(n not in FREE_SIGNALS and n != FREE for n in names)


def resolve_auto(signal_names: Sequence[str]) -> str:
    """What :data:`AUTO` means for rows carrying ``signal_names``.

    Example:
        >>> resolve_auto(["verifier", "answer_abstains"]), resolve_auto(["answer_min_prob"])
        ('verifier', 'combined')
    """
    model_signals = {"logprob_verifier", *ANSWER_SIGNALS}
    return COMBINED if model_signals & set(signal_names) else "verifier"


def token_logprobs(message: BaseMessage) -> list[Mapping[str, Any]]:
    """The per-token logprob entries of a chat message (OpenAI layout), or ``[]``.

    ``ChatOpenAI`` called with ``logprobs=True`` puts them in
    ``response_metadata["logprobs"]["content"]``: one ``{"token", "logprob",
    "top_logprobs"}`` mapping per generated token.
    """
    meta = getattr(message, "response_metadata", None) or {}
    logprobs = meta.get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    return [e for e in content or [] if isinstance(e, Mapping)]


def answer_signals(message: BaseMessage) -> dict[str, float] | None:
    """Token-probability signals of an answer, or None without usable logprobs.

    Whitespace-only tokens (a leading space or a final newline) are left out: they
    say nothing about the answer.
    """
    lps: list[float] = []
    for entry in token_logprobs(message):
        if not str(entry.get("token", "")).strip():
            continue
        lp = entry.get("logprob")
        if isinstance(lp, (int, float)) and not isinstance(lp, bool) and math.isfinite(lp):
            lps.append(min(0.0, float(lp)))
    if not lps:
        return None
    return {
        "answer_min_prob": math.exp(min(lps)),
        "answer_mean_prob": math.exp(sum(lps) / len(lps)),
        "answer_first_prob": math.exp(lps[0]),
    }


def answer_kind_signals(answer: str) -> dict[str, float]:
    """The answer-kind indicators of an answer text.

    Example:
        >>> answer_kind_signals("unanswerable")
        {'answer_abstains': 1.0, 'answer_yes_no': 0.0}
        >>> answer_kind_signals("Yes, it is.")["answer_yes_no"]
        1.0
        >>> answer_kind_signals("no one knows")["answer_yes_no"]
        0.0
    """
    words = normalize_answer(answer).split()
    first = answer.strip().lower()
    yes_no = bool(words) and words[0] in ("yes", "no")
    # "yes", "No.", "Yes, it is." count; a span such as "no one knows" does not
    yes_no = yes_no and (len(words) == 1 or first[len(words[0]) : len(words[0]) + 1] in ",.;:!")
    return {
        "answer_abstains": float(is_unanswerable_prediction(answer)),
        "answer_yes_no": float(yes_no),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(q / (1 - q)))


class SignalCombiner:
    """Calibrated P(answer correct) from several signals: L2-regularised logistic regression.

    Features are the logits of the signals, standardised on the training rows; a
    missing signal (NaN) takes its training mean. The target is the small answer's
    score in ``[0, 1]`` (fractional logistic regression, so F1 works as well as
    0/1 correctness). Fitted with Newton's method in numpy; deterministic.

    Args:
        signals: names of the signals to combine (see :data:`SIGNALS`).
        l2: ridge penalty on the standardised weights (the intercept is not penalised);
            larger is safer on few rows.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 400).astype(float)
        >>> x = np.column_stack([np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, .2, 400), 0, 1),
        ...                      rng.uniform(0, 1, 400)])
        >>> comb = SignalCombiner(["verifier", "answer_min_prob"]).fit(x, y)
        >>> bool(comb.weights[0] > 5 * abs(comb.weights[1]))
        True
        >>> again = SignalCombiner.from_dict(comb.to_dict())
        >>> bool(np.allclose(again.predict(x[:3]), comb.predict(x[:3])))
        True
    """

    def __init__(
        self,
        signals: Sequence[str],
        *,
        l2: float = 1.0,
        means: Sequence[float] | None = None,
        scales: Sequence[float] | None = None,
        fill: Sequence[float] | None = None,
        weights: Sequence[float] | None = None,
        intercept: float = 0.0,
    ) -> None:
        names = [str(s) for s in signals]
        if not names:
            raise ValueError("a SignalCombiner needs at least one signal")
        unknown = [s for s in names if s not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; choose from {list(SIGNALS)}")
        if not (math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be finite and >= 0, got {l2!r}")
        self.signals = tuple(names)
        self.l2 = float(l2)
        d = len(names)
        self.means = np.zeros(d) if means is None else np.asarray(means, float)
        self.scales = np.ones(d) if scales is None else np.asarray(scales, float)
        self.fill = np.full(d, 0.5) if fill is None else np.asarray(fill, float)
        self.weights = np.zeros(d) if weights is None else np.asarray(weights, float)
        self.intercept = float(intercept)
        for name, arr in (("means", self.means), ("scales", self.scales), ("fill", self.fill)):
            if arr.shape != (d,) or not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be {d} finite numbers")
        if self.weights.shape != (d,) or not np.all(np.isfinite(self.weights)):
            raise ValueError(f"weights must be {d} finite numbers")
        if np.any(self.scales <= 0):
            raise ValueError("scales must be positive")

    def _design(self, x: Any) -> np.ndarray:
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1) if len(self.signals) == 1 else arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != len(self.signals):
            raise ValueError(
                f"expected {len(self.signals)} signal column(s) {list(self.signals)}, "
                f"got shape {arr.shape}"
            )
        arr = np.where(np.isnan(arr), self.fill, arr)
        return (_logit(arr) - self.means) / self.scales

    def fit(self, x: Any, y: Any) -> SignalCombiner:
        """Fit on signal columns ``x`` ``(n, len(signals))`` and targets ``y`` in ``[0, 1]``."""
        raw = np.asarray(x, dtype=float)
        if raw.ndim == 1:
            raw = raw.reshape(-1, 1)
        target = np.asarray(y, dtype=float).reshape(-1)
        if raw.shape[0] != target.shape[0] or raw.shape[0] < 2:
            raise ValueError(
                f"need matching rows (at least 2), got {raw.shape[0]} and {target.size}"
            )
        if np.any((target < 0) | (target > 1)) or np.any(np.isnan(target)):
            raise ValueError("targets must be in [0, 1]")
        with np.errstate(invalid="ignore"):
            fill = np.nanmean(raw, axis=0)
        self.fill = np.where(np.isnan(fill), 0.5, fill)
        z = _logit(np.where(np.isnan(raw), self.fill, raw))
        self.means = z.mean(axis=0)
        sd = z.std(axis=0)
        self.scales = np.where(sd > 1e-9, sd, 1.0)
        feats = np.column_stack([np.ones(len(target)), (z - self.means) / self.scales])
        beta = np.zeros(feats.shape[1])
        beta[0] = float(_logit(np.array([target.mean()]))[0])
        penalty = np.full(feats.shape[1], self.l2)
        penalty[0] = 0.0
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-feats @ beta))
            grad = feats.T @ (p - target) + penalty * beta
            hess = (
                (feats * (p * (1 - p))[:, None]).T @ feats
                + np.diag(penalty)
                + 1e-9 * np.eye(feats.shape[1])
            )
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.max(np.abs(step)) < 1e-10:
                break
        self.intercept = float(beta[0])
        self.weights = beta[1:].copy()
        return self

    def predict(self, x: Any) -> np.ndarray:
        """P(correct) for each row of signal columns ``x``."""
        z = self._design(x)
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ self.weights + self.intercept))))

    def predict_one(self, values: Mapping[str, float | None]) -> float:
        """P(correct) from one attempt's named signals (missing ones take their fill)."""
        row = [values.get(s) for s in self.signals]
        return float(self.predict(np.array([[np.nan if v is None else v for v in row]]))[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (round-trip with :meth:`from_dict`)."""
        return {
            "signals": list(self.signals),
            "l2": self.l2,
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "fill": self.fill.tolist(),
            "weights": self.weights.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignalCombiner:
        """Rebuild from :meth:`to_dict` output (values of the wrong JSON type are refused)."""
        spec = {
            "signals": as_str_list,
            "l2": as_float,
            "means": as_float_list,
            "scales": as_float_list,
            "fill": as_float_list,
            "weights": as_float_list,
            "intercept": as_float,
        }
        d = checked(data, spec, "combiner.")
        return cls(
            require(d, "signals", "combiner."),
            l2=d.get("l2", 1.0),
            means=require(d, "means", "combiner."),
            scales=require(d, "scales", "combiner."),
            fill=require(d, "fill", "combiner."),
            weights=require(d, "weights", "combiner."),
            intercept=require(d, "intercept", "combiner."),
        )

    def __repr__(self) -> str:
        w = ", ".join(f"{s}={v:+.2f}" for s, v in zip(self.signals, self.weights, strict=True))
        return f"SignalCombiner({w}, intercept={self.intercept:+.2f})"
