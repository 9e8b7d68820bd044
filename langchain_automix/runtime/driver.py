"""The one driver of the AutoMix graph: invoke and stream, sync and async, durable or not.

:class:`~langchain_automix.runtime.runnable.AutoMixRunnable` and
:class:`~langchain_automix.runtime.chat_model.ChatAutoMix` both run a query through
:func:`drive` (or :func:`adrive`): one loop over the compiled graph's stream that

* starts, resumes or replays a durable run when the graph has a checkpointer (the
  thread id comes from ``config["configurable"]["thread_id"]``, else a new one; see
  :func:`~langchain_automix.runtime.durable.plan_run`);
* forwards the final tier's tokens as they arrive, when the context asks for them
  (``stream_final``), without their usage (it is summed once, in the result);
* ends with the :class:`~langchain_automix.runtime.result.AutoMixResult`, or raises
  :class:`~langchain_automix.errors.AutoMixModelError` whose partial result names the
  streamed text and the durable thread.

Each class then only maps its input in and the result out.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from langchain_automix import AutoMixRunnable
    >>> small = FakeListChatModel(responses=["Paris", "... is Correct."])
    >>> automix = AutoMixRunnable(models=[small, small], num_verifications=1)
    >>> events = list(drive(automix.graph, {"question": "Capital?", "context": None},
    ...                     {}, automix.context))
    >>> [type(e).__name__ for e in events], events[-1].answer
    (['AutoMixResult'], 'Paris')
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Generator
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig

from langchain_automix.errors import AutoMixModelError
from langchain_automix.runtime.context import AutoMixContext
from langchain_automix.runtime.durable import (
    DurablePlan,
    asingle_flight,
    plan_run,
    single_flight,
    thread_config,
)
from langchain_automix.runtime.graph import result_from_state
from langchain_automix.runtime.result import AutoMixResult
from langchain_automix.runtime.state import InputState

__all__ = [
    "DROPPED_METADATA",
    "adrive",
    "adrive_to_result",
    "drive",
    "drive_to_result",
    "forwarded",
]

DROPPED_METADATA = ("logprobs", "token_usage", "model_name")
"""Per-call response metadata of a tier not forwarded with its tokens (usage is summed in
the result, ``model_name`` names the answering tier there)."""

Event = AIMessageChunk | AutoMixResult
"""What the driver yields: the final tier's tokens, then the result (always last)."""


class _Run:
    """The bookkeeping of one driven query, shared by :func:`drive` and :func:`adrive`."""

    def __init__(self, graph: Any, config: RunnableConfig, ctx: AutoMixContext) -> None:
        self.graph = graph
        self.ctx = ctx
        self.durable = getattr(graph, "checkpointer", None) is not None
        self.thread_id: str | None = None
        self.plan: DurablePlan | None = None
        self.config = config
        if self.durable:
            self.config, self.thread_id = thread_config(config)
        self.streamed: list[str] = []
        self.final: Any = None
        self.cost_before = 0.0

    def start(self, state: InputState, snapshot: Any) -> Any:
        """The graph's input (None: resume; the final state is kept for a finished run)."""
        if not self.durable or self.thread_id is None:
            return state
        self.plan = plan_run(snapshot, state, self.thread_id)
        self.final = self.plan.done
        if self.plan.resumed:  # what the nodes done before this call cost
            done = (getattr(snapshot, "values", None) or {}).get("attempts") or []
            self.cost_before = sum(a.cost for a in done)
        return self.plan.input

    def stream_kwargs(self) -> dict[str, Any]:
        modes = ["custom", "values"] if self.ctx.stream_final else ["values"]
        extra: dict[str, Any] = {"durability": "sync"} if self.durable else {}
        return {"context": self.ctx, "stream_mode": modes, **extra}

    def take(self, mode: str, chunk: Any) -> AIMessageChunk | None:
        """Keep the latest state; return a token to forward, if ``chunk`` is one."""
        if mode == "values":
            self.final = chunk
            return None
        if not (isinstance(chunk, dict) and "automix_chunk" in chunk):
            return None
        token = forwarded(chunk["automix_chunk"])
        if token is not None:
            self.streamed.append(token.text)
        return token

    def failed(self, exc: AutoMixModelError) -> None:
        """Make a failure's partial result say what was streamed and where to resume."""
        _note_streamed(exc, self.streamed)
        if self.thread_id is not None and exc.partial is not None:
            update: dict[str, Any] = {"thread_id": self.thread_id}
            if self.plan is not None and self.plan.resumed:
                update["spent_this_call"] = max(0.0, exc.partial.total_cost - self.cost_before)
            exc.partial = exc.partial.model_copy(update=update)

    def result(self) -> AutoMixResult:
        result = result_from_state(self.ctx, self.final)
        update: dict[str, Any] = {}
        if self.plan is not None:
            update.update(thread_id=self.thread_id, resumed=self.plan.resumed)
            if self.plan.resumed:
                update["spent_this_call"] = max(0.0, result.total_cost - self.cost_before)
        if self.streamed:
            update["streamed_tier"] = result.answered_by
        return result.model_copy(update=update) if update else result


