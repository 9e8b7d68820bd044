"""OpenTelemetry traces of AutoMix queries: one span per query, one per graph node.

:class:`OpenTelemetryCallbackHandler` is a LangChain callback handler: pass it in a
run's ``callbacks`` (next to LangSmith's or any other) and every AutoMix query that runs
under it, through :class:`~langchain_automix.runtime.runnable.AutoMixRunnable`,
:class:`~langchain_automix.runtime.chat_model.ChatAutoMix` or a graph of
:func:`~langchain_automix.runtime.factory.create_automix_graph`, becomes a span tree::

    automix.query                  answered_by, escalated, total_cost, usage, ...
    ├── automix.solve_small        tier, model, cost, tokens, latency
    ├── automix.self_verify        verifier_confidence, n_valid, cost, tokens
    ├── automix.meta_decide        decision (accept / escalate), meta_verifier
    └── automix.solve_large        the next tier (then self_verify, ... with N tiers)

All attributes are under ``automix.`` (listed in :class:`OpenTelemetryCallbackHandler`);
no question, context or answer text is recorded. The query span is a child of the span
current where the query started (an HTTP server's request span, say); node spans are
parented explicitly from the callbacks' run ids, so they nest correctly whatever thread
or task a node runs on.

Tracing is off unless asked for: :func:`configure_tracing` (or :func:`tracing_from_env`,
which reads ``$AUTOMIX_OTEL_EXPORTER``) builds a handler whose spans go to the console
or to an OTLP/HTTP collector through a ``BatchSpanProcessor``; ``"none"`` builds nothing.
The exporters need the ``otel`` extra: ``pip install 'langchain-automix[otel]'``.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    ...     InMemorySpanExporter)
    >>> from langchain_automix import AutoMixRunnable
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> handler = OpenTelemetryCallbackHandler(provider.get_tracer(TRACER_NAME))
    >>> small = FakeListChatModel(responses=["Paris", "The AI generated answer is Correct."])
    >>> large = FakeListChatModel(responses=["Paris, France"])
    >>> automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    >>> automix.invoke("Capital of France?", {"callbacks": [handler]}).content
    'Paris'
    >>> spans = {s.name: s for s in exporter.get_finished_spans()}
    >>> sorted(spans)
    ['automix.meta_decide', 'automix.query', 'automix.self_verify', 'automix.solve_small']
    >>> spans["automix.meta_decide"].attributes["automix.decision"]
    'accept'
    >>> spans["automix.query"].attributes["automix.total_cost"]
    2.0
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from langchain_automix._model_utils import sum_usage
from langchain_automix.errors import AutoMixModelError
from langchain_automix.runtime.graph import NODES
from langchain_automix.runtime.result import TierAttempt

_EXTRA_HINT = "pip install 'langchain-automix[otel]'"

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import Span, Status, StatusCode, Tracer
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(f"OpenTelemetry tracing needs opentelemetry-api: {_EXTRA_HINT}") from exc

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.util.types import AttributeValue

__all__ = [
    "EXPORTERS",
    "EXPORTER_ENV",
    "NODE_SPAN_PREFIX",
    "QUERY_SPAN",
    "TRACER_NAME",
    "OpenTelemetryCallbackHandler",
    "configure_tracing",
    "tracing_from_env",
]

TRACER_NAME = "langchain_automix"
"""Instrumentation scope of the spans (``trace.get_tracer(TRACER_NAME)``)."""

QUERY_SPAN = "automix.query"
"""Name of the span of one query (the run of the AutoMix graph)."""

NODE_SPAN_PREFIX = "automix."
"""Node spans are named ``automix.<node>``: ``automix.solve_small``, ..."""

EXPORTERS = ("none", "console", "otlp")
"""What :func:`configure_tracing` can send spans to."""

EXPORTER_ENV = "AUTOMIX_OTEL_EXPORTER"
"""Environment variable read by :func:`tracing_from_env`: ``none`` (default), ``console``
or ``otlp``."""

_SOLVE_NODES = frozenset({"solve_small", "solve_large"})
_NODE_NAMES = frozenset(NODES)
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


@dataclass(slots=True)
class _Query:
    """The open span of one graph run, and its node runs not ended yet."""

    span: Span
    context: Context
    open_nodes: set[UUID] = field(default_factory=set)


@dataclass(slots=True)
class _Node:
    """The open span of one node run."""

    span: Span
    name: str
    query_id: UUID
    n_before: int
    """Attempts in the node's input state (new ones are this node's)."""
    cost_before: float
    """Unit cost of the current tier before the node (what ``self_verify`` adds to)."""


class OpenTelemetryCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that records AutoMix queries as OpenTelemetry spans.

    One ``automix.query`` span per run of the AutoMix graph, with a child span
    ``automix.<node>`` per node run. The graph's run is recognised by its node runs
    (chain runs named after a node, with ``metadata["langgraph_node"]`` the same), so a
    graph of any name is traced, and other chains running under the same callbacks
    produce no span. Model, retriever and tool events are ignored: the handler costs a
    few dictionary operations per chain run, and a span per node.

    Attributes of ``automix.query``, set when the query ends (from the routing trace;
    from the partial trace of an :class:`~langchain_automix.errors.AutoMixModelError`):
    ``automix.graph`` (the graph's name), ``automix.answered_by`` (tier index),
    ``automix.answered_by_model``, ``automix.escalated``, ``automix.total_cost`` (unit
    cost), ``automix.total_money`` (with token prices), ``automix.cost_per_tier``,
    ``automix.n_attempts``, ``automix.usage.{input,output,total}_tokens``.

    Attributes of a node span: ``automix.node``, ``automix.step`` (LangGraph's step),
    then from the tier's attempt as the node leaves it: ``automix.tier``,
    ``automix.model``, ``automix.cost`` (unit cost spent by this node: the answer call
    for ``solve_*``, the verification for ``self_verify``, 0 for ``meta_decide``; they
    sum to the query's ``total_cost``), ``automix.tier_cost`` (the tier's cost so far:
    after its last node, its entry of ``cost_per_tier``), ``automix.tier_money``, and

    * ``solve_small`` / ``solve_large``: ``automix.usage.*`` and ``automix.latency_s``
      of the answer call, ``automix.error`` when a non-final tier's call failed (the
      query escalates; the span's status stays unset), ``automix.skipped_tiers``;
    * ``self_verify``: ``automix.verifier_confidence``, ``automix.verifier_n_valid``,
      ``automix.verifier_n_samples``, ``automix.no_valid_sample``, ``automix.usage.*``
      and ``automix.latency_s`` of the verification (no attribute when the policy reads
      no verification);
    * ``meta_decide``: ``automix.decision`` (``accept`` / ``escalate``),
      ``automix.escalate_to`` (when tiers are skipped), ``automix.meta_verifier``,
      ``automix.verifier_confidence``.

    A run that raises (the final tier failed, a bad policy) ends its spans with status
    ``ERROR`` and the exception recorded; a cancelled run (a client gone, a stream not
    read to its end) ends them with ``automix.cancelled = true``.

    Setup:
        .. code-block:: bash

            pip install 'langchain-automix[otel]'

    Key init args:
        tracer: the OpenTelemetry tracer; default ``trace.get_tracer("langchain_automix")``
            (the global tracer provider's: a no-op until the application sets one).
        provider: an SDK ``TracerProvider`` this handler owns (what
            :func:`configure_tracing` builds), flushed by :meth:`force_flush` and
            closed by :meth:`shutdown`.

    Instantiate:
        >>> handler = OpenTelemetryCallbackHandler()  # the global tracer provider's tracer

    Invoke:
        .. code-block:: python

            automix.invoke(question, config={"callbacks": [handler, langsmith_tracer]})
            # or once for all calls:
            automix = automix.with_config(callbacks=[handler])

    Async:
        The same handler serves ``ainvoke``, ``abatch``, ``astream`` and concurrent
        queries (``run_inline``: it runs on the event loop, never in a thread pool).
    """

    run_inline: bool = True
    """Called directly by async callback managers (no executor hop per event)."""

    def __init__(self, tracer: Tracer | None = None, *, provider: Any = None) -> None:
        self.tracer: Tracer = tracer if tracer is not None else trace.get_tracer(TRACER_NAME)
        self.provider = provider
        # chain runs that may turn out to be an AutoMix graph: start (ns), context, name
        self._pending: dict[UUID, tuple[int, Context, str | None]] = {}
        self._queries: dict[UUID, _Query] = {}
        self._nodes: dict[UUID, _Node] = {}
        self._lock = threading.Lock()

    # --- the events this handler listens to ------------------------------------------------

    @property
    def ignore_llm(self) -> bool:
        """Model calls are not traced here (their cost and tokens are in the node spans)."""
        return True

    @property
    def ignore_chat_model(self) -> bool:
        """See :attr:`ignore_llm`."""
        return True

    @property
    def ignore_retriever(self) -> bool:
        """Retrievers are not traced."""
        return True

    @property
    def ignore_agent(self) -> bool:
        """Agents are not traced."""
        return True

    @property
    def ignore_retry(self) -> bool:
        """Retries are not traced."""
        return True

    @property
    def ignore_custom_event(self) -> bool:
        """Custom events are not traced."""
        return True

    # --- chain runs ------------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Open a node's span, or note a chain run that may be an AutoMix graph's."""
        name = kwargs.get("name")
        if name is None and serialized:
            name = serialized.get("name")
        if (
            name in _NODE_NAMES
            and parent_run_id is not None
            and metadata is not None
            and metadata.get("langgraph_node") == name
            and parent_run_id not in self._nodes  # a run named like its node, inside it
        ):
            self._start_node(name, inputs, run_id, parent_run_id, metadata)
        else:
            self._pending[run_id] = (time.time_ns(), otel_context.get_current(), name)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Close a node's or a query's span with what it produced."""
        node = self._nodes.pop(run_id, None)
        if node is not None:
            self._end_node(node, run_id, outputs, None)
            return
        self._pending.pop(run_id, None)
        query = self._queries.pop(run_id, None)
        if query is not None:
            self._end_query(query, outputs, None)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Close a node's or a query's span with the error."""
        node = self._nodes.pop(run_id, None)
        if node is not None:
            self._end_node(node, run_id, None, error)
            return
        self._pending.pop(run_id, None)
        query = self._queries.pop(run_id, None)
        if query is not None:
            self._end_query(query, None, error)

    # --- spans -----------------------------------------------------------------------------

    def _query(self, run_id: UUID) -> _Query:
        """The span of the graph run ``run_id``, opened on its first node."""
        query = self._queries.get(run_id)
        if query is not None:
            return query
        with self._lock:  # two nodes of one graph starting at once open one span
            query = self._queries.get(run_id)
            if query is None:
                start, parent, name = self._pending.get(run_id) or (None, None, None)
                span = self.tracer.start_span(
                    QUERY_SPAN,
                    context=parent,
                    start_time=start,
                    attributes={"automix.graph": name} if name else None,
                )
                query = _Query(span, trace.set_span_in_context(span))
                self._queries[run_id] = query
        return query

    def _start_node(
        self,
        name: str,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID,
        metadata: Mapping[str, Any],
    ) -> None:
        query = self._query(parent_run_id)
        attributes: dict[str, AttributeValue] = {"automix.node": name}
        step = metadata.get("langgraph_step")
        if isinstance(step, int):
            attributes["automix.step"] = step
        span = self.tracer.start_span(
            NODE_SPAN_PREFIX + name, context=query.context, attributes=attributes
        )
        before = _attempts(inputs)
        self._nodes[run_id] = _Node(
            span=span,
            name=name,
            query_id=parent_run_id,
            n_before=len(before),
            cost_before=before[-1].cost if before else 0.0,
        )
        query.open_nodes.add(run_id)

    def _end_node(
        self, node: _Node, run_id: UUID, outputs: Any, error: BaseException | None
    ) -> None:
        query = self._queries.get(node.query_id)
        if query is not None:
            query.open_nodes.discard(run_id)
        if error is None:
            node.span.set_attributes(_node_attributes(node, outputs))
        elif isinstance(error, AutoMixModelError) and error.partial is not None:
            # the final tier failed: its attempt (model, error) is in the partial trace
            node.span.set_attributes(_node_attributes(node, {"attempts": error.partial.attempts}))
        _end(node.span, error)

    def _end_query(self, query: _Query, outputs: Any, error: BaseException | None) -> None:
        if error is None:
            summary = _summary(outputs)
        else:
            partial = error.partial if isinstance(error, AutoMixModelError) else None
            summary = None if partial is None else partial.trace()
        if summary is not None:
            query.span.set_attributes(_query_attributes(summary))
        for run_id in list(query.open_nodes):  # nodes whose end never came (cancelled)
            node = self._nodes.pop(run_id, None)
            if node is not None:
                _end(node.span, error)
        _end(query.span, error)

    # --- the provider this handler owns ----------------------------------------------------

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export the spans still buffered by the owned provider (True without one)."""
        flush = getattr(self.provider, "force_flush", None)
        return True if flush is None else bool(flush(timeout_millis))

    def shutdown(self) -> None:
        """Flush and close the owned provider (nothing without one)."""
        close = getattr(self.provider, "shutdown", None)
        if close is not None:
            close()


# --- attributes ----------------------------------------------------------------------------


def _attempts(state: Any) -> list[TierAttempt]:
    """The attempts of a node's input state or update (none when it has none)."""
    if not isinstance(state, Mapping):
        return []
    attempts = state.get("attempts")
    if not isinstance(attempts, list):
        return []
    return [a for a in attempts if isinstance(a, TierAttempt)]


