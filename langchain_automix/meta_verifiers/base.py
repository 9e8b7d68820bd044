"""The meta-verifier interface: noisy verifier observations in, accept or escalate out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

Decision = Literal["accept", "escalate"]
"""What a meta-verifier decides for one answer."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What a meta-verifier sees about one tier's answer to one query.

    Example:
        >>> obs = Observation(tier=0, n_tiers=2, confidence=0.75, n_valid=8, n_samples=8)
        >>> obs.is_final
        False
    """

    tier: int
    """Index of the tier whose answer is judged (0 = cheapest)."""
    n_tiers: int
    """Number of tiers in the cascade."""
    confidence: float
    """Share of valid verifier samples that said "Correct" (0.0 when none was valid)."""
    n_valid: int
    """How many verifier samples were valid (contained the decision phrase)."""
    n_samples: int
    """How many verifier samples were drawn."""
    answer: str | None = None
    """The answer being judged, for answer-aware policies such as ``FixedAnswerRouting``."""
    confidences: tuple[float, ...] = ()
    """Confidences of every tier verified so far for this query, this tier's last."""

    @property
    def is_final(self) -> bool:
        """Whether this is the last tier (whose answer is always kept)."""
        return self.tier >= self.n_tiers - 1


class MetaVerifier(ABC):
    """Decides from a noisy self-verification whether to keep an answer or escalate.

    Subclasses implement :meth:`decide`; the fitted policies in this package also
    vectorise over whole replay datasets. ``name`` is the key in the registry.
    """

    name: ClassVar[str] = "meta_verifier"

    @abstractmethod
    def decide(self, observation: Observation) -> Decision:
        """Return ``"accept"`` to keep the answer or ``"escalate"`` to ask the next tier."""

    async def adecide(self, observation: Observation) -> Decision:
        """Async twin of :meth:`decide` (decisions are CPU-only, so it just calls it)."""
        return self.decide(observation)

    def describe(self) -> str:
        """A short human-readable description used in traces."""
        return self.name
