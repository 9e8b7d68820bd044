"""Structured results: every tier's attempt, the decisions, costs and usage of one query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from langchain_automix.meta_verifiers.base import Decision, Observation

__all__ = ["TRACE_KEY", "AutoMixResult", "TierAttempt", "observation_of"]

TRACE_KEY = "automix"
"""Key of the routing trace in ``AIMessage.response_metadata``."""


class TierAttempt(BaseModel):
    """What one tier did for one query."""

    model_config = ConfigDict(extra="forbid")

    tier: int
    """Index of the tier (0 = cheapest)."""
    model: str
    """Name of the tier's model."""
    answer: str | None = None
    """The tier's answer (None when its call failed)."""
    error: str | None = None
    """The error of a failed answer call, e.g. ``"TimeoutError: ..."``."""
    partial_answer: str | None = None
    """Text the tier streamed to the client before its call failed (only for a final tier
    that failed mid-stream; ``answer`` is then None)."""
    usage: dict[str, int] | None = None
    """Token usage of the answer call."""
    latency_s: float = 0.0
    """Wall time of the answer call."""
    signals: dict[str, float] = Field(default_factory=dict)
    """Routing signals of this answer in ``[0, 1]``, higher = more likely correct: the
    answer's token probabilities (``answer_min_prob``, ``answer_mean_prob``,
    ``answer_first_prob``, when the model returned logprobs) and the verification's
    (``verifier`` or ``logprob_verifier``); see :mod:`langchain_automix.signals`."""
    verifier_confidence: float | None = None
    """Share of valid verifier samples that said "Correct" (None: not verified)."""
    verifier_n_valid: int | None = None
    """Number of valid verifier samples."""
    verifier_n_samples: int | None = None
    """Number of verifier samples asked for."""
    no_valid_sample: bool = False
    """True when verification ran but no sample was valid (confidence then 0)."""
    verifier_samples: list[str] = Field(default_factory=list)
    """Raw verifier samples."""
    verifier_errors: list[str] = Field(default_factory=list)
    """Errors of failed verifier calls (each counts as an invalid sample)."""
    verify_usage: dict[str, int] | None = None
    """Token usage of all verifier calls."""
    verify_latency_s: float = 0.0
    """Wall time of the verification."""
    decision: Decision | None = None
    """The meta-verifier's decision for this tier (None for the final tier)."""
    escalate_to: int | None = None
    """The tier the meta-verifier sent the query to when it skipped tiers (None when it
    accepted or escalated to the next tier)."""
    skipped: bool = False
    """True for a tier the meta-verifier skipped: never called, cost 0."""
    meta_verifier: str | None = None
    """Which meta-verifier decided."""
    explored: bool = False
    """True when the meta-verifier accepted this answer but the query was escalated
    anyway, to observe the next tier's answer (exploration, ``AutoMixRunnable(explore=)``);
    ``decision`` is then ``"escalate"``."""
    explore_rate: float | None = None
    """The exploration rate in force at this decision (None: no exploration): the chance
    that an accepted answer is escalated anyway, i.e. this query's propensity of reaching
    the next tier when the meta-verifier accepted (inverse-propensity weights)."""
    cost: float = 0.0
    """Unit cost spent at this tier: its call plus its verification."""
    money: float | None = None
    """Money spent at this tier, when token prices are configured."""

    def to_replay(self, score: tuple[float, float] | None = None) -> dict[str, Any]:
        """This attempt as a replay row's tier entry (what ``automix collect`` writes).

        Args:
            score: the answer's ``(token F1, exact match)`` against the gold answers
                (:func:`~langchain_automix.collection.scoring.score`); without it the
                entry has no score (a served trace, to be labelled later).

        Example:
            >>> a = TierAttempt(tier=0, model="small", answer="Paris",
            ...                 signals={"verifier": 1.0}, verifier_confidence=1.0)
            >>> e = a.to_replay((1.0, 1.0))
            >>> e["score"], e["verifier_confidence"], e["signals"]
            (1.0, 1.0, {})
            >>> TierAttempt.from_replay(e, tier=0) == a.model_copy(update={"verifier_n_valid": 0,
            ...     "verifier_n_samples": 0})
            True
        """
        entry: dict[str, Any] = {"model": self.model, "answer": self.answer}
        if score is not None:
            entry["score"], entry["exact_match"] = float(score[0]), float(score[1])
        entry["usage"] = self.usage or {}
        entry["latency_s"] = round(float(self.latency_s), 4)
        if self.verifier_confidence is not None:  # a tier that reached a decision
            entry["signals"] = {k: v for k, v in self.signals.items() if k != "verifier"}
        if self.error is not None:
            entry["error"] = self.error
        if self.skipped:
            entry["skipped"] = True
        if self.explore_rate is not None:
            entry["explore_rate"] = float(self.explore_rate)
            entry["explored"] = bool(self.explored)
        if self.verifier_confidence is not None:
            entry.update(
                verifier_confidence=float(self.verifier_confidence),
                verifier_samples=list(self.verifier_samples),
                verifier_n_valid=int(self.verifier_n_valid or 0),
                verifier_errors=list(self.verifier_errors),
                verify_usage=self.verify_usage or {},
                verify_latency_s=round(float(self.verify_latency_s), 4),
            )
        return entry

    @classmethod
    def from_replay(cls, entry: Mapping[str, Any], *, tier: int) -> TierAttempt:
        """The attempt a replay row's tier entry records (inverse of :meth:`to_replay`)."""
        confidence = entry.get("verifier_confidence")
        signals = dict(entry.get("signals") or {})
        if confidence is not None:
            signals["verifier"] = float(confidence)
        samples = list(entry.get("verifier_samples") or [])
        return cls(
            tier=tier,
            model=str(entry.get("model") or f"tier{tier}"),
            answer=entry.get("answer"),
            error=entry.get("error"),
            usage=entry.get("usage") or None,
            latency_s=float(entry.get("latency_s") or 0.0),
            signals=signals,
            verifier_confidence=None if confidence is None else float(confidence),
            verifier_n_valid=entry.get("verifier_n_valid"),
            verifier_n_samples=len(samples) if confidence is not None else None,
            verifier_samples=samples,
            verifier_errors=list(entry.get("verifier_errors") or []),
            verify_usage=entry.get("verify_usage") or None,
            verify_latency_s=float(entry.get("verify_latency_s") or 0.0),
            skipped=bool(entry.get("skipped", False)),
            explored=bool(entry.get("explored", False)),
            explore_rate=None
            if entry.get("explore_rate") is None
            else float(entry["explore_rate"]),
        )


