"""A real uvicorn server driven by real clients: LangServe's RemoteRunnable and openai."""

from __future__ import annotations

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langserve import RemoteRunnable

from tests.unit_tests.server._served import Served

QUESTION = {"question": "What is the capital of France?", "context": "Paris is France's capital."}


@pytest.fixture
def remote(served: Served) -> RemoteRunnable:
    return RemoteRunnable(f"{served.url}/automix")


@pytest.fixture
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)


# --- LangServe -----------------------------------------------------------------------------


def test_remote_invoke_returns_answer_and_trace(remote: RemoteRunnable) -> None:
    msg = remote.invoke(QUESTION)
    assert isinstance(msg, AIMessage)
    assert msg.content == "Paris"
    trace = msg.response_metadata["automix"]
    assert trace["answered_by"] == 0 and trace["escalated"] is False
    assert trace["attempts"][0]["verifier_confidence"] == 0.5
    assert trace["attempts"][0]["decision"] == "accept"
    assert trace["total_cost"] == 2.0
    assert msg.usage_metadata is not None and msg.usage_metadata["total_tokens"] == 36


def test_remote_invoke_per_request_threshold_and_k(remote: RemoteRunnable) -> None:
    msg = remote.invoke(QUESTION, config={"configurable": {"threshold": 0.9}})
    trace = msg.response_metadata["automix"]
    assert msg.content == "Paris, France"
    assert trace["escalated"] is True and trace["answered_by"] == 1
    assert trace["attempts"][0]["meta_verifier"] == "threshold(<0.9)"
    msg = remote.invoke(QUESTION, config={"configurable": {"num_verifications": 4}})
    assert msg.response_metadata["automix"]["attempts"][0]["verifier_n_samples"] == 4


def test_remote_batch(remote: RemoteRunnable, served: Served) -> None:
    questions = [{"question": f"Question {i}?", "context": "Paris."} for i in range(4)]
    before = served.small.count("solve")
    out = remote.batch(questions)
    assert len(out) == 4
    assert all(isinstance(m, AIMessage) and m.content in ("Paris", "Paris, France") for m in out)
    assert all("automix" in m.response_metadata for m in out)
    assert served.small.count("solve") - before == 4


def test_remote_stream(remote: RemoteRunnable) -> None:
    chunks = list(remote.stream(QUESTION))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks) == "Paris"
    assert chunks[-1].response_metadata["automix"]["answered_by"] == 0


def test_remote_stream_escalated_streams_large_tokens(remote: RemoteRunnable) -> None:
    chunks = list(remote.stream(QUESTION, config={"configurable": {"threshold": 0.9}}))
    text_chunks = [c for c in chunks if c.content]
    assert "".join(str(c.content) for c in text_chunks) == "Paris, France"
    assert len(text_chunks) == 2  # the large tier's tokens, as they came
    assert chunks[-1].response_metadata["automix"]["escalated"] is True


async def test_remote_astream_events(remote: RemoteRunnable) -> None:
    names = set()
    async for event in remote.astream_events(QUESTION, version="v2"):
        names.add(event["event"])
    assert {"on_chain_start", "on_chain_end"} <= names


def test_schemas_and_playground(http: httpx.Client) -> None:
    schema = http.get("/automix/input_schema").json()
    assert set(schema["properties"]) == {"question", "context"}
    assert schema["properties"]["context"]["maxLength"] == 2_000
    assert "anyOf" not in str(schema)  # the playground cannot render nullable fields
    out = http.get("/automix/output_schema").json()
    # an AIMessage, or (in a batch) a failed item's error object
    assert "content" in out["$defs"]["AIMessage"]["properties"]
    assert {"error", "automix"} <= set(out["$defs"]["BatchItemError"]["properties"])
    config = http.get("/automix/config_schema").json()
    assert set(config["$defs"]["Configurable"]["properties"]) == {
        "threshold",
        "num_verifications",
    }
    page = http.get("/automix/playground/")
    assert page.status_code == 200 and "<title>Playground</title>" in page.text
    assert http.get("/health").json()["tiers"] == ["scripted", "scripted"]


# --- OpenAI-compatible ---------------------------------------------------------------------


def test_openai_models(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["automix"]


def test_openai_chat_with_system_context(client: openai.OpenAI, served: Served) -> None:
    before = len(served.small.prompts)
    resp = client.chat.completions.create(
        model="automix",
        messages=[
            {"role": "system", "content": "Paris is France's capital."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    )
    assert resp.choices[0].message.content == "Paris"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens == 36
    trace = resp.model_extra["automix"]  # type: ignore[index]
    assert trace["answered_by"] == 0 and trace["attempts"][0]["verifier_confidence"] == 0.5
    # The system message reached the model as the context, the user message as the question.
    solve_prompt = served.small.prompts[before]
    assert "Paris is France's capital." in solve_prompt
    assert "What is the capital of France?" in solve_prompt


def test_openai_chat_extra_body_context_and_threshold(
    client: openai.OpenAI, served: Served
) -> None:
    resp = client.chat.completions.create(
        model="automix",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        extra_body={"context": "Paris is France's capital.", "threshold": 0.9},
    )
    trace = resp.model_extra["automix"]  # type: ignore[index]
    assert "Paris is France's capital." in served.small.prompts[-1]
    assert resp.choices[0].message.content == "Paris, France"
    assert trace["escalated"] is True and trace["answered_by_model"] == "scripted"
    assert trace["cost_per_tier"] == [2.0, 50.0]


def test_openai_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="automix",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        extra_body={"context": "Paris.", "threshold": 0.9},
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Paris, France"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert finish[0].model_extra["automix"]["escalated"] is True  # type: ignore[index]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.id == chunks[0].id for c in chunks)


def test_openai_stream_raw_sse_ends_with_done(http: httpx.Client) -> None:
    body = {
        "model": "automix",
        "messages": [{"role": "user", "content": "Capital?"}],
        "stream": True,
    }
    resp = http.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line for line in resp.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"automix"' in events[-2]


def test_remote_invoke_takes_a_plain_string_like_local_invoke(remote: RemoteRunnable) -> None:
    """#24: LangServe validates against the input schema, which now reads a string too."""
    msg = remote.invoke("What is the capital of France?")
    assert isinstance(msg, AIMessage) and msg.content
    assert msg.response_metadata["automix"]["answered_by"] in (0, 1)
