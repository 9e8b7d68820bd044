"""POMDPSimple: automix-llm's category-reward POMDP (NEEDY / GOOD / HOPELESS)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_bool_list, as_float, as_int, checked, optional
from langchain_automix.meta_verifiers._fitting import Frontier, choose_point, table_frontier
from langchain_automix.meta_verifiers.base import (
    Decision,
    MetaVerifier,
    Observation,
    current_confidence,
    register_meta_verifier,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["CATEGORIES", "POMDPSimple", "categories"]

CATEGORIES: tuple[str, str, str] = ("NEEDY", "GOOD", "HOPELESS")
"""The paper's query categories: only the large model is right; the small one is right;
neither is."""

REWARDS = 5000
"""How many reward levels the library sweeps (0 .. 4999) to build candidate policies."""


def categories(scores: np.ndarray, correct_at: float = 0.5) -> np.ndarray:
    """Each row's category index into :data:`CATEGORIES` from the two tiers' scores.

    GOOD when the small answer's score is at least ``correct_at``; else NEEDY when the
    large one's is; else HOPELESS.

    Example:
        >>> categories(np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.2]])).tolist()
        [1, 0, 2]
    """
    small, large = scores[:, 0] >= correct_at, scores[:, -1] >= correct_at
    return np.where(small, 1, np.where(large, 0, 2))


@register_meta_verifier
class POMDPSimple(MetaVerifier):
    """automix-llm's ``POMDPSimple``: one action per confidence bin, from category rewards.

    The confidence axis is cut into ``num_bins + 1`` points ``i / num_bins``; for each
    point, the share of training rows near it (strictly within half a bin) in each
    category is the observation model. For every reward level ``r = 0 .. 4999`` the
    library scores *accept* as ``(-r, 0, -r - 1)`` and *escalate* as ``(-100, -100,
    -r - 100)`` for (NEEDY, GOOD, HOPELESS), takes in each bin the action with the
    higher expected reward (accept on ties), and keeps the distinct action sequences;
    :meth:`fit` picks the sequence the objective prefers on the training rows (the
    library's order, so ties go the same way). A row's bin is the nearest point (a
    midpoint goes up). Two tiers only; categories come from the scores
    (:func:`categories`, ``correct_at``).

    Example:
        >>> policy = POMDPSimple(num_bins=2, actions=[True, False, False])
        >>> [policy.decide(Observation(0, 2, c, 8, 8)) for c in (0.0, 0.5, 1.0)]
        ['escalate', 'accept', 'accept']
    """

    name: ClassVar[str] = "pomdp_simple"

    def __init__(
        self,
        num_bins: int = 8,
        *,
        correct_at: float = 0.5,
        actions: Sequence[bool] | None = None,
    ) -> None:
        if isinstance(num_bins, bool) or int(num_bins) < 1:
            raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}")
        self.num_bins = int(num_bins)
        self.gap = 1 / self.num_bins
        self.correct_at = float(correct_at)
        if actions is not None and len(actions) != self.num_bins + 1:
            raise ValueError(f"actions must have num_bins + 1 = {self.num_bins + 1} entries")
        self.actions: list[bool] | None = None if actions is None else [bool(a) for a in actions]

    # ------------------------------------------------------------------ bins
    def _points(self) -> np.ndarray:
        return self.gap * np.arange(self.num_bins + 1)

    def _bin(self, conf: np.ndarray) -> np.ndarray:
        """The library's nearest point: the first ``i`` with ``-gap/2 <= c - i < gap/2``."""
        points = self._points()
        diff = conf[:, None] - points[None, :]
        hit = (diff < self.gap / 2) & (diff >= -self.gap / 2)
        if not hit.any(axis=1).all():
            bad = conf[~hit.any(axis=1)][:3].tolist()
            raise ValueError(f"confidences must be in [0, 1]; got {bad}")
        first = np.argmax(hit, axis=1)
        return np.asarray(np.floor_divide(points[first], self.gap), dtype=np.intp)

    def _observation_model(self, conf: np.ndarray, cats: np.ndarray) -> np.ndarray:
        probs = np.zeros((self.num_bins + 1, len(CATEGORIES)))
        for i, p in enumerate(self._points()):
            near = (conf - p < self.gap / 2) & (conf - p > -self.gap / 2)
            if near.any():
                probs[i] = np.bincount(cats[near], minlength=len(CATEGORIES)) / near.sum()
        return probs

    def candidates(self, data: ReplayDataset) -> list[tuple[int, ...]]:
        """The distinct action sequences the reward sweep yields, in the library's order."""
        probs = self._observation_model(data.confidences[:, 0], categories(data.scores))
        needy, good, hopeless = probs[:, 0], probs[:, 1], probs[:, 2]
        seqs = []
        for r in range(REWARDS):
            accept = -r * needy + 0 * good + (-r - 1) * hopeless
            escalate = -100 * needy - 100 * good + (-r - 100) * hopeless
            seqs.append(tuple(int(a) for a in (escalate > accept)))
        return list(set(seqs))  # the library's own order, so that ties fall the same way

    # ------------------------------------------------------------------ routing
    def decide(self, observation: Observation) -> Decision:
        """Escalate where the fitted table says so."""
        return "escalate" if self.decide_batch(np.array([observation.confidence]))[0] else "accept"

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`."""
        if self.actions is None:
            raise RuntimeError("POMDPSimple is not fitted: call fit() or pass actions")
        table = np.asarray(self.actions, dtype=bool)
        return np.asarray(table[self._bin(current_confidence(confidences))])

    def _sweep(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None, seqs: list[Any]
    ) -> Frontier:
        if data.n_tiers != 2:
            raise ValueError(
                f"POMDPSimple routes two tiers (like automix-llm's); got {data.n_tiers}"
            )
        masks = np.asarray(seqs, dtype=bool)  # (candidates, bins): a lookup-table family
        rows = self._bin(data.confidences[:, 0])
        return table_frontier(rows, self.num_bins + 1, data.scores, masks, costs, forced)

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        seqs = self.candidates(data)
        best = seqs[choose_point(self._sweep(data, costs, forced, seqs), objective, data, costs)]
        self.actions = [bool(a) for a in best]

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        return self._sweep(data, costs, forced, self.candidates(data))

    def get_params(self) -> dict[str, Any]:
        """Bins, the correctness cut and the fitted action table."""
        return {"num_bins": self.num_bins, "correct_at": self.correct_at, "actions": self.actions}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> POMDPSimple:
        """Rebuild from :meth:`get_params` output, refusing values of the wrong JSON type."""
        spec = {"num_bins": as_int, "correct_at": as_float, "actions": optional(as_bool_list)}
        return cls(**checked(params, spec))

    def describe(self) -> str:
        """E.g. ``pomdp_simple(escalate 3/9 bins)``."""
        if self.actions is None:
            return self.name
        return f"{self.name}(escalate {sum(self.actions)}/{len(self.actions)} bins)"

    def __repr__(self) -> str:
        return f"POMDPSimple(num_bins={self.num_bins!r}, correct_at={self.correct_at!r})"
