"""``AutoMixObserver``: a callback handler that hands every finished AutoMix query to sinks.

It watches the callbacks of any chain that contains an ``AutoMixRunnable`` (the served
runnable, or your own ``retriever | automix | parser``) or a ``ChatAutoMix`` (called
alone, in ``prompt | chat``, in an agent): when an AutoMix run ends, its routing trace
goes to the configured sinks, Prometheus metrics
(:class:`~langchain_automix.observability.metrics.AutoMixMetrics`), the drift monitor
(:class:`~langchain_automix.calibration.drift.DriftMonitor`) and the trace log
(:class:`~langchain_automix.observability.trace_log.TraceLog`). Graph node runs are
timed for the metrics' ``node_seconds``. Nothing is sent anywhere: sinks are local.

Each query is reported once, by the innermost run whose output carries its trace: the
``AutoMixRunnable`` run, or the ``ChatAutoMix`` chat model run (recognised at its start
by its ``_llm_type``, ``"automix"``; invoke, stream, sync and async alike). The
chains around it that pass its message on (``prompt | chat``) do not report it again.
The tier calls inside the graph report as chat models too; they are not AutoMix runs
and are ignored, and a tier failure the graph recovers from (it escalates) is no failed
query. A ``ChatAutoMix`` query's trace log text (``store_text``) is the question and
context it routed on: the last human message, and the system messages, ``context``
argument and earlier turns (see
:func:`~langchain_automix.runtime.chat_model.conversation_query`).

Pass a fresh observer in each call's ``callbacks`` (it keeps per-run start times), or
let :func:`~langchain_automix.server.create_app` do it for every served request.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from prometheus_client import CollectorRegistry
    >>> from langchain_automix import AutoMixRunnable
    >>> from langchain_automix.observability.metrics import AutoMixMetrics
    >>> small = FakeListChatModel(responses=["Paris", "... is Correct."])
    >>> automix = AutoMixRunnable(models=[small, small], num_verifications=1)
    >>> metrics = AutoMixMetrics(registry=CollectorRegistry(), final_tier_cost=50)
    >>> _ = automix.invoke({"question": "Capital of France?", "context": "Paris is..."},
    ...     {"callbacks": [AutoMixObserver(metrics=metrics)]})
    >>> metrics.value("automix_queries_total", outcome="ok")
    1.0
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.chat_model import conversation_query
from langchain_automix.runtime.graph import NODES
from langchain_automix.runtime.result import TRACE_KEY, AutoMixResult

if TYPE_CHECKING:
    from langchain_automix.calibration.drift import DriftMonitor
    from langchain_automix.observability.metrics import AutoMixMetrics
    from langchain_automix.observability.trace_log import TraceLog

__all__ = ["AutoMixObserver", "result_of"]

logger = logging.getLogger("langchain_automix.observability")

_NODES = frozenset(NODES)

_CHAT_AUTOMIX = "automix"
"""``ChatAutoMix._llm_type``: a chat model run's ``invocation_params["_type"]``."""


class _Conversation(NamedTuple):
    """A ``ChatAutoMix`` run's input, kept for the trace log's text."""

    messages: list[BaseMessage]
    context: Any


def result_of(output: Any) -> AutoMixResult | None:
    """The AutoMix result a run's output carries (an ``AIMessage`` with a trace), or None."""
    if not isinstance(output, BaseMessage):
        return None
    trace = output.response_metadata.get(TRACE_KEY)
    if not isinstance(trace, dict) or "attempts" not in trace:
        return None
    return AutoMixResult.from_trace(trace)


_COUNTED_BY = "_automix_counted_by"
"""Attribute of an exception that lists the observers (their serial numbers) which
counted it.

One failure passes through several runs (the node, the graph, a chain around it) and is
counted once, at the innermost run that can count it. The mark lives on the exception
itself: recognising it by ``id()`` counted 4 of 60 failed queries, because a freed
exception's id is soon reused by the next one's. Serial numbers, not the observers, so
the exception still pickles."""

_SERIALS = itertools.count()


def _mark_counted(error: BaseException, serial: int) -> None:
    counted = getattr(error, _COUNTED_BY, None)
    if counted is None:
        counted = []
        setattr(error, _COUNTED_BY, counted)
    counted.append(serial)