def drive(
    graph: Any, state: InputState, config: RunnableConfig, ctx: AutoMixContext
) -> Generator[Event, None, None]:
    """Run one query through ``graph``: the final tier's tokens, then the result.

    Args:
        graph: the compiled AutoMix graph (with a checkpointer for a durable run).
        state: the validated input (see :func:`~langchain_automix.runtime.runnable.coerce_input`).
        config: the run's config (callbacks, tags, ``configurable.thread_id``).
        ctx: the runtime context; tokens are streamed when ``ctx.stream_final``.

    Raises:
        AutoMixModelError: the final tier failed (the partial result is attached).
    """
    run = _Run(graph, config, ctx)
    lock = (
        single_flight(graph.checkpointer, run.thread_id)
        if run.thread_id is not None
        else contextlib.nullcontext()
    )
    with lock:  # a durable thread runs once at a time: a concurrent retry waits, then replays
        graph_input = run.start(state, graph.get_state(run.config) if run.durable else None)
        try:
            if run.final is None:
                for mode, chunk in graph.stream(graph_input, run.config, **run.stream_kwargs()):
                    token = run.take(mode, chunk)
                    if token is not None:
                        yield token
        except AutoMixModelError as exc:
            run.failed(exc)
            raise
        yield run.result()


async def adrive(
    graph: Any, state: InputState, config: RunnableConfig, ctx: AutoMixContext
) -> AsyncGenerator[Event, None]:
    """Async twin of :func:`drive`."""
    run = _Run(graph, config, ctx)
    lock = (
        asingle_flight(graph.checkpointer, run.thread_id)
        if run.thread_id is not None
        else contextlib.nullcontext()
    )
    async with lock:
        snapshot = await graph.aget_state(run.config) if run.durable else None
        graph_input = run.start(state, snapshot)
        try:
            if run.final is None:
                async for mode, chunk in graph.astream(
                    graph_input, run.config, **run.stream_kwargs()
                ):
                    token = run.take(mode, chunk)
                    if token is not None:
                        yield token
        except AutoMixModelError as exc:
            run.failed(exc)
            raise
        yield run.result()


def drive_to_result(events: Generator[Event, None, None]) -> AutoMixResult:
    """The result of a driven run whose tokens nobody reads (``invoke``).

    The driver is closed before the result is returned, so the thread's run lock (and
    an async SQLite connection's lease) is released by the call that took it, not
    whenever the garbage collector finalizes a suspended generator.
    """
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, AutoMixResult):
                return event
    raise RuntimeError("the AutoMix driver ended without a result")  # pragma: no cover


async def adrive_to_result(events: AsyncGenerator[Event, None]) -> AutoMixResult:
    """Async twin of :func:`drive_to_result`."""
    async with contextlib.aclosing(events):
        async for event in events:
            if isinstance(event, AutoMixResult):
                return event
    raise RuntimeError("the AutoMix driver ended without a result")  # pragma: no cover


def forwarded(chunk: AIMessageChunk) -> AIMessageChunk | None:
    """A streamed token of the final tier, without its usage (summed in the result).

    Tool-call chunks are kept (a chat model's final tier may call tools); empty
    chunks are dropped.
    """
    if not chunk.content and not chunk.tool_call_chunks:
        return None
    return AIMessageChunk(
        content=chunk.content,
        id=chunk.id,
        tool_call_chunks=chunk.tool_call_chunks,
        response_metadata={
            k: v for k, v in chunk.response_metadata.items() if k not in DROPPED_METADATA
        },
    )


def _note_streamed(exc: AutoMixModelError, streamed: list[str]) -> None:
    """Make the partial result of a failure after streamed tokens match what was sent.

    Only the final tier streams, and its failure is the last attempt: the partial's
    ``answer`` becomes the streamed text (not an earlier tier's rejected answer), and
    ``streamed_tier`` and the attempt's ``partial_answer`` say where it came from.
    """
    partial = exc.partial
    if partial is None or not streamed or not partial.attempts:
        return
    text = "".join(streamed)
    failed = partial.attempts[-1].model_copy(update={"partial_answer": text})
    exc.partial = partial.model_copy(
        update={
            "answer": text,
            "answered_by": failed.tier,
            "answered_by_model": failed.model,
            "streamed_tier": failed.tier,
            "attempts": [*partial.attempts[:-1], failed],
        }
    )
