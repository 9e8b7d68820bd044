"""Solve step: one tier answers a (context, question) pair."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_automix._model_utils import child_config, message_text, supported_kwargs, usage_of
from langchain_automix.prompts import DEFAULT_SOLVE_PROMPT, NO_CONTEXT
from langchain_automix.signals import answer_signals

__all__ = ["SolveResult", "asolve", "format_solve_messages", "solve"]

ChunkSink = Callable[[AIMessageChunk], None]
"""Receives the tokens of a streamed answer as they arrive."""


@dataclass(frozen=True, slots=True)
class SolveResult:
    """One tier's answer."""

    answer: str
    """The answer text, stripped."""
    usage: UsageMetadata | None
    """Token usage reported by the model (None when the model reports none)."""
    latency_s: float
    """Wall time of the call in seconds."""
    signals: dict[str, float] | None = None
    """Token-probability signals of the answer (see
    :func:`~langchain_automix.signals.answer_signals`); None when logprobs were not asked
    for or the model returned none."""
    message_id: str | None = None
    """Id of the model's answer message (LangGraph's ``messages`` stream dedupes on it)."""


def format_solve_messages(
    question: str, context: str | None, prompt: BasePromptTemplate | None = None
) -> list[BaseMessage]:
    """Render the solve prompt for one query."""
    return (
        (prompt or DEFAULT_SOLVE_PROMPT)
        .format_prompt(question=question, context=context if context else NO_CONTEXT)
        .to_messages()
    )


def _result(message: BaseMessage, started: float) -> SolveResult:
    return SolveResult(
        answer=message_text(message).strip(),
        usage=usage_of(message),
        latency_s=time.perf_counter() - started,
        signals=answer_signals(message),
        message_id=message.id,
    )


_NO_LOGPROBS: dict[int, weakref.ref[Any]] = {}
"""Models whose endpoint refused a logprobs request (by id, checked against a weak ref)."""


def _refuses_logprobs(model: Runnable[Any, Any]) -> bool:
    ref = _NO_LOGPROBS.get(id(model))
    return ref is not None and ref() is model


def _logprob_kwargs(model: Runnable[Any, Any], logprobs: bool) -> dict[str, Any]:
    """``logprobs=True`` for models that declare the field (ChatOpenAI), else nothing.

    ``top_logprobs=1`` too: llama.cpp's server returns no logprobs without it. Nothing
    for a model whose endpoint refused logprobs before (see :func:`_refused`).
    """
    if not logprobs or _refuses_logprobs(model):
        return {}
    kwargs = supported_kwargs(model, {"logprobs": True, "top_logprobs": 1})
    return kwargs if "logprobs" in kwargs else {}


def _refused(model: Runnable[Any, Any], exc: Exception) -> bool:
    """Whether ``exc`` is an endpoint refusing logprobs; then the model is remembered.

    llama.cpp's server refuses them unless started with ``logits_all`` (an HTTP 500
    naming logprobs); some hosted models answer 400. The answer call is then repeated
    without logprobs: the signals are a bonus, never a reason to lose an answer.
    """
    if "logprob" not in str(exc).lower():
        return False
    _NO_LOGPROBS[id(model)] = weakref.ref(model)
    return True


def solve(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    prompt: BasePromptTemplate | None = None,
    config: RunnableConfig | None = None,
    on_chunk: ChunkSink | None = None,
    logprobs: bool = False,
) -> SolveResult:
    """Ask ``model`` to answer ``question`` about ``context``.

    With ``on_chunk`` the answer is streamed and each chunk handed over as it
    arrives (used for the final tier, whose answer needs no verification). With
    ``logprobs`` the call asks models that support it for token log-probabilities
    and the result carries the answer's token-probability ``signals``.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> solve(FakeListChatModel(responses=["Paris"]), question="Capital?",
        ...       context="Paris is the capital of France.").answer
        'Paris'
    """
    messages = format_solve_messages(question, context, prompt)
    cfg = child_config(config, run_name="solve")
    started = time.perf_counter()
    if on_chunk is None:
        kwargs = _logprob_kwargs(model, logprobs)
        try:
            return _result(model.invoke(messages, cfg, **kwargs), started)
        except Exception as exc:
            if not kwargs or not _refused(model, exc):
                raise
        return _result(model.invoke(messages, cfg), started)
    full: AIMessageChunk | None = None
    for chunk in model.stream(messages, cfg, **_logprob_kwargs(model, logprobs)):
        chunk = _as_chunk(chunk)
        on_chunk(chunk)
        full = chunk if full is None else full + chunk
    return _result(full if full is not None else AIMessage(content=""), started)


async def asolve(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    prompt: BasePromptTemplate | None = None,
    config: RunnableConfig | None = None,
    on_chunk: ChunkSink | None = None,
    logprobs: bool = False,
) -> SolveResult:
    """Async twin of :func:`solve`."""
    messages = format_solve_messages(question, context, prompt)
    cfg = child_config(config, run_name="solve")
    started = time.perf_counter()
    if on_chunk is None:
        kwargs = _logprob_kwargs(model, logprobs)
        try:
            return _result(await model.ainvoke(messages, cfg, **kwargs), started)
        except Exception as exc:
            if not kwargs or not _refused(model, exc):
                raise
        return _result(await model.ainvoke(messages, cfg), started)
    full: AIMessageChunk | None = None
    async for chunk in model.astream(messages, cfg, **_logprob_kwargs(model, logprobs)):
        chunk = _as_chunk(chunk)
        on_chunk(chunk)
        full = chunk if full is None else full + chunk
    return _result(full if full is not None else AIMessage(content=""), started)


def _as_chunk(chunk: Any) -> AIMessageChunk:
    if isinstance(chunk, AIMessageChunk):
        return chunk
    if isinstance(chunk, BaseMessage):
        return AIMessageChunk(content=chunk.content)
    return AIMessageChunk(content=str(chunk))
