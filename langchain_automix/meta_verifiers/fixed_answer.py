"""FixedAnswerRouting: always escalate some small-model answers, defer otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from langchain_automix._checks import as_bool, as_mapping, as_str_list, checked, require
from langchain_automix.meta_verifiers.base import (
    MetaVerifier,
    Observation,
    Target,
    register_meta_verifier,
)

if TYPE_CHECKING:
    from langchain_automix.calibration.metrics import CostSpec
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.meta_verifiers._fitting import Frontier, Objective

__all__ = ["FixedAnswerRouting"]


@register_meta_verifier
class FixedAnswerRouting(MetaVerifier):
    """Escalate whenever the answer is one of ``answers``; otherwise ask ``method``.

    Useful when the small model has a tell-tale "give up" answer (e.g.
    ``"unanswerable"``) that its verifier tends to rate as correct. Answers are compared
    after stripping whitespace and case-folding unless ``normalize=False``. Fitting
    fits ``method`` with the forced escalations already counted.

    Example:
        >>> from langchain_automix.meta_verifiers import Threshold
        >>> policy = FixedAnswerRouting(Threshold(0.5), ["unanswerable"])
        >>> policy.decide(Observation(0, 2, 1.0, 8, 8, answer=" Unanswerable"))
        'escalate'
        >>> policy.decide(Observation(0, 2, 1.0, 8, 8, answer="Paris"))
        'accept'
    """

    name: ClassVar[str] = "fixed_answer_routing"

    def __init__(
        self,
        method: MetaVerifier | None = None,
        answers: Iterable[str] = ("unanswerable",),
        *,
        normalize: bool = True,
    ) -> None:
        if method is None:
            from langchain_automix.meta_verifiers.threshold import Threshold

            method = Threshold()
        if not isinstance(method, MetaVerifier):
            raise TypeError("method must be a MetaVerifier")
        if isinstance(answers, str):
            answers = [answers]
        self.method = method
        self.answers = [str(a) for a in answers]
        self.normalize = bool(normalize)
        self._keys = frozenset(self._norm(a) for a in self.answers)

    def _norm(self, answer: str) -> str:
        return answer.strip().casefold() if self.normalize else answer

    def is_fixed(self, answer: str | None) -> bool:
        """Whether ``answer`` is one of the always-escalated answers."""
        return answer is not None and self._norm(answer) in self._keys

    def decide(self, observation: Observation) -> Target:
        """Escalate listed answers, else defer to the wrapped method."""
        if self.is_fixed(observation.answer):
            return "escalate"
        return self.method.decide(observation)

    def decide_batch(
        self,
        confidences: Any,
        *,
        tier: int = 0,
        n_tiers: int = 2,
        answers: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """Vectorised :meth:`decide`."""
        inner = self.method.decide_batch(confidences, tier=tier, n_tiers=n_tiers, answers=answers)
        if answers is None:
            return inner
        return inner | np.fromiter((self.is_fixed(a) for a in answers), bool, len(answers))

    def _forced(self, data: ReplayDataset, forced: np.ndarray | None) -> np.ndarray:
        mine = np.fromiter((self.is_fixed(a) for a in data.tier_answers(0)), bool, data.n_rows)
        return mine if forced is None else mine | forced

    def _fit(
        self, data: ReplayDataset, costs: CostSpec, objective: Objective, forced: np.ndarray | None
    ) -> None:
        if data.n_tiers != 2:
            self.method._fit(data, costs, objective, forced)
            return
        self.method._fit(data, costs, objective, self._forced(data, forced))

    def _frontier(
        self, data: ReplayDataset, costs: CostSpec, forced: np.ndarray | None
    ) -> Frontier:
        if data.n_tiers != 2:
            return MetaVerifier._frontier(self, data, costs, forced)
        return self.method._frontier(data, costs, self._forced(data, forced))

    def get_params(self) -> dict[str, Any]:
        """The wrapped policy, the answers and the normalisation flag."""
        return {
            "method": self.method.to_dict(),
            "answers": list(self.answers),
            "normalize": self.normalize,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FixedAnswerRouting:
        """Rebuild, including the wrapped policy (values of the wrong JSON type are refused)."""
        spec = {"method": as_mapping, "answers": as_str_list, "normalize": as_bool}
        p = checked(params, spec)
        return cls(
            MetaVerifier.from_dict(dict(require(p, "method"))),
            require(p, "answers"),
            normalize=p.get("normalize", True),
        )

    def describe(self) -> str:
        """E.g. ``fixed_answer_routing(threshold(<0.5))``."""
        return f"{self.name}({self.method.describe()})"

    def __repr__(self) -> str:
        return (
            f"FixedAnswerRouting({self.method!r}, {self.answers!r}, normalize={self.normalize!r})"
        )
