"""OpenTelemetry spans of AutoMix queries: names, nesting, attributes, every entry point."""

from __future__ import annotations

import asyncio
import doctest
import importlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest

pytest.importorskip("opentelemetry.sdk")

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from langchain_automix import (
    AutoMixModelError,
    AutoMixResult,
    AutoMixRunnable,
    ChatAutoMix,
    create_automix_graph,
)
from langchain_automix.meta_verifiers import MetaVerifier, Observation
from langchain_automix.observability import (
    QUERY_SPAN,
    OpenTelemetryCallbackHandler,
    configure_tracing,
    tracing_from_env,
)
from langchain_automix.observability import tracing as tracing_module
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

QUERY = "What is the capital of France?"
NODE_SPANS = {"solve_small", "self_verify", "meta_decide", "solve_large"}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def handler(provider: TracerProvider) -> OpenTelemetryCallbackHandler:
    return OpenTelemetryCallbackHandler(provider.get_tracer("test"))


def accepting(**settings: Any) -> AutoMixRunnable:
    """Tier 0 verifies with confidence 0.75 (3 of 4 samples say Correct; at least 0.5 for
    queries run side by side, which share the samples): accepted."""
    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT, CORRECT, CORRECT, INCORRECT])
    settings.setdefault("num_verifications", 4)
    return AutoMixRunnable(models=[small, ScriptedChatModel(answer="Paris, France")], **settings)


def escalating(verdicts: tuple[str, ...] = (INCORRECT,), **settings: Any) -> AutoMixRunnable:
    """Tier 0 verifies with confidence 0 (or below 0.5, from ``verdicts`` in turn: queries
    run side by side share them): escalated to tier 1."""
    small = ScriptedChatModel(answer="Lyon", verdicts=list(verdicts))
    settings.setdefault("num_verifications", 4)
    return AutoMixRunnable(models=[small, ScriptedChatModel(answer="Paris France")], **settings)


def queries(exporter: InMemorySpanExporter) -> list[tuple[ReadableSpan, list[ReadableSpan]]]:
    """Each query span with its node spans (in start order), checked to be its children."""
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("automix.")]
    roots = [s for s in spans if s.name == QUERY_SPAN]
    by_id = {r.context.span_id: r for r in roots}
    children: dict[int, list[ReadableSpan]] = {r.context.span_id: [] for r in roots}
    for span in spans:
        if span.name == QUERY_SPAN:
            continue
        assert span.name.removeprefix("automix.") in NODE_SPANS, span.name
        assert span.parent is not None, f"{span.name} has no parent"
        parent = by_id.get(span.parent.span_id)
        assert parent is not None, f"{span.name} is not a child of a query span"
        assert span.context.trace_id == parent.context.trace_id
        children[parent.context.span_id].append(span)
    return [
        (r, sorted(children[r.context.span_id], key=lambda s: s.start_time or 0)) for r in roots
    ]


def names(nodes: list[ReadableSpan]) -> list[str]:
    return [s.name.removeprefix("automix.") for s in nodes]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def assert_matches_trace(query: ReadableSpan, nodes: list[ReadableSpan], trace_: dict[str, Any]):
    """The spans say what the routing trace says: totals, costs per tier, usage."""
    q = attrs(query)
    assert q["automix.answered_by"] == trace_["answered_by"]
    assert q["automix.answered_by_model"] == trace_["answered_by_model"]
    assert q["automix.escalated"] == trace_["escalated"]
    assert q["automix.total_cost"] == trace_["total_cost"]
    assert list(q["automix.cost_per_tier"]) == trace_["cost_per_tier"]
    assert q["automix.n_attempts"] == len(trace_["attempts"])
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        assert q[f"automix.usage.{key}"] == trace_["usage"][key]
    # the node costs sum to each tier's cost, and the last node of a tier says it
    per_tier: dict[int, float] = {}
    last_tier_cost: dict[int, float] = {}
    for node in nodes:
        a = attrs(node)
        if "automix.tier" not in a:  # a verification the policy does not read: not made
            assert node.name == "automix.self_verify" and set(a) == {"automix.node", "automix.step"}
            continue
        per_tier[a["automix.tier"]] = per_tier.get(a["automix.tier"], 0.0) + a["automix.cost"]
        last_tier_cost[a["automix.tier"]] = a["automix.tier_cost"]
    reached = {a["tier"]: a["cost"] for a in trace_["attempts"] if not a["skipped"]}
    assert per_tier == reached
    assert last_tier_cost == reached
    assert sum(per_tier.values()) == trace_["total_cost"]


