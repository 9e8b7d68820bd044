"""One verification request per verified tier, whatever streaming is attached (#24).

A streaming callback handler (``astream_events``, LangServe's stream_events, a LangGraph
agent in messages mode) makes ``BaseChatModel`` stream a call; a streamed ``n = k``
request comes back as one collapsed choice and was topped up with ``k - 1`` more.
"""

from __future__ import annotations

from typing import Any

import pytest

from langchain_automix import AutoMixRunnable, Threshold
from tests.unit_tests.fake_models import INCORRECT, NChatModel

QUESTION = {"question": "Capital of France?", "context": "Paris is the capital of France."}


def _pair() -> tuple[NChatModel, NChatModel]:
    # the small model doubts its answer: the query escalates after one verification
    return NChatModel(answer="Lyon", verdicts=[INCORRECT]), NChatModel(answer="Paris")


def _automix(small: NChatModel, large: NChatModel) -> AutoMixRunnable:
    return AutoMixRunnable(models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5))


def _check(small: NChatModel) -> None:
    verify_calls = [kw for kind, kw in small.calls if kind == "verify"]
    assert len(verify_calls) == 1, [kw.get("n") for kw in verify_calls]
    assert verify_calls[0]["n"] == 8 and verify_calls[0]["stream"] is False


def test_invoke() -> None:
    small, large = _pair()
    assert _automix(small, large).invoke(QUESTION).content == "Paris"
    _check(small)


def test_stream() -> None:
    small, large = _pair()
    chunks = list(_automix(small, large).stream(QUESTION))
    assert "".join(str(c.content) for c in chunks) == "Paris"
    _check(small)


async def test_astream() -> None:
    small, large = _pair()
    chunks = [c async for c in _automix(small, large).astream(QUESTION)]
    assert "".join(str(c.content) for c in chunks) == "Paris"
    _check(small)


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_astream_events(version: Any) -> None:
    small, large = _pair()
    events = [e async for e in _automix(small, large).astream_events(QUESTION, version=version)]
    assert events
    _check(small)


async def test_astream_events_chat_model() -> None:
    from langchain_automix import ChatAutoMix

    small, large = _pair()
    chat = ChatAutoMix(models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5))
    events = [e async for e in chat.astream_events("Capital of France?", version="v2")]
    assert events
    _check(small)


def test_langserve_stream_events_route() -> None:
    from fastapi.testclient import TestClient

    from langchain_automix.server import create_app

    small, large = _pair()
    http = TestClient(
        create_app(_automix(small, large), api_key_env=None), base_url="http://localhost"
    )
    with http.stream("POST", "/automix/stream_events", json={"input": QUESTION}) as resp:
        assert resp.status_code == 200
        body = "".join(resp.iter_text())
    assert "on_chain_end" in body
    _check(small)


@pytest.mark.parametrize("mode", ["messages", "updates", "values", "custom", "debug"])
@pytest.mark.parametrize("face", ["runnable", "chat"])
def test_langgraph_agent_in_every_stream_mode(mode: str, face: str) -> None:
    """An agent's node calling AutoMix, streamed as LangGraph Studio and chat UIs do."""
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, MessagesState, StateGraph

    from langchain_automix import ChatAutoMix

    small, large = _pair()
    if face == "chat":
        model: Any = ChatAutoMix(
            models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5)
        )
    else:
        model = _automix(small, large)

    def agent(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        query = state["messages"][-1].content
        return {
            "messages": [model.invoke(query if face == "chat" else {"question": query}, config)]
        }

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    graph = builder.compile()
    parts = list(
        graph.stream(
            {"messages": [("user", "Capital of France?")]}, stream_mode=mode, subgraphs=True
        )
    )
    assert parts or mode == "custom"  # nothing of AutoMix is written to an agent's custom stream
    _check(small)
    if mode == "messages":  # no token of the rejected answer or of the verifier
        text = "".join(str(msg.content) for _, (msg, _meta) in parts)
        assert "Lyon" not in text and "Incorrect" not in text and "Paris" in text


@pytest.mark.parametrize("face", ["runnable", "chat"])
async def test_streamed_and_unstreamed_totals_agree(face: str) -> None:
    """Tokens and cost of one query are the same whether it is streamed or not."""
    from langchain_automix import AutoMixResult, ChatAutoMix

    def make() -> Any:
        small, large = _pair()
        if face == "chat":
            return ChatAutoMix(
                models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5)
            )
        return _automix(small, large)

    query: Any = "Capital of France?" if face == "chat" else QUESTION
    whole = await make().ainvoke(query)
    total = None
    async for chunk in make().astream(query):
        total = chunk if total is None else total + chunk
    assert total is not None
    assert total.usage_metadata == whole.usage_metadata
    streamed = AutoMixResult.from_message(total)
    plain = AutoMixResult.from_message(whole)
    assert streamed.total_cost == plain.total_cost == 52.0
    assert streamed.usage == plain.usage
    # and the trace's input tokens are the fake's own count: 3 prompt passes (solve, one
    # n=8 verification, solve) of 10 input tokens each
    assert plain.usage is not None and plain.usage["input_tokens"] == 30
