"""AutomixUnion: fit several meta-verifiers and keep the one the objective prefers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_int, as_mapping, checked, optional, require
from langchain_automix.meta_verifiers._fitting import Frontier, choose_point
from langchain_automix.meta_verifiers.base import (
    MetaVerifier,
    Observation,
    Routing,
    Target,
    register_meta_verifier,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["AutomixUnion"]


def _default_members() -> list[MetaVerifier]:
    from langchain_automix.meta_verifiers.double_threshold import DoubleThreshold
    from langchain_automix.meta_verifiers.pomdp import POMDP, GreedyPOMDP
    from langchain_automix.meta_verifiers.threshold import Threshold

    return [POMDP(), GreedyPOMDP(), DoubleThreshold(), Threshold()]


def _policy_list(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list of policies, got {type(value).__name__}")
    return [dict(as_mapping(v, f"{field}[{i}]")) for i, v in enumerate(value)]


@register_meta_verifier
class AutomixUnion(MetaVerifier):
    """Fit every member and decide with the one whose training point is best.

    The paper library's ``POMDP`` is such a union (of a POMDP heuristic, the greedy
    POMDP, a double and a single threshold) searched on the training rows. The default
    members here are ``POMDP``, ``GreedyPOMDP``, ``DoubleThreshold`` and ``Threshold``.

    Example:
        >>> from langchain_automix.meta_verifiers import SelfConsistency, Threshold
        >>> union = AutomixUnion(Threshold(0.3), SelfConsistency())
        >>> union.chosen is None
        True
    """

    name: ClassVar[str] = "automix_union"

    def __init__(self, *methods: MetaVerifier, chosen: int | None = None) -> None:
        members = list(methods) if methods else _default_members()
        if not all(isinstance(m, MetaVerifier) for m in members):
            raise TypeError("AutomixUnion members must be MetaVerifier instances")
        if chosen is not None and not 0 <= int(chosen) < len(members):
            raise ValueError(f"chosen must index a member, got {chosen!r}")
        self.methods = members
        self.chosen: int | None = None if chosen is None else int(chosen)

    def _member(self) -> MetaVerifier:
        if self.chosen is None:
            raise RuntimeError("AutomixUnion is not fitted: call fit() or load()")
        return self.methods[self.chosen]

    def decide(self, observation: Observation) -> Target:
        """Decide with the chosen member."""
        return self._member().decide(observation)

    def route_paths(self, data: ReplayDataset) -> Routing:
        """Routing of the chosen member."""
        return self._member().route_paths(data)

    def targets_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
        tiers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Target tiers of the chosen member (which may skip tiers)."""
        return self._member().targets_batch(
            confidences, tier=tier, n_tiers=n_tiers, answers=answers, tiers=tiers
        )

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised decision of the chosen member."""
        return self._member().decide_batch(confidences, tier=tier, n_tiers=n_tiers, answers=answers)

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        points, fitted = [], []
        for i, m in enumerate(self.methods):
            try:
                m._fit(data, costs, objective, forced)
            except NotImplementedError:  # a 2-tier-only member on a longer cascade
                continue
            points.append(MetaVerifier._frontier(m, data, costs, forced))
            fitted.append(i)
        if not fitted:
            raise NotImplementedError(
                f"no member of {self.describe()} supports {data.n_tiers}-tier cascades"
            )
        front = Frontier.concat(points)
        self.chosen = fitted[choose_point(front, objective, data, costs)]

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        parts = []
        for m in self.methods:
            try:
                parts.append(m._frontier(data, costs, forced))
            except (NotImplementedError, RuntimeError):  # 2-tier-only, left unfitted
                continue
        return Frontier.concat(parts)

    def get_params(self) -> dict[str, Any]:
        """Members as nested policy dicts and the chosen index."""
        return {"methods": [m.to_dict() for m in self.methods], "chosen": self.chosen}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AutomixUnion:
        """Rebuild members from their nested policy dicts."""
        p = checked(params, {"methods": _policy_list, "chosen": optional(as_int)})
        members = [MetaVerifier.from_dict(d) for d in require(p, "methods")]
        if not members:
            raise ValueError("AutomixUnion needs at least one member")
        return cls(*members, chosen=p.get("chosen"))

    def describe(self) -> str:
        """E.g. ``automix_union->pomdp(lam=0.002)``."""
        if self.chosen is None:
            return f"{self.name}({', '.join(m.describe() for m in self.methods)})"
        return f"{self.name}->{self.methods[self.chosen].describe()}"

    def __repr__(self) -> str:
        return f"AutomixUnion({', '.join(repr(m) for m in self.methods)})"