def observation_of(attempts: Sequence[TierAttempt], n_tiers: int) -> Observation:
    """What the meta-verifier sees about the last of ``attempts`` (the graph's view).

    The graph's ``meta_decide`` node builds its observation here, and so does anything
    that re-decides a recorded query offline (e.g. a served trace,
    :func:`~langchain_automix.observability.trace_log.redecide`).

    Example:
        >>> a = TierAttempt(tier=0, model="s", answer="x", verifier_confidence=0.5,
        ...                 verifier_n_valid=8, verifier_n_samples=8)
        >>> observation_of([a], 2).confidence, observation_of([a], 2).tiers
        (0.5, (0,))
    """
    current = attempts[-1]
    verified = [a for a in attempts if a.verifier_confidence is not None]
    return Observation(
        tier=current.tier,
        n_tiers=n_tiers,
        confidence=current.verifier_confidence or 0.0,
        n_valid=current.verifier_n_valid or 0,
        n_samples=current.verifier_n_samples or 0,
        answer=current.answer,
        confidences=tuple(a.verifier_confidence for a in verified),  # type: ignore[misc]
        # every tier that reached a decision: verified, or routed on its free signals alone
        signals=tuple(a.signals for a in attempts if a.error is None and not a.skipped),
        tiers=tuple(a.tier for a in verified),
    )