# ----------------------------------------------------------------------------- structure


def test_an_accepted_query_is_one_span_with_three_node_children(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    msg = accepting().invoke(QUERY, {"callbacks": [handler]})
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide"]
    assert query.parent is None
    assert query.status.status_code is StatusCode.UNSET
    solve, verify, decide = map(attrs, nodes)
    assert solve["automix.tier"] == 0 and solve["automix.model"] == "scripted"
    assert solve["automix.usage.input_tokens"] == 10 and solve["automix.usage.output_tokens"] == 2
    assert verify["automix.verifier_confidence"] == 0.75
    assert verify["automix.verifier_n_valid"] == 4 and verify["automix.verifier_n_samples"] == 4
    assert verify["automix.usage.input_tokens"] == 40  # 4 samples of 10 tokens in
    assert decide["automix.decision"] == "accept"
    assert decide["automix.verifier_confidence"] == 0.75
    assert decide["automix.meta_verifier"] == "threshold(<0.5)"
    assert attrs(query)["automix.answered_by"] == 0
    assert attrs(query)["automix.escalated"] is False
    assert [attrs(n)["automix.step"] for n in nodes] == [1, 2, 3]
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])
    # the query span covers its nodes
    assert query.start_time is not None and query.end_time is not None
    assert all(query.start_time <= (n.start_time or 0) for n in nodes)
    assert all((n.end_time or 0) <= query.end_time for n in nodes)


def test_an_escalated_query_says_so_in_its_decision_and_totals(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    one_in_four = (CORRECT, INCORRECT, INCORRECT, INCORRECT)
    msg = escalating(one_in_four).invoke(QUERY, {"callbacks": [handler]})
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide", "solve_large"]
    decide, large = attrs(nodes[2]), attrs(nodes[3])
    assert decide["automix.decision"] == "escalate"
    assert decide["automix.verifier_confidence"] == 0.25
    assert large["automix.tier"] == 1 and large["automix.cost"] == 50.0
    assert "automix.decision" not in large  # the final tier is not decided on
    q = attrs(query)
    assert q["automix.escalated"] is True and q["automix.answered_by"] == 1
    assert q["automix.total_cost"] == 52.0 and list(q["automix.cost_per_tier"]) == [2.0, 50.0]
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])


