"""Triple threshold: escalate very low confidence and a middle band (automix-llm's method)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_bool, as_float, as_int, checked, optional
from langchain_automix.meta_verifiers._fitting import Frontier, band_frontier, choose_point
from langchain_automix.meta_verifiers.base import (
    Decision,
    MetaVerifier,
    Observation,
    current_confidence,
    register_meta_verifier,
)
from langchain_automix.meta_verifiers.threshold import band_points, candidate_values

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["TripleThreshold"]

MAX_CANDIDATES = 48
"""Distinct candidate values of a fit without ``grid`` (48 values: 17,296 triples)."""


@register_meta_verifier
class TripleThreshold(MetaVerifier):
    """Escalate when ``confidence <= low`` or ``mid <= confidence < high``.

    The paper library's ``TripleThreshold``: two escalation bands, the lowest
    confidences and a middle band, with the answers between them and above ``high``
    kept. ``inclusive=True`` is the library's convention (``mid <= c <= high``; the low
    band is ``c <= low`` either way). :meth:`fit` searches all triples ``low < mid <
    high`` of the candidate values: with ``grid`` the library's points ``i / grid`` for
    ``i = 0 .. grid - 1`` (its candidates stop short of 1), else the observed
    confidences plus 0 and 1 (at most :data:`MAX_CANDIDATES` quantiles). Two tiers only,
    like the library.

    Example:
        >>> from langchain_automix.meta_verifiers.base import Observation
        >>> policy = TripleThreshold(0.125, 0.5, 0.75)
        >>> [policy.decide(Observation(0, 2, c, 8, 8)) for c in (0.0, 0.25, 0.5, 0.875)]
        ['escalate', 'accept', 'escalate', 'accept']
    """

    name: ClassVar[str] = "triple_threshold"

    def __init__(
        self,
        low: float = 0.25,
        mid: float = 0.5,
        high: float = 0.75,
        *,
        inclusive: bool = False,
        grid: int | None = None,
    ) -> None:
        low, mid, high = float(low), float(mid), float(high)
        if not 0.0 <= low <= mid <= high <= 1.0:
            raise ValueError(
                f"need 0 <= low <= mid <= high <= 1, got low={low!r}, mid={mid!r}, high={high!r}"
            )
        if grid is not None and (isinstance(grid, bool) or int(grid) < 1):
            raise ValueError(f"grid must be a positive integer, got {grid!r}")
        self.low, self.mid, self.high = low, mid, high
        self.inclusive = bool(inclusive)
        self.grid = None if grid is None else int(grid)

    def decide(self, observation: Observation) -> Decision:
        """Escalate inside either band."""
        escalate = self.decide_batch(np.array([observation.confidence]))[0]
        return "escalate" if escalate else "accept"

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
        return np.asarray((c <= self.low) | ((c >= self.mid) & upper))

    def _triples(self, data: ReplayDataset) -> np.ndarray:
        if self.grid is not None:
            v = band_points(self.grid)
        else:
            v = candidate_values(data.confidences.reshape(-1), None, MAX_CANDIDATES)
        i, j, k = (a.reshape(-1) for a in np.meshgrid(*(np.arange(v.size),) * 3, indexing="ij"))
        keep = (i < j) & (j < k)  # lexicographic order, as the library generates them
        return np.stack([v[i[keep]], v[j[keep]], v[k[keep]]], axis=1)

    def _sweep(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None, t: np.ndarray
    ) -> Frontier:
        if data.n_tiers != 2:
            raise ValueError(
                f"TripleThreshold routes two tiers (like automix-llm's); got {data.n_tiers}"
            )
        conf, scores = data.confidences[:, 0], data.scores
        # the bands are disjoint (low < mid), so their escalations add up; each band's
        # frontier also counts the forced rows, which are taken out of one of them
        low = band_frontier(conf, scores, None, t[:, 0], inclusive=True, costs=costs, forced=forced)
        band = band_frontier(
            conf, scores, t[:, 1], t[:, 2], inclusive=self.inclusive, costs=costs, forced=forced
        )
        n = scores.shape[0]
        n_forced = 0.0 if forced is None else float(forced.sum())
        g_forced = 0.0 if forced is None else float((scores[forced, 1] - scores[forced, 0]).sum())
        share = low.llm_call_share + band.llm_call_share - n_forced / n
        perf = low.avg_performance + band.avg_performance - scores[:, 0].mean() - g_forced / n
        stop = costs.stop_costs
        return Frontier(stop[0] + share * (stop[1] - stop[0]), perf, share)

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        triples = self._triples(data)
        front = self._sweep(data, costs, forced, triples)
        low, mid, high = triples[choose_point(front, objective, data, costs)]
        self.low, self.mid, self.high = float(low), float(mid), float(high)

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        return self._sweep(data, costs, forced, self._triples(data))

    def get_params(self) -> dict[str, Any]:
        """Thresholds, tie convention and candidate grid."""
        return {
            "low": self.low,
            "mid": self.mid,
            "high": self.high,
            "inclusive": self.inclusive,
            "grid": self.grid,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TripleThreshold:
        """Rebuild from :meth:`get_params` output, refusing values of the wrong JSON type."""
        spec = {
            "low": as_float,
            "mid": as_float,
            "high": as_float,
            "inclusive": as_bool,
            "grid": optional(as_int),
        }
        return cls(**checked(params, spec))

    def describe(self) -> str:
        """E.g. ``triple_threshold(<=0.25|[0.5,0.75))``."""
        close = "]" if self.inclusive else ")"
        return f"{self.name}(<={self.low:g}|[{self.mid:g},{self.high:g}{close})"

    def __repr__(self) -> str:
        return (
            f"TripleThreshold(low={self.low!r}, mid={self.mid!r}, high={self.high!r}, "
            f"inclusive={self.inclusive!r}, grid={self.grid!r})"
        )