class AutoMixResult(BaseModel):
    """The full outcome of one AutoMix query.

    The partial result of a failed query (:attr:`AutoMixModelError.partial
    <langchain_automix.errors.AutoMixModelError.partial>`) is coherent with what the
    client received: when the final tier failed after some of its tokens were streamed,
    ``answer`` is that streamed text, ``answered_by`` and ``streamed_tier`` are the final
    tier, and its attempt has ``answer=None``, the ``error`` and the same text as
    ``partial_answer``. When nothing was streamed (``invoke``, or a failure before the
    first token), ``answer`` falls back to the last answer obtained, which the
    meta-verifier may have rejected (see the attempts' ``decision``).

    Example:
        >>> r = AutoMixResult(answer="Paris", answered_by=0, answered_by_model="small",
        ...                   n_tiers=2, attempts=[TierAttempt(tier=0, model="small",
        ...                   answer="Paris", cost=2.0)], total_cost=2.0)
        >>> AutoMixResult.from_message(r.to_message()) == r
        True
    """

    answer: str
    """The final answer."""
    answered_by: int
    """Index of the tier whose answer was kept."""
    answered_by_model: str
    """Name of that tier's model."""
    escalated: bool = False
    """Whether the query went past the first tier."""
    n_tiers: int
    """Number of tiers in the cascade."""
    attempts: list[TierAttempt]
    """Every tier's attempt, in order."""
    total_cost: float
    """Total unit cost of the query (calls plus verifications)."""
    total_money: float | None = None
    """Total money, when token prices are configured."""
    usage: dict[str, int] | None = None
    """Token usage summed over all calls."""
    streamed_tier: int | None = None
    """Tier whose tokens were streamed to the client as they came (``stream``/``astream``
    after an escalation: the final tier); None when the answer was sent whole or not
    streamed."""
    thread_id: str | None = None
    """The query's thread (request) id when it ran with a checkpointer: invoking again
    with ``config={"configurable": {"thread_id": ...}}`` resumes an interrupted run (or
    returns a finished one) without calling the models of the nodes already done. Not in
    the trace of a query without a checkpointer."""
    resumed: bool = False
    """True when this thread already held part or all of the run (a resumed or replayed
    query, see :mod:`langchain_automix.runtime.durable`); left out of the trace when False."""
    spent_this_call: float | None = None
    """For a resumed or replayed durable run: the unit cost of the calls this invocation
    made (``total_cost`` counts the nodes done before too; a finished thread replayed
    costs 0). Budgets are charged on it. None (left out of the trace) otherwise: the
    call spent ``total_cost``."""

    @property
    def cost_per_tier(self) -> list[float]:
        """Unit cost spent at each tier reached."""
        return [a.cost for a in self.attempts]

    def trace(self) -> dict[str, Any]:
        """The JSON-ready routing trace stored in ``response_metadata["automix"]``."""
        data = self.model_dump(mode="json")
        data["cost_per_tier"] = self.cost_per_tier
        if self.thread_id is None:  # durable runs only: other traces are unchanged
            data.pop("thread_id")
        if not self.resumed:
            data.pop("resumed")
        if self.spent_this_call is None:
            data.pop("spent_this_call")
        return data

    def to_replay(
        self, *, id: str, question: str | None, context: str | None = None
    ) -> dict[str, Any]:
        """A served query as a replay row (unscored): one tier entry per attempt made.

        The row's ``"automix"`` holds the full routing trace (:meth:`trace`).

        Label it (add each tier's ``score``; call the tiers it never reached) before
        fitting on it: a replay row needs every tier's score. Written with
        :func:`~langchain_automix.calibration.replay.write_replay`'s JSON Lines layout.

        Example:
            >>> r = AutoMixResult(answer="Paris", answered_by=0, answered_by_model="s",
            ...                   n_tiers=2, total_cost=2.0, attempts=[TierAttempt(
            ...                   tier=0, model="s", answer="Paris", verifier_confidence=0.75)])
            >>> row = r.to_replay(id="q1", question="Capital?")
            >>> row["tiers"][0]["verifier_confidence"], "score" in row["tiers"][0]
            (0.75, False)
        """
        return {
            "id": id,
            "question": question,
            "context": context,
            "tiers": [a.to_replay() for a in self.attempts if not a.skipped],
            # the whole routing trace: the served decisions can be re-made offline
            TRACE_KEY: self.trace(),
        }

    def to_message(self) -> AIMessage:
        """The ``AIMessage`` that ``AutoMixRunnable`` returns for this result."""
        return AIMessage(
            content=self.answer,
            response_metadata={TRACE_KEY: self.trace()},
            usage_metadata=self.usage,
        )

    @classmethod
    def from_message(cls, message: BaseMessage) -> AutoMixResult:
        """Recover the structured result from an ``AutoMixRunnable`` output message."""
        trace = message.response_metadata.get(TRACE_KEY)
        if not isinstance(trace, dict):
            raise ValueError(f"message has no AutoMix trace in response_metadata[{TRACE_KEY!r}]")
        return cls.from_trace(trace)

    @classmethod
    def from_trace(cls, trace: Mapping[str, Any]) -> AutoMixResult:
        """The result a routing trace (:meth:`trace`) records; derived keys are ignored."""
        return cls.model_validate({k: v for k, v in trace.items() if k in cls.model_fields})
