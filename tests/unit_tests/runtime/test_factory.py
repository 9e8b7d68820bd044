"""``create_automix_graph``: the core graph with its models, used as LangGraph uses graphs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_automix import AutoMixRunnable, create_automix_graph
from langchain_automix.runtime.graph import NODES, build_automix_graph
from tests.unit_tests.fake_models import CORRECT, INCORRECT, NChatModel

QUERY = {"question": "Capital of France?", "context": "Paris is its capital."}
SMALL, LARGE = "SMALL-ANSWER", "LARGE-ANSWER"


def tiers(verdict: str) -> tuple[NChatModel, NChatModel]:
    small = NChatModel(answer=SMALL, verdicts=[verdict])
    large = NChatModel(answer=LARGE)
    return small, large


def test_same_topology_as_the_shared_graph() -> None:
    graph = create_automix_graph(list(tiers(CORRECT)), num_verifications=2)
    nodes = {n for n in graph.get_graph().nodes if not n.startswith("__")}
    assert nodes == set(NODES)
    assert graph.get_graph().draw_mermaid() == build_automix_graph().get_graph().draw_mermaid()


@pytest.mark.parametrize(("verdict", "answer", "by"), [(CORRECT, SMALL, 0), (INCORRECT, LARGE, 1)])
def test_invoke_returns_answer_trace_and_message(verdict: str, answer: str, by: int) -> None:
    small, large = tiers(verdict)
    graph = create_automix_graph([small, large], num_verifications=4)
    out = graph.invoke(QUERY)
    assert set(out) == {"question", "context", "answer", "trace", "message"}
    assert out["answer"] == answer and out["trace"]["answered_by"] == by
    assert isinstance(out["message"], AIMessage) and out["message"].content == answer
    assert out["message"].response_metadata["automix"] == out["trace"]
    assert small.count("verify") == 1  # one n=4 request
    same = AutoMixRunnable(models=[small, large], num_verifications=4).invoke_result(QUERY)
    assert same.answer == answer and same.total_cost == out["trace"]["total_cost"]


def test_run_context_knobs_tune_the_run() -> None:
    small = NChatModel(answer=SMALL, verdicts=[CORRECT, INCORRECT])  # confidence 0.5
    graph = create_automix_graph([small, NChatModel(answer=LARGE)], num_verifications=2)
    assert graph.invoke(QUERY)["answer"] == SMALL  # default threshold 0.5 keeps it
    assert graph.invoke(QUERY, context={"threshold": 0.9})["answer"] == LARGE
    out = asyncio.run(graph.ainvoke(QUERY, context={"num_verifications": 4}))
    assert out["trace"]["attempts"][0]["verifier_n_samples"] == 4
    with pytest.raises(ValueError, match="unknown run context keys \\['model'\\]"):
        graph.invoke(QUERY, context={"model": "gpt"})
    assert small.count("solve") == 3  # the refused run called no model


def test_bad_settings_fail_before_any_call() -> None:
    with pytest.raises(ValueError, match="two or more"):
        create_automix_graph([NChatModel()])


def _texts(items: list[Any]) -> str:
    return " ".join(str(m.content) for m in items if isinstance(m, BaseMessage))


@pytest.mark.parametrize("subgraphs", [False, True])
@pytest.mark.parametrize(
    ("verdict", "shown", "hidden"), [(CORRECT, SMALL, LARGE), (INCORRECT, LARGE, SMALL)]
)
def test_messages_stream_shows_only_the_accepted_answer(
    verdict: str, shown: str, hidden: str, subgraphs: bool
) -> None:
    small, large = tiers(verdict)
    graph = create_automix_graph([small, large], num_verifications=3)
    seen = []
    for item in graph.stream(QUERY, stream_mode="messages", subgraphs=subgraphs):
        _, (message, _meta) = item if subgraphs else ((), item)
        seen.append(message)
    text = _texts(seen)
    assert shown in text
    assert hidden not in text
    assert "Verification Decision" not in text and "Correct" not in text  # no verifier sample
    assert small.count("verify") == 1  # the streaming handler does not split the n=3 request


async def test_every_stream_mode_keeps_rejected_answers_out_until_the_trace() -> None:
    small, large = tiers(INCORRECT)
    graph = create_automix_graph([small, large], num_verifications=2)
    modes = ["values", "updates", "messages", "custom"]
    chunks = [c async for c in graph.astream(QUERY, stream_mode=modes)]
    for mode, chunk in chunks:
        if mode == "messages":
            assert SMALL not in str(chunk[0].content)
        elif mode in ("values", "updates"):
            state = chunk if mode == "values" else next(iter(chunk.values()), None) or {}
            # output keys only: the trace (with the rejected answer) comes at the end
            assert set(state) <= {"question", "context", "answer", "trace", "message"}
            assert state.get("answer") in (None, LARGE)
    last_values = [c for m, c in chunks if m == "values"][-1]
    assert last_values["trace"]["attempts"][0]["answer"] == SMALL  # recorded, not streamed


def test_checkpointer_saves_each_node_and_replays() -> None:
    small, large = tiers(INCORRECT)
    graph = create_automix_graph([small, large], num_verifications=1, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    assert graph.invoke(QUERY, config)["answer"] == LARGE
    history = list(graph.get_state_history(config))
    assert len(history) >= 5  # input, then one checkpoint per node
    assert graph.get_state(config).values["answer"] == LARGE
