"""One tier's step: answer the question, verify the answer; both give a ``TierAttempt``.

The graph's nodes (live routing), ``automix collect`` (replay data) and the demo all
record a tier through these functions, so an attempt means the same thing everywhere:
the same rule for empty answers, the same verification fields, and one mapping to a
replay row's tier entry (:meth:`TierAttempt.to_replay`).

* :func:`answered` / :func:`verified`: the pure records of a call's outcome.
* :func:`answer` / :func:`aanswer`: call a tier for its answer.
* :func:`verify_attempt` / :func:`averify_attempt`: have a tier verify an attempt's
  answer (``k`` samples, or one logprob call, as ``settings.method`` says).

Costs and money are the caller's: the graph prices an attempt from its cost model, a
replay row carries none.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> model = FakeListChatModel(responses=[
    ...     "Paris", "Verification Decision: The AI generated answer is Correct."])
    >>> a = answer(model, tier=0, name="small", question="Capital?", context="Paris.")
    >>> a = verify_attempt(a, model, question="Capital?", context="Paris.",
    ...                    settings=VerifierSettings(k=1))
    >>> a.answer, a.verifier_confidence, a.to_replay((1.0, 1.0))["score"]
    ('Paris', 1.0, 1.0)
"""

from __future__ import annotations

from typing import Any

from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_automix._model_utils import flat_usage
from langchain_automix.runtime.result import TierAttempt
from langchain_automix.runtime.solving import ChunkSink, SolveResult, asolve, solve
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    averify,
    verify,
)
from langchain_automix.runtime.verification_logprob import (
    alogprob_verify_settings,
    logprob_verify_settings,
)
from langchain_automix.signals import answer_kind_signals

__all__ = [
    "EMPTY_ANSWER_ERROR",
    "aanswer",
    "answer",
    "answered",
    "averify_attempt",
    "verified",
    "verify_attempt",
]

EMPTY_ANSWER_ERROR = "EmptyAnswer: the model returned an empty answer"
"""The error recorded on a non-final tier's attempt whose answer is empty or blank; the
query escalates at once, as after a failed call (and is not verified)."""


def answered(out: SolveResult | BaseException, *, tier: int, name: str, final: bool) -> TierAttempt:
    """The attempt of a tier's answer call: its answer, usage and signals, or its error.

    An empty answer of a non-final tier is no answer: the attempt carries
    :data:`EMPTY_ANSWER_ERROR` (a verifier that calls it Correct must not get the chance
    to keep it).
    """
    if isinstance(out, BaseException):
        return TierAttempt(tier=tier, model=name, error=f"{type(out).__name__}: {out}")
    empty = not out.answer.strip() and not final
    return TierAttempt(
        tier=tier,
        model=name,
        answer=out.answer,
        usage=flat_usage(out.usage),
        latency_s=out.latency_s,
        signals={**(out.signals or {}), **answer_kind_signals(out.answer)},
        error=EMPTY_ANSWER_ERROR if empty else None,
    )


def verified(attempt: TierAttempt, result: VerificationResult, *, method: str) -> TierAttempt:
    """``attempt`` with its verification: confidence (also as a routing signal), samples.

    Args:
        attempt: the attempt whose answer was verified.
        result: the verification.
        method: ``sampling`` (signal ``verifier``) or ``logprob`` (``logprob_verifier``).
    """
    signal = "logprob_verifier" if method == "logprob" else "verifier"
    return attempt.model_copy(
        update={
            "signals": {**attempt.signals, signal: result.confidence},
            "verifier_confidence": result.confidence,
            "verifier_n_valid": result.n_valid,
            "verifier_n_samples": result.n_samples,
            "no_valid_sample": result.no_valid_sample,
            "verifier_samples": result.samples,
            "verifier_errors": result.errors,
            "verify_usage": flat_usage(result.usage),
            "verify_latency_s": result.latency_s,
        }
    )


def answer(
    model: Runnable[Any, Any],
    *,
    tier: int,
    name: str,
    question: str,
    context: str | None,
    final: bool = False,
    prompt: BasePromptTemplate | None = None,
    config: RunnableConfig | None = None,
    on_chunk: ChunkSink | None = None,
    logprobs: bool = False,
) -> TierAttempt:
    """Call ``model`` for its answer and record it (a failed call raises).

    See :func:`~langchain_automix.runtime.solving.solve` for ``prompt``, ``on_chunk``
    (stream the answer) and ``logprobs`` (ask for the answer's token probabilities).
    """
    out = solve(
        model,
        question=question,
        context=context,
        prompt=prompt,
        config=config,
        on_chunk=on_chunk,
        logprobs=logprobs,
    )
    return answered(out, tier=tier, name=name, final=final)


async def aanswer(
    model: Runnable[Any, Any],
    *,
    tier: int,
    name: str,
    question: str,
    context: str | None,
    final: bool = False,
    prompt: BasePromptTemplate | None = None,
    config: RunnableConfig | None = None,
    on_chunk: ChunkSink | None = None,
    logprobs: bool = False,
) -> TierAttempt:
    """Async twin of :func:`answer`."""
    out = await asolve(
        model,
        question=question,
        context=context,
        prompt=prompt,
        config=config,
        on_chunk=on_chunk,
        logprobs=logprobs,
    )
    return answered(out, tier=tier, name=name, final=final)


def verify_attempt(
    attempt: TierAttempt,
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    settings: VerifierSettings,
    config: RunnableConfig | None = None,
) -> TierAttempt:
    """Have ``model`` verify ``attempt``'s answer (``settings.method``) and record it."""
    run = logprob_verify_settings if settings.method == "logprob" else verify
    result = run(
        model,
        question=question,
        context=context,
        answer=attempt.answer or "",
        settings=settings,
        config=config,
    )
    return verified(attempt, result, method=settings.method)


async def averify_attempt(
    attempt: TierAttempt,
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    settings: VerifierSettings,
    config: RunnableConfig | None = None,
) -> TierAttempt:
    """Async twin of :func:`verify_attempt`."""
    arun = alogprob_verify_settings if settings.method == "logprob" else averify
    result = await arun(
        model,
        question=question,
        context=context,
        answer=attempt.answer or "",
        settings=settings,
        config=config,
    )
    return verified(attempt, result, method=settings.method)