def _run(mode: str, automix: AutoMixRunnable, config: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer two queries (one for invoke and stream) and return their traces."""
    if mode == "invoke":
        out = [automix.invoke(QUERY, config)]
    elif mode == "ainvoke":
        out = [asyncio.run(automix.ainvoke(QUERY, config))]
    elif mode == "batch":
        out = automix.batch([QUERY, "Where is Paris?"], config)
    elif mode == "abatch":
        out = asyncio.run(automix.abatch([QUERY, "Where is Paris?"], config))
    elif mode == "stream":
        out = [list(automix.stream(QUERY, config))[-1]]
    else:

        async def consume() -> list[Any]:
            return [c async for c in automix.astream(QUERY, config)]

        out = [asyncio.run(consume())[-1]]
    return [m.response_metadata["automix"] for m in out]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "batch", "abatch", "stream", "astream"])
@pytest.mark.parametrize("make", [accepting, escalating], ids=["accept", "escalate"])
def test_every_entry_point_nests_nodes_under_their_own_query(
    mode: str,
    make: Any,
    exporter: InMemorySpanExporter,
    handler: OpenTelemetryCallbackHandler,
) -> None:
    traces = _run(mode, make(), {"callbacks": [handler]})
    found = queries(exporter)
    assert len(found) == len(traces)
    expected = ["solve_small", "self_verify", "meta_decide"]
    if make is escalating:
        expected.append("solve_large")
    for (query, nodes), trace_ in zip(found, traces, strict=True):
        assert names(nodes) == expected
        assert_matches_trace(query, nodes, trace_)
    assert len({q.context.trace_id for q, _ in found}) == len(found)  # one trace per query
    assert not (handler._pending or handler._queries or handler._nodes)  # nothing left open


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_chat_automix_is_traced_too(
    mode: str, exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    chat = ChatAutoMix(automix=escalating())
    messages = [HumanMessage(QUERY)]
    config: Any = {"callbacks": [handler]}
    if mode == "invoke":
        msg: Any = chat.invoke(messages, config)
    elif mode == "ainvoke":
        msg = asyncio.run(chat.ainvoke(messages, config))
    elif mode == "stream":
        msg = None
        for chunk in chat.stream(messages, config):
            msg = chunk if msg is None else msg + chunk
    else:

        async def consume() -> Any:
            total = None
            async for chunk in chat.astream(messages, config):
                total = chunk if total is None else total + chunk
            return total

        msg = asyncio.run(consume())
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide", "solve_large"]
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])


def test_the_query_span_is_a_child_of_the_span_current_at_the_call(
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
    handler: OpenTelemetryCallbackHandler,
) -> None:
    """An HTTP server's request span (say) holds the query, batched on worker threads too."""
    automix = accepting()
    with provider.get_tracer("app").start_as_current_span("request") as request:
        automix.invoke(QUERY, {"callbacks": [handler]})
        automix.batch([QUERY, QUERY], {"callbacks": [handler]})
    found = queries(exporter)
    assert len(found) == 3
    for query, _ in found:
        assert query.parent is not None
        assert query.parent.span_id == request.get_span_context().span_id
        assert query.context.trace_id == request.get_span_context().trace_id


def test_spans_are_parented_by_run_ids_not_by_the_thread_a_callback_runs_on(
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
    handler: OpenTelemetryCallbackHandler,
) -> None:
    """Callbacks driven by hand: the graph starts under a request span; its node starts
    on another thread (no current span there) and is never told its end (a cancelled
    task): the query still holds the request's place and closes the node."""
    graph_run, node_run = uuid4(), uuid4()
    with provider.get_tracer("app").start_as_current_span("request") as request:
        handler.on_chain_start({}, {"question": QUERY}, run_id=graph_run, name="AutoMix")
    worker = threading.Thread(
        target=handler.on_chain_start,
        args=({}, {"question": QUERY}),
        kwargs={
            "run_id": node_run,
            "parent_run_id": graph_run,
            "metadata": {"langgraph_node": "solve_small", "langgraph_step": 1},
            "name": "solve_small",
        },
    )
    worker.start()
    worker.join()
    handler.on_chain_error(asyncio.CancelledError(), run_id=graph_run)
    ((query, nodes),) = queries(exporter)
    assert query.parent is not None
    assert query.parent.span_id == request.get_span_context().span_id
    assert names(nodes) == ["solve_small"]
    assert attrs(query)["automix.cancelled"] is True and attrs(nodes[0])["automix.cancelled"]
    assert query.status.status_code is StatusCode.UNSET
    assert not (handler._pending or handler._queries or handler._nodes)


# ----------------------------------------------------------------------------- tiers


class _SkipToLast(MetaVerifier):
    name = "skip_to_last_test"

    def decide(self, observation: Observation) -> Any:
        return observation.n_tiers - 1 if observation.confidence < 0.5 else "accept"


def test_three_tiers_trace_every_tier_and_skips(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    costs = (1.0, 10.0, 50.0)
    models = [ScriptedChatModel(answer=f"a{i}", verdicts=[INCORRECT]) for i in range(3)]
    msg = AutoMixRunnable(models=models, costs=costs, num_verifications=2).invoke(
        QUERY, {"callbacks": [handler]}
    )
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == [
        "solve_small",
        "self_verify",
        "meta_decide",
        "solve_large",
        "self_verify",
        "meta_decide",
        "solve_large",
    ]
    assert [attrs(n)["automix.tier"] for n in nodes] == [0, 0, 0, 1, 1, 1, 2]
    assert [attrs(n).get("automix.decision") for n in nodes if "meta_decide" in n.name] == [
        "escalate",
        "escalate",
    ]
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])

    exporter.clear()
    models = [ScriptedChatModel(answer=f"a{i}", verdicts=[INCORRECT]) for i in range(3)]
    msg = AutoMixRunnable(models=models, costs=costs, meta_verifier=_SkipToLast()).invoke(
        QUERY, {"callbacks": [handler]}
    )
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide", "solve_large"]
    assert attrs(nodes[2])["automix.escalate_to"] == 2
    large = attrs(nodes[3])
    assert large["automix.tier"] == 2 and list(large["automix.skipped_tiers"]) == [1]
    assert list(attrs(query)["automix.cost_per_tier"]) == [2.0, 0.0, 50.0]
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])


