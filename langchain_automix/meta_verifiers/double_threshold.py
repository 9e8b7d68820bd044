"""Double threshold: escalate only a middle band of verifier confidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_bool, as_float, as_int, checked, optional
from langchain_automix.meta_verifiers._fitting import (
    Frontier,
    band_frontier,
    band_frontier_tiers,
    choose_point,
)
from langchain_automix.meta_verifiers.base import (
    Decision,
    MetaVerifier,
    Observation,
    current_confidence,
    register_meta_verifier,
)
from langchain_automix.meta_verifiers.threshold import (
    N_TIER_CANDIDATES,
    band_points,
    candidate_values,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["DoubleThreshold"]


@register_meta_verifier
class DoubleThreshold(MetaVerifier):
    """Escalate when ``low <= confidence <= high`` (``< high`` if not ``inclusive``).

    Very low confidence often marks queries no model can answer ("hopeless"), so
    escalating them wastes money; very high confidence marks answers that are right.
    The band in between is escalated. :meth:`fit` searches all pairs ``low < high`` of
    the candidate values: the observed confidences plus 0 and 1, or with ``grid`` the
    library's points ``i / grid`` for ``i = 0 .. grid - 1`` (they stop short of 1), so
    that ``DoubleThreshold(grid=8)`` reproduces automix-llm's ``DoubleThreshold(num_bins=8)``.

    Both ends are included by default, the paper library's convention. That also makes
    every fitted band span at least two candidate values: a half-open band ``[low,
    high)`` may hold a single confidence value, and the single value whose rows happen
    to gain most on the training rows is noise more often than not. Over 30 seeds of
    ``benchmarks/bench_default_fit.py``'s cells, the inclusive fit scored higher test
    ΔIBC on 11 of 12 cells (+3 to +20 points; docs/meta-verifiers.md). Policy files
    keep the convention they were fitted with (files without the field: half-open).

    Example:
        >>> from langchain_automix.meta_verifiers.base import Observation
        >>> policy = DoubleThreshold(0.25, 0.75)
        >>> [policy.decide(Observation(0, 2, c, 8, 8)) for c in (0.125, 0.5, 0.875)]
        ['accept', 'escalate', 'accept']
    """

    name: ClassVar[str] = "double_threshold"

    def __init__(
        self,
        low: float = 0.25,
        high: float = 0.75,
        *,
        inclusive: bool = True,
        grid: int | None = None,
    ) -> None:
        low, high = float(low), float(high)
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={low!r}, high={high!r}")
        if grid is not None and (isinstance(grid, bool) or int(grid) < 1):
            raise ValueError(f"grid must be a positive integer, got {grid!r}")
        self.low, self.high = low, high
        self.inclusive = bool(inclusive)
        self.grid = None if grid is None else int(grid)

    def decide(self, observation: Observation) -> Decision:
        """Escalate inside the band."""
        c = observation.confidence
        inside = self.low <= c and (c <= self.high if self.inclusive else c < self.high)
        return "escalate" if inside else "accept"

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`."""
        c = current_confidence(confidences)
        upper = c <= self.high if self.inclusive else c < self.high
        return np.asarray((c >= self.low) & upper)

    def _pairs(self, data: ReplayDataset) -> np.ndarray:
        if self.grid is not None:
            v = band_points(self.grid)
        else:
            cap = 512 if data.n_tiers == 2 else N_TIER_CANDIDATES
            v = candidate_values(data.confidences.reshape(-1), None, cap)
        i, j = np.triu_indices(v.size, k=1)
        return np.stack([v[i], v[j]], axis=1)

    def _sweep(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None, pairs: np.ndarray
    ) -> Frontier:
        if data.n_tiers == 2:
            return band_frontier(
                data.confidences[:, 0],
                data.scores,
                pairs[:, 0],
                pairs[:, 1],
                inclusive=self.inclusive,
                costs=costs,
                forced=forced,
            )
        return band_frontier_tiers(
            data.confidences,
            data.scores,
            pairs[:, 0],
            pairs[:, 1],
            inclusive=self.inclusive,
            costs=costs,
            forced=forced,
        )

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        pairs = self._pairs(data)
        front = self._sweep(data, costs, forced, pairs)
        lo, hi = pairs[choose_point(front, objective, data, costs)]
        self.low, self.high = float(lo), float(hi)

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        return self._sweep(data, costs, forced, self._pairs(data))

    def get_params(self) -> dict[str, Any]:
        """Band ends, tie convention and candidate grid."""
        return {"low": self.low, "high": self.high, "inclusive": self.inclusive, "grid": self.grid}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DoubleThreshold:
        """Rebuild from :meth:`get_params` output, refusing values of the wrong JSON type."""
        spec = {
            "low": as_float,
            "high": as_float,
            "inclusive": as_bool,
            "grid": optional(as_int),
        }
        params = dict(params)
        # files written before the inclusive default were fitted with half-open bands
        params.setdefault("inclusive", False)
        return cls(**checked(params, spec))

    def describe(self) -> str:
        """E.g. ``double_threshold([0.25,0.75])`` (``[0.25,0.75)`` when half-open)."""
        close = "]" if self.inclusive else ")"
        return f"{self.name}([{self.low:g},{self.high:g}{close})"

    def __repr__(self) -> str:
        return (
            f"DoubleThreshold(low={self.low!r}, high={self.high!r}, "
            f"inclusive={self.inclusive!r}, grid={self.grid!r})"
        )
