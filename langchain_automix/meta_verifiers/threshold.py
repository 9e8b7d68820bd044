"""Threshold meta-verifier: escalate when the verifier's confidence is too low."""

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
    observation_table,
)
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

__all__ = ["Threshold"]


N_TIER_CANDIDATES = 64
"""With three or more tiers (no exact prefix-sum sweep), a continuous signal's threshold
candidates are at most this many of its quantiles."""


def candidate_values(conf: np.ndarray, grid: int | None, max_values: int = 512) -> np.ndarray:
    """Threshold candidates: the observed values plus 0 and 1, or the grid ``i / grid``.

    More than ``max_values`` distinct values are replaced by that many quantiles.
    """
    if grid is not None:
        return np.arange(grid + 1) * (1.0 / grid)
    values, _ = observation_table(conf, max_values)
    return np.unique(np.concatenate([[0.0], values, [1.0]]))


def band_points(grid: int) -> np.ndarray:
    """The paper library's band ends ``i / grid`` for ``i = 0 .. grid - 1`` (short of 1).

    automix-llm's ``DoubleThreshold`` and ``TripleThreshold`` search these; its
    ``Threshold`` also includes 1 (:func:`candidate_values`).
    """
    return np.arange(grid) * (1.0 / grid)


@register_meta_verifier
class Threshold(MetaVerifier):
    """Escalate when the verifier confidence is below a threshold.

    With ``k`` verifier samples the confidence takes only ``k + 1`` values, so ties
    with the threshold are common. By default a query escalates when
    ``confidence < threshold`` (a confidence equal to the threshold is accepted).
    The paper's library escalates at ``confidence <= threshold``; pass
    ``inclusive=True`` for that convention.

    :meth:`fit` picks the threshold among candidates: the observed confidence values
    (plus 0 and 1) by default, or the library's grid ``i / grid`` for ``i = 0..grid``
    when ``grid`` is given. Ties go to the smallest threshold, as in the library.

    Example:
        >>> from langchain_automix.meta_verifiers.base import Observation
        >>> Threshold(0.5).decide(Observation(0, 2, confidence=0.5, n_valid=8, n_samples=8))
        'accept'
        >>> Threshold(0.5, inclusive=True).decide(
        ...     Observation(0, 2, confidence=0.5, n_valid=8, n_samples=8))
        'escalate'
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> data = ReplayDataset.from_arrays([[1, 1], [0, 1], [0, 1]], [[0.9], [0.2], [0.4]])
        >>> Threshold().fit(data).threshold
        0.9
    """

    name: ClassVar[str] = "threshold"

    def __init__(
        self, threshold: float = 0.5, *, inclusive: bool = False, grid: int | None = None
    ) -> None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be between 0.0 and 1.0, got {threshold!r}")
        if grid is not None and (isinstance(grid, bool) or int(grid) < 1):
            raise ValueError(f"grid must be a positive integer, got {grid!r}")
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)
        self.grid = None if grid is None else int(grid)

    def decide(self, observation: Observation) -> Decision:
        """Escalate when the confidence is below (or at, if inclusive) the threshold."""
        c = observation.confidence
        low = c <= self.threshold if self.inclusive else c < self.threshold
        return "escalate" if low else "accept"

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide` (only this tier's confidence matters)."""
        c = current_confidence(confidences)
        return np.asarray(c <= self.threshold if self.inclusive else c < self.threshold)

    # ------------------------------------------------------------------ fitting
    def _candidates(self, data: ReplayDataset) -> np.ndarray:
        cap = 512 if data.n_tiers == 2 else N_TIER_CANDIDATES
        return candidate_values(data.confidences.reshape(-1), self.grid, cap)

    def _sweep(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        forced: np.ndarray | None,
        cands: np.ndarray,
    ) -> Frontier:
        if data.n_tiers == 2:
            return band_frontier(
                data.confidences[:, 0],
                data.scores,
                None,
                cands,
                inclusive=self.inclusive,
                costs=costs,
                forced=forced,
            )
        return band_frontier_tiers(
            data.confidences,
            data.scores,
            None,
            cands,
            inclusive=self.inclusive,
            costs=costs,
            forced=forced,
        )

    def _fit(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        forced: np.ndarray | None,
    ) -> None:
        cands = self._candidates(data)
        front = self._sweep(data, costs, forced, cands)
        self.threshold = float(cands[choose_point(front, objective, data, costs)])

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        return self._sweep(data, costs, forced, self._candidates(data))

    # ------------------------------------------------------------ serialisation
    def get_params(self) -> dict[str, Any]:
        """Threshold, tie convention and candidate grid."""
        return {"threshold": self.threshold, "inclusive": self.inclusive, "grid": self.grid}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Threshold:
        """Rebuild from :meth:`get_params` output, refusing values of the wrong JSON type."""
        spec = {"threshold": as_float, "inclusive": as_bool, "grid": optional(as_int)}
        return cls(**checked(params, spec))

    def describe(self) -> str:
        """E.g. ``threshold(<0.5)``."""
        op = "<=" if self.inclusive else "<"
        return f"{self.name}({op}{self.threshold:g})"

    def __repr__(self) -> str:
        extra = "" if self.grid is None else f", grid={self.grid!r}"
        return (
            f"{type(self).__name__}(threshold={self.threshold!r}, "
            f"inclusive={self.inclusive!r}{extra})"
        )