class _NoVerification(MetaVerifier):
    name = "no_verification_test"

    def decide(self, observation: Observation) -> Any:
        return "accept"

    def reads_verifier(self) -> bool:
        return False


def test_a_policy_without_verification_leaves_self_verify_bare(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    automix = AutoMixRunnable(
        models=[ScriptedChatModel(), ScriptedChatModel()], meta_verifier=_NoVerification()
    )
    msg = automix.invoke(QUERY, {"callbacks": [handler]})
    ((query, nodes),) = queries(exporter)
    verify = attrs(nodes[1])
    assert names(nodes)[1] == "self_verify" and "automix.verifier_confidence" not in verify
    assert set(verify) == {"automix.node", "automix.step"}
    assert attrs(nodes[2])["automix.decision"] == "accept"
    assert_matches_trace(query, nodes, msg.response_metadata["automix"])


def test_a_graph_built_with_its_models_is_traced_from_its_published_trace(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    """Its own name, and meta_decide's inner run (named like the node) is no extra span."""
    graph = create_automix_graph(
        [ScriptedChatModel(verdicts=[CORRECT]), ScriptedChatModel()],
        num_verifications=2,
        name="Served",
    )
    out = graph.invoke({"question": QUERY}, {"callbacks": [handler]})
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide"]
    assert attrs(query)["automix.graph"] == "Served"
    assert_matches_trace(query, nodes, out["trace"])


# ----------------------------------------------------------------------------- errors


def test_a_failed_final_tier_ends_the_query_span_in_error(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    automix = AutoMixRunnable(
        models=[ScriptedChatModel(verdicts=[INCORRECT]), ScriptedChatModel(fail_solve=True)],
        num_verifications=1,
    )
    with pytest.raises(AutoMixModelError) as info:
        automix.invoke(QUERY, {"callbacks": [handler]})
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "self_verify", "meta_decide", "solve_large"]
    assert query.status.status_code is StatusCode.ERROR
    assert "AutoMixModelError" in (query.status.description or "")
    assert [e.name for e in query.events] == ["exception"]
    assert query.events[0].attributes["exception.type"].endswith("AutoMixModelError")
    large = nodes[-1]
    assert large.status.status_code is StatusCode.ERROR
    assert attrs(large)["automix.tier"] == 1
    assert attrs(large)["automix.error"] == "RuntimeError: solve backend down"
    assert all(n.status.status_code is StatusCode.UNSET for n in nodes[:-1])
    partial = info.value.partial
    assert isinstance(partial, AutoMixResult)
    assert attrs(query)["automix.total_cost"] == partial.total_cost
    assert list(attrs(query)["automix.cost_per_tier"]) == partial.cost_per_tier
    assert not (handler._pending or handler._queries or handler._nodes)


def test_a_failed_first_tier_escalates_without_an_error_status(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    automix = AutoMixRunnable(models=[ScriptedChatModel(fail_solve=True), ScriptedChatModel()])
    asyncio.run(automix.ainvoke(QUERY, {"callbacks": [handler]}))
    ((query, nodes),) = queries(exporter)
    assert names(nodes) == ["solve_small", "solve_large"]
    assert attrs(nodes[0])["automix.error"] == "RuntimeError: solve backend down"
    assert all(s.status.status_code is StatusCode.UNSET for s in [query, *nodes])


def test_a_stream_left_early_ends_its_spans_as_cancelled(
    exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    stream = escalating().stream(QUERY, {"callbacks": [handler]})
    assert next(stream).content == "Paris"
    stream.close()
    ((query, _),) = queries(exporter)
    assert attrs(query)["automix.cancelled"] is True
    assert query.status.status_code is StatusCode.UNSET
    assert not (handler._pending or handler._queries or handler._nodes)


# ----------------------------------------------------------------------------- other callbacks


class Recorder(BaseCallbackHandler):
    """Another handler (LangSmith's, say): what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str | None]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_start", kwargs.get("name")))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_end", None))

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.events.append(("chat_model_start", kwargs.get("name")))

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(("llm_end", None))


@pytest.mark.parametrize("mode", ["invoke", "abatch"])
def test_other_callbacks_still_receive_every_event(
    mode: str, exporter: InMemorySpanExporter, handler: OpenTelemetryCallbackHandler
) -> None:
    alone, beside = Recorder(), Recorder()
    _run(mode, escalating(), {"callbacks": [alone]})
    assert exporter.get_finished_spans() == ()
    _run(mode, escalating(), {"callbacks": [beside, handler]})
    assert queries(exporter)
    assert sorted(beside.events, key=str) == sorted(alone.events, key=str)
    assert ("chain_start", "solve_large") in beside.events
    assert sum(1 for e in beside.events if e[0] == "chat_model_start") >= 6  # 1 + 4 + 1 calls


def test_the_default_tracer_is_the_global_providers() -> None:
    """Without an SDK provider set, spans are no-ops and the query still answers."""
    handler = OpenTelemetryCallbackHandler()
    assert accepting().invoke(QUERY, {"callbacks": [handler]}).content == "Paris"
    assert not (handler._pending or handler._queries or handler._nodes)
    assert handler.force_flush() is True
    handler.shutdown()


# ----------------------------------------------------------------------------- configuration


class _CapturingExporter(InMemorySpanExporter):
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        _CapturingExporter.made.append(kwargs)


@pytest.fixture
def otlp(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    module = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    monkeypatch.setattr(module, "OTLPSpanExporter", _CapturingExporter)
    _CapturingExporter.made = []
    return _CapturingExporter.made


def test_tracing_is_off_unless_asked_for(otlp: list[dict[str, Any]]) -> None:
    assert configure_tracing() is None
    assert configure_tracing("none") is None
    assert tracing_from_env({}) is None
    assert tracing_from_env({"AUTOMIX_OTEL_EXPORTER": ""}) is None
    assert otlp == []
    with pytest.raises(ValueError, match="one of none, console, otlp; got 'zipkin'"):
        configure_tracing("zipkin")
    with pytest.raises(ValueError, match=r"\$AUTOMIX_OTEL_EXPORTER must be one of"):
        tracing_from_env({"AUTOMIX_OTEL_EXPORTER": "zipkin"})


def test_otlp_exports_to_the_endpoint_asked_for(otlp: list[dict[str, Any]]) -> None:
    handler = configure_tracing(
        "otlp", endpoint="http://collector:4318", headers={"x-key": "k"}, service_name="svc"
    )
    assert handler is not None
    assert otlp == [{"endpoint": "http://collector:4318/v1/traces", "headers": {"x-key": "k"}}]
    assert handler.provider.resource.attributes["service.name"] == "svc"
    handler.shutdown()

    env = {
        "AUTOMIX_OTEL_EXPORTER": " OTLP ",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/otlp/",
        "OTEL_SERVICE_NAME": "from-env",
    }
    handler = tracing_from_env(env)
    assert handler is not None
    assert otlp[-1]["endpoint"] == "http://base:4318/otlp/v1/traces"
    assert handler.provider.resource.attributes["service.name"] == "from-env"
    handler.shutdown()
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://traces:4318/custom"
    handler = tracing_from_env(env)
    assert handler is not None and otlp[-1]["endpoint"] == "http://traces:4318/custom"
    handler.shutdown()
    handler = tracing_from_env({"AUTOMIX_OTEL_EXPORTER": "otlp"})
    assert handler is not None and otlp[-1]["endpoint"] is None  # the exporter's own default
    assert handler.provider.resource.attributes["service.name"] == "automix"
    handler.shutdown()


def test_a_configured_handler_exports_in_batches_to_the_console(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = configure_tracing("console", service_name="automix-test")
    assert handler is not None
    accepting().invoke(QUERY, {"callbacks": [handler]})
    assert handler.force_flush() is True
    handler.shutdown()
    err = capsys.readouterr().err
    assert '"name": "automix.query"' in err and '"automix.decision": "accept"' in err
    assert '"service.name": "automix-test"' in err


def test_a_missing_exporter_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ImportError, match=r"opentelemetry-exporter-otlp-proto-http: pip install "):
        configure_tracing("otlp")
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ImportError, match=r"langchain-automix\[otel\]"):
        configure_tracing("console")


def test_set_global_makes_the_provider_opentelemetrys(monkeypatch: pytest.MonkeyPatch) -> None:
    set_to: list[Any] = []
    monkeypatch.setattr(trace, "set_tracer_provider", set_to.append)
    handler = configure_tracing("console", set_global=True)
    assert handler is not None and set_to == [handler.provider]
    handler.shutdown()


def test_docstring_examples() -> None:
    """The module's examples (it needs the ``otel`` extra, so test_doctests leaves it out)."""
    result = doctest.testmod(tracing_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
