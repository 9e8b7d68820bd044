"""Threshold meta-verifier: escalate when the verifier's confidence is too low."""

from __future__ import annotations

from typing import ClassVar

from langchain_automix.meta_verifiers.base import Decision, MetaVerifier, Observation


class Threshold(MetaVerifier):
    """Escalate when the verifier confidence is below a threshold.

    With ``k`` verifier samples the confidence takes only ``k + 1`` values, so ties
    with the threshold are common. By default a query escalates when
    ``confidence < threshold`` (a confidence equal to the threshold is accepted).
    The paper's library escalates at ``confidence <= threshold``; pass
    ``inclusive=True`` for that convention.

    Example:
        >>> from langchain_automix.meta_verifiers.base import Observation
        >>> Threshold(0.5).decide(Observation(0, 2, confidence=0.5, n_valid=8, n_samples=8))
        'accept'
        >>> Threshold(0.5, inclusive=True).decide(
        ...     Observation(0, 2, confidence=0.5, n_valid=8, n_samples=8))
        'escalate'
    """

    name: ClassVar[str] = "threshold"

    def __init__(self, threshold: float = 0.5, *, inclusive: bool = False) -> None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be between 0.0 and 1.0, got {threshold!r}")
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)

    def decide(self, observation: Observation) -> Decision:
        """Escalate when the confidence is below (or at, if inclusive) the threshold."""
        c = observation.confidence
        low = c <= self.threshold if self.inclusive else c < self.threshold
        return "escalate" if low else "accept"

    def describe(self) -> str:
        """E.g. ``threshold(<0.5)``."""
        op = "<=" if self.inclusive else "<"
        return f"{self.name}({op}{self.threshold:g})"

    def __repr__(self) -> str:
        return f"Threshold(threshold={self.threshold!r}, inclusive={self.inclusive!r})"