def _usage_attributes(usage: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    if not usage:
        return {}
    return {
        f"automix.usage.{key}": int(usage[key])
        for key in _USAGE_KEYS
        if isinstance(usage.get(key), int)
    }


def _node_attributes(node: _Node, update: Any) -> dict[str, AttributeValue]:
    """A node span's attributes, from the tier's attempt in the node's state update.

    Example:
        >>> from opentelemetry.trace import INVALID_SPAN
        >>> node = _Node(INVALID_SPAN, "self_verify", UUID(int=0), n_before=1, cost_before=1.0)
        >>> after = TierAttempt(tier=0, model="small", answer="Paris", cost=3.0,
        ...                     verifier_confidence=0.75, verifier_n_valid=4)
        >>> attrs = _node_attributes(node, {"attempts": [after]})
        >>> attrs["automix.cost"], attrs["automix.tier_cost"], attrs["automix.verifier_confidence"]
        (2.0, 3.0, 0.75)
    """
    attempts = _attempts(update)
    if not attempts:  # self_verify under a policy that reads no verification
        return {}
    a = attempts[-1]
    attrs: dict[str, AttributeValue] = {
        "automix.tier": a.tier,
        "automix.model": a.model,
        "automix.tier_cost": float(a.cost),
    }
    if a.money is not None:
        attrs["automix.tier_money"] = float(a.money)
    if node.name in _SOLVE_NODES:
        attrs["automix.cost"] = float(a.cost)
        attrs["automix.latency_s"] = float(a.latency_s)
        attrs.update(_usage_attributes(a.usage))
        skipped = [x.tier for x in attempts[node.n_before :] if x.skipped]
        if skipped:
            attrs["automix.skipped_tiers"] = skipped
        if a.error is not None:
            attrs["automix.error"] = a.error
    elif node.name == "self_verify":
        attrs["automix.cost"] = float(a.cost - node.cost_before)
        attrs["automix.latency_s"] = float(a.verify_latency_s)
        attrs.update(_usage_attributes(a.verify_usage))
        attrs["automix.no_valid_sample"] = a.no_valid_sample
        if a.verifier_confidence is not None:
            attrs["automix.verifier_confidence"] = float(a.verifier_confidence)
        if a.verifier_n_valid is not None:
            attrs["automix.verifier_n_valid"] = a.verifier_n_valid
        if a.verifier_n_samples is not None:
            attrs["automix.verifier_n_samples"] = a.verifier_n_samples
    else:  # meta_decide
        attrs["automix.cost"] = 0.0
        if a.decision is not None:
            attrs["automix.decision"] = a.decision
        if a.escalate_to is not None:
            attrs["automix.escalate_to"] = a.escalate_to
        if a.meta_verifier is not None:
            attrs["automix.meta_verifier"] = a.meta_verifier
        if a.verifier_confidence is not None:
            attrs["automix.verifier_confidence"] = float(a.verifier_confidence)
    return attrs


def _summary(outputs: Any) -> Mapping[str, Any] | None:
    """The routing trace's totals, from a graph's output.

    A graph built with its models returns the trace itself; the shared graph returns its
    state, whose attempts are summed as
    :func:`~langchain_automix.runtime.graph.result_from_state` does.
    """
    if not isinstance(outputs, Mapping):
        return None
    trace_ = outputs.get("trace")
    if isinstance(trace_, Mapping):
        return trace_
    attempts = _attempts(outputs)
    if not attempts:
        return None
    answered = [a for a in attempts if a.answer is not None]
    last = answered[-1] if answered else attempts[-1]
    money = [a.money for a in attempts if a.money is not None]
    return {
        "answered_by": last.tier,
        "answered_by_model": last.model,
        "escalated": len(attempts) > 1,
        "total_cost": sum(a.cost for a in attempts),
        "total_money": sum(money) if money else None,
        "cost_per_tier": [a.cost for a in attempts],
        "attempts": attempts,
        "usage": sum_usage(u for a in attempts for u in (a.usage, a.verify_usage)),
    }


def _query_attributes(summary: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The query span's attributes, from a routing trace (or :func:`_summary`).

    Example:
        >>> _query_attributes({"answered_by": 1, "escalated": True, "total_cost": 52.0,
        ...                    "cost_per_tier": [2, 50], "usage": {"total_tokens": 7}})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'automix.answered_by': 1, 'automix.escalated': True, 'automix.total_cost': 52.0,
         'automix.cost_per_tier': [2.0, 50.0], 'automix.usage.total_tokens': 7}
    """
    attrs: dict[str, AttributeValue] = {}
    if isinstance(summary.get("answered_by"), int):
        attrs["automix.answered_by"] = summary["answered_by"]
    if isinstance(summary.get("answered_by_model"), str):
        attrs["automix.answered_by_model"] = summary["answered_by_model"]
    if isinstance(summary.get("escalated"), bool):
        attrs["automix.escalated"] = summary["escalated"]
    for key in ("total_cost", "total_money"):
        if isinstance(summary.get(key), int | float):
            attrs[f"automix.{key}"] = float(summary[key])
    per_tier = summary.get("cost_per_tier")
    if isinstance(per_tier, Sequence):
        attrs["automix.cost_per_tier"] = [float(c) for c in per_tier]
    attempts = summary.get("attempts")
    if isinstance(attempts, Sequence):
        attrs["automix.n_attempts"] = len(attempts)
    attrs.update(_usage_attributes(summary.get("usage")))
    return attrs


def _end(span: Span, error: BaseException | None) -> None:
    """End ``span``: an exception is an error; a cancellation only says so."""
    if error is not None:
        if isinstance(error, Exception):
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.record_exception(error)
        else:  # GeneratorExit, CancelledError: the caller left, nothing failed
            span.set_attribute("automix.cancelled", True)
    span.end()


# --- configuration -------------------------------------------------------------------------


def _missing(package: str, exc: ImportError) -> ImportError:
    return ImportError(f"OpenTelemetry tracing needs {package}: {_EXTRA_HINT} ({exc})")


def _traces_url(endpoint: str) -> str:
    """A collector's base URL gets OTLP/HTTP's traces path; a full URL is kept.

    Example:
        >>> _traces_url("http://collector:4318"), _traces_url("http://c:4318/v1/traces")
        ('http://collector:4318/v1/traces', 'http://c:4318/v1/traces')
    """
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def configure_tracing(
    exporter: str = "none",
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    service_name: str = "automix",
    set_global: bool = False,
) -> OpenTelemetryCallbackHandler | None:
    """A tracing handler whose spans go to ``exporter`` (None for ``"none"``: tracing off).

    Builds an SDK ``TracerProvider`` (resource ``service.name``) with a
    ``BatchSpanProcessor``: spans are exported in the background, and the rest at exit
    (or by the handler's :meth:`~OpenTelemetryCallbackHandler.shutdown`).

    Args:
        exporter: ``"none"`` (nothing is created), ``"console"`` (spans as JSON on
            stderr) or ``"otlp"`` (OTLP over HTTP/protobuf, to a collector, Jaeger,
            Tempo, Honeycomb, ...).
        endpoint: the OTLP collector: a base URL (``http://collector:4318``, the traces
            path is added) or the full traces URL. None: the exporter's own settings
            (``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``$OTEL_EXPORTER_OTLP_ENDPOINT``,
            else ``http://localhost:4318/v1/traces``).
        headers: OTLP request headers (an API key); None: ``$OTEL_EXPORTER_OTLP_HEADERS``.
        service_name: the ``service.name`` the spans are filed under.
        set_global: also make the provider OpenTelemetry's global one (so other
            instrumentation, e.g. of the HTTP server, exports through it too).

    Returns:
        The handler to pass in ``callbacks``, or None when ``exporter`` is ``"none"``.

    Raises:
        ValueError: an unknown exporter.
        ImportError: the SDK or the OTLP exporter is missing (the ``otel`` extra).

    Example:
        >>> configure_tracing("none") is None
        True
        >>> handler = configure_tracing("console", service_name="automix-test")
        >>> handler.provider.resource.attributes["service.name"]
        'automix-test'
        >>> handler.shutdown()
    """
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)}; got {exporter!r}")
    if exporter == "none":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as exc:
        raise _missing("opentelemetry-sdk", exc) from exc
    span_exporter: Any
    if exporter == "console":
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise _missing("opentelemetry-exporter-otlp-proto-http", exc) from exc
        span_exporter = OTLPSpanExporter(
            endpoint=None if endpoint is None else _traces_url(endpoint),
            headers=None if headers is None else dict(headers),
        )
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    return OpenTelemetryCallbackHandler(provider.get_tracer(TRACER_NAME), provider=provider)


def tracing_from_env(
    environ: Mapping[str, str] | None = None, *, set_global: bool = False
) -> OpenTelemetryCallbackHandler | None:
    """:func:`configure_tracing` as the environment asks (off unless it says otherwise).

    Reads ``$AUTOMIX_OTEL_EXPORTER`` (``none``, ``console`` or ``otlp``; unset or empty:
    ``none``), the collector from ``$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
    ``$OTEL_EXPORTER_OTLP_ENDPOINT`` and the service name from ``$OTEL_SERVICE_NAME``
    (default ``automix``); headers come from ``$OTEL_EXPORTER_OTLP_HEADERS``.

    Args:
        environ: the environment to read (default ``os.environ``).
        set_global: see :func:`configure_tracing`.

    Returns:
        The handler, or None when tracing is off.

    Raises:
        ValueError: ``$AUTOMIX_OTEL_EXPORTER`` names no known exporter.

    Example:
        >>> tracing_from_env({}) is None
        True
        >>> tracing_from_env({"AUTOMIX_OTEL_EXPORTER": "jaeger"})
        Traceback (most recent call last):
        ...
        ValueError: $AUTOMIX_OTEL_EXPORTER must be one of none, console, otlp; got 'jaeger'
    """
    env = os.environ if environ is None else environ
    exporter = (env.get(EXPORTER_ENV) or "none").strip().lower()
    if exporter not in EXPORTERS:
        raise ValueError(
            f"${EXPORTER_ENV} must be one of {', '.join(EXPORTERS)}; got {env.get(EXPORTER_ENV)!r}"
        )
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint is None and base:  # a base URL always gets the traces path (OTel's spec)
        endpoint = base.rstrip("/") + "/v1/traces"
    return configure_tracing(
        exporter,
        endpoint=endpoint,
        service_name=env.get("OTEL_SERVICE_NAME") or "automix",
        set_global=set_global,
    )