class AutoMixObserver(BaseCallbackHandler):
    """Hand each finished AutoMix query to the metrics, drift monitor and trace log.

    A sink that raises is logged and skipped: observing never fails a query.

    Args:
        metrics: Prometheus metrics to update.
        drift: drift monitor fed each decision's routing signals.
        trace_log: log every query is written to (its row id: the AutoMix run id, which
            LangServe returns as ``metadata.run_id`` and the OpenAI route as the
            completion id).
    """

    run_inline = True
    ignore_llm = False  # ``on_llm_end`` / ``on_llm_error`` of ChatAutoMix runs
    ignore_chat_model = False
    ignore_retriever = True
    ignore_agent = True
    ignore_retry = True
    ignore_custom_event = True

    def __init__(
        self,
        *,
        metrics: AutoMixMetrics | None = None,
        drift: DriftMonitor | None = None,
        trace_log: TraceLog | None = None,
    ) -> None:
        self.metrics = metrics
        self.drift = drift
        self.trace_log = trace_log
        self._keep_inputs = trace_log is not None and trace_log.store_text
        self._runs: dict[UUID, tuple[float, Any]] = {}
        self._nodes: dict[UUID, tuple[str, float]] = {}
        self._chats: dict[UUID, tuple[float, Any]] = {}
        self._reported: set[UUID] = set()  # open runs of ``_runs`` whose query was reported
        self._serial = next(_SERIALS)  # marks the failures this observer counted

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Time runs outside graph nodes (one of them is the AutoMix run) and node runs."""
        node = (metadata or {}).get("langgraph_node")
        if node is None:
            if parent_run_id not in self._chats:  # not the graph run of a ChatAutoMix
                self._runs[run_id] = (time.perf_counter(), inputs if self._keep_inputs else None)
        elif self.metrics is not None and kwargs.get("name") == node and node in _NODES:
            self._nodes[run_id] = (node, time.perf_counter())

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Observe a finished node or AutoMix run."""
        node = self._nodes.pop(run_id, None)
        if node is not None:
            self._sink("metrics", self.metrics.observe_node, node[0], time.perf_counter() - node[1])  # type: ignore[union-attr]
            return
        started = self._runs.pop(run_id, None)
        if started is None:
            return
        if run_id in self._reported:  # passes on a query reported below it
            self._reported.discard(run_id)
            self._mark_reported(parent_run_id)
            return
        result = result_of(outputs)
        if result is not None:
            if self._keep_inputs and kwargs.get("inputs") is not None:
                # a streamed run starts with a placeholder input; its end carries the input
                started = (started[0], kwargs["inputs"])
            self._report(run_id, parent_run_id, started, result)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Time a ChatAutoMix run (the tier calls inside the graph are not timed)."""
        if invocation_params is None or invocation_params.get("_type") != _CHAT_AUTOMIX:
            return
        inputs = None
        if self._keep_inputs and messages:
            inputs = _Conversation(messages[0], invocation_params.get("context"))
        self._chats[run_id] = (time.perf_counter(), inputs)

    def on_llm_end(
        self,
        response: LLMResult,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Observe a finished ChatAutoMix run (its message, streamed or not, has the trace)."""
        started = self._chats.pop(run_id, None)
        if started is None:
            return
        generations = response.generations
        message = (
            getattr(generations[0][0], "message", None) if generations and generations[0] else None
        )
        result = result_of(message)
        if result is not None:
            self._report(run_id, parent_run_id, started, result)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Count a failed ChatAutoMix run as ``on_chain_error`` counts an AutoMix run."""
        started = self._chats.pop(run_id, None)
        if started is not None:
            self._fail(error, run_id, parent_run_id, started)

    def _mark_reported(self, run_id: UUID | None) -> None:
        """Note that ``run_id``'s query was reported (when it is a run that could report it)."""
        if run_id is not None and run_id in self._runs:
            self._reported.add(run_id)

    def _report(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        started: tuple[float, Any],
        result: AutoMixResult,
    ) -> None:
        self._mark_reported(parent_run_id)
        seconds = time.perf_counter() - started[0]
        if self.metrics is not None:
            self._sink("metrics", self.metrics.observe_result, result, seconds=seconds)
        if self.drift is not None:
            self._sink("drift", _feed_drift, self.drift, result, self.metrics)
        if self.trace_log is not None:
            question, context = _texts(started[1])
            self._sink(
                "trace log",
                self.trace_log.write_result,
                str(run_id),
                result,
                question=question,
                context=context,
            )

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Count a failed AutoMix run once (innermost run first), keep its partial trace."""
        self._nodes.pop(run_id, None)
        self._reported.discard(run_id)
        started = self._runs.pop(run_id, None)
        if started is not None:
            self._fail(error, run_id, parent_run_id, started)

    def _fail(
        self,
        error: BaseException,
        run_id: UUID,
        parent_run_id: UUID | None,
        started: tuple[float, Any],
    ) -> None:
        if self._serial in getattr(error, _COUNTED_BY, ()):  # seen at an inner run already
            return
        if isinstance(error, AutoMixInputError):
            outcome, partial = "input_error", None
        elif isinstance(error, AutoMixModelError):
            outcome, partial = "model_error", error.partial
        elif parent_run_id is None:
            outcome, partial = "error", None
        else:  # a failure inside the chain: counted where it reaches the root
            return
        _mark_counted(error, self._serial)
        seconds = time.perf_counter() - started[0]
        if self.metrics is not None:
            self._sink("metrics", self.metrics.observe_failure, outcome, partial, seconds=seconds)
        if self.trace_log is not None:
            reason = f"{type(error).__name__}: {str(error)[:500]}"
            question, context = _texts(started[1])
            if partial is not None:
                self._sink(
                    "trace log",
                    self.trace_log.write_result,
                    str(run_id),
                    partial,
                    question=question,
                    context=context,
                    error=reason,
                )
            else:
                self._sink("trace log", self.trace_log.write_failure, str(run_id), reason)

    @staticmethod
    def _sink(what: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # observing never fails the query
            logger.exception("AutoMix observer: the %s failed", what)


def _feed_drift(drift: DriftMonitor, result: AutoMixResult, metrics: Any) -> None:
    for a in result.attempts:
        if a.decision is not None and not a.skipped and a.error is None:
            drift.observe(a.tier, a.signals)
    if metrics is not None:
        metrics.observe_drift(drift.status())


def _texts(inputs: Any) -> tuple[str | None, str | None]:
    if isinstance(inputs, _Conversation):
        try:
            query = conversation_query(inputs.messages, inputs.context)
        except Exception:  # no human message, a context of the wrong type
            return None, None
        return query["question"], query["context"]
    if isinstance(inputs, str):
        return inputs, None
    if isinstance(inputs, Mapping):
        q, c = inputs.get("question"), inputs.get("context")
        return (q if isinstance(q, str) else None), (c if isinstance(c, str) else None)
    return None, None
