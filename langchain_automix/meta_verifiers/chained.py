"""Chained AutoMix: a two-model meta-verifier per pair of adjacent tiers (paper baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_mapping, checked, optional
from langchain_automix.meta_verifiers.base import (
    MetaVerifier,
    Observation,
    Target,
    current_confidence,
    register_meta_verifier,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Objective

__all__ = ["Chained"]


def _copy(policy: MetaVerifier) -> MetaVerifier:
    return MetaVerifier.from_dict(policy.to_dict())


def _policies(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"{field} must be a list of policies, got {type(value).__name__}")
    return [dict(as_mapping(v, f"{field}[{i}]")) for i, v in enumerate(value)]


@register_meta_verifier
class Chained(MetaVerifier):
    """Two-model AutoMix applied at every step of a longer cascade.

    The paper's "chained AutoMix" baseline for three models: one copy of ``base`` is
    fitted per pair of adjacent tiers ``(t, t + 1)`` on that pair alone (its two
    columns, costs and verifier), and at tier ``t`` it decides to accept or call
    tier ``t + 1``. It never skips a tier; compare it with :class:`POMDP`, which can.
    On a two-tier cascade it is ``base`` itself.

    Example:
        >>> from langchain_automix.meta_verifiers import Threshold
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> data = ReplayDataset.from_arrays(
        ...     [[1, 1, 1], [0, 1, 1], [0, 0, 1]] * 10,
        ...     [[0.9, 0.9], [0.1, 0.9], [0.1, 0.1]] * 10)
        >>> chained = Chained(Threshold()).fit(data, costs=(1, 10, 50))
        >>> chained.route(data)[:3].tolist()
        [0, 1, 2]
    """

    name: ClassVar[str] = "chained"

    def __init__(
        self,
        base: MetaVerifier | None = None,
        *,
        members: Sequence[MetaVerifier] | None = None,
    ) -> None:
        if base is None:
            from langchain_automix.meta_verifiers.pomdp import POMDP

            base = POMDP()
        if not isinstance(base, MetaVerifier):
            raise TypeError(f"base must be a MetaVerifier, got {type(base).__name__}")
        self.base = base
        self.members: list[MetaVerifier] = list(members or ())
        if not all(isinstance(m, MetaVerifier) for m in self.members):
            raise TypeError("Chained members must be MetaVerifier instances")

    def _member(self, tier: int, n_tiers: int) -> MetaVerifier:
        if not self.members:
            raise RuntimeError("Chained is not fitted: call fit() or load()")
        if len(self.members) != n_tiers - 1:
            raise ValueError(
                f"this Chained policy was fitted on {len(self.members) + 1} tiers, not {n_tiers}"
            )
        return self.members[tier]

    def reads_verifier(self) -> bool:
        """Whether any member reads the verification."""
        return any(m.reads_verifier() for m in (self.members or [self.base]))

    def decide(self, observation: Observation) -> Target:
        """The member of this tier's pair decides from this tier's confidence."""
        member = self._member(observation.tier, observation.n_tiers)
        pair = replace(
            observation,
            tier=0,
            n_tiers=2,
            confidences=(observation.confidence,),
            signals=observation.signals[-1:],
            tiers=(),
        )
        return member.decide(pair)

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`."""
        member = self._member(tier, n_tiers)
        return member.decide_batch(
            current_confidence(confidences), tier=0, n_tiers=2, answers=answers
        )

    def _pairs(self, data: ReplayDataset, costs: CostSpec) -> list[tuple[ReplayDataset, Any]]:
        from langchain_automix.calibration.metrics import CostSpec

        out = []
        for t in range(data.n_tiers - 1):
            pair = data.select_tiers([t, t + 1])
            spec = CostSpec.make(
                (costs.unit_costs[t], costs.unit_costs[t + 1]), (costs.verify_costs[t],)
            )
            out.append((pair, spec))
        return out

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        members = []
        for pair, spec in self._pairs(data, costs):
            member = _copy(self.base)
            member._fit(pair, spec, objective, None)
            members.append(member)
        self.members = members

    # ------------------------------------------------------------ serialisation
    def get_params(self) -> dict[str, Any]:
        """The base policy and the fitted members as nested policy dicts."""
        return {"base": self.base.to_dict(), "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Chained:
        """Rebuild the base and members from their nested policy dicts."""
        p = checked(params, {"base": optional(as_mapping), "members": optional(_policies)})
        base = MetaVerifier.from_dict(dict(p["base"])) if p.get("base") else None
        members = [MetaVerifier.from_dict(d) for d in p.get("members") or []]
        return cls(base, members=members)

    def describe(self) -> str:
        """E.g. ``chained(pomdp(lam=0.01), pomdp(lam=0.004))``."""
        inner = self.members or [self.base]
        return f"{self.name}({', '.join(m.describe() for m in inner)})"

    def __repr__(self) -> str:
        return f"Chained({self.base!r})"
