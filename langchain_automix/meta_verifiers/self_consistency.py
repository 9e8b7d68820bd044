"""Self-consistency: keep the answer only when most verifier samples call it correct."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from langchain_automix.meta_verifiers.base import register_meta_verifier
from langchain_automix.meta_verifiers.threshold import Threshold

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Frontier, Objective

__all__ = ["SelfConsistency"]


@register_meta_verifier
class SelfConsistency(Threshold):
    """Majority vote of the verifier samples; nothing is learned from data.

    A query escalates unless a strict majority of the valid samples said "Correct",
    i.e. when ``confidence <= 0.5`` (``inclusive=True``, the paper library's
    convention); ``inclusive=False`` escalates only below 0.5 (ties accepted).
    :meth:`fit` leaves the threshold unchanged.

    Example:
        >>> from langchain_automix.meta_verifiers.base import Observation, register_meta_verifier
        >>> SelfConsistency().decide(Observation(0, 2, confidence=0.5, n_valid=8, n_samples=8))
        'escalate'
    """

    name: ClassVar[str] = "self_consistency"

    def __init__(
        self, threshold: float = 0.5, *, inclusive: bool = True, grid: int | None = None
    ) -> None:
        super().__init__(threshold, inclusive=inclusive, grid=grid)

    def _fit(
        self,
        data: ReplayDataset,
        costs: CostSpec,
        objective: Objective,
        forced: np.ndarray | None,
    ) -> None:
        return None

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        return self._sweep(data, costs, forced, np.array([self.threshold]))
