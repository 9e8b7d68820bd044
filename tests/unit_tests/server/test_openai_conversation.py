"""The OpenAI-compatible route keeps the whole conversation and never drops tools silently."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from langchain_automix.server import create_app
from tests.unit_tests.server._served import make_automix

TURNS = [
    {"role": "system", "content": "Hamlet is a tragedy by William Shakespeare, born in 1564."},
    {"role": "user", "content": "Who wrote Hamlet?"},
    {"role": "assistant", "content": "William Shakespeare."},
    {"role": "user", "content": "When was he born?"},
]


def _client() -> tuple[TestClient, object]:
    automix, small, _ = make_automix()
    return TestClient(create_app(automix, api_key_env=None), base_url="http://localhost"), small


@pytest.mark.parametrize("stream", [False, True])
def test_every_turn_reaches_the_answer_and_the_verifier(stream: bool) -> None:
    client, small = _client()
    body = {"model": "automix", "messages": TURNS, "stream": stream}
    resp = client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200
    prompts = small.prompts  # type: ignore[attr-defined]
    solve = [p for p in prompts if "AI Generated Answer:" not in p]
    verify = [p for p in prompts if "AI Generated Answer:" in p]
    assert solve and verify
    for prompt in (solve[0], verify[0]):
        assert "born in 1564" in prompt  # the system message
        assert "User: Who wrote Hamlet?" in prompt  # the earlier user turn
        assert "Assistant: William Shakespeare." in prompt  # the earlier assistant turn
        assert "When was he born?" in prompt  # the question


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        ("tool_choice", "required"),
        ("functions", [{"name": "f", "parameters": {}}]),
        ("function_call", "auto"),
        ("response_format", {"type": "json_object"}),
    ],
)
def test_tools_and_response_formats_are_refused_naming_the_field(field: str, value: object) -> None:
    client, small = _client()
    body = {"model": "automix", "messages": TURNS, field: value}
    resp = client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == field
    assert small.prompts == []  # type: ignore[attr-defined]  # refused before any model call


def test_harmless_values_pass() -> None:
    client, _ = _client()
    body = {
        "model": "automix",
        "messages": TURNS,
        "tool_choice": "none",
        "response_format": {"type": "text"},
        "tools": [],
    }
    assert client.post("/v1/chat/completions", json=body).status_code == 200


def test_n_above_one_is_a_clear_error() -> None:
    client, _ = _client()
    resp = client.post("/v1/chat/completions", json={"model": "automix", "messages": TURNS, "n": 2})
    assert resp.status_code == 422
    assert resp.json()["error"]["param"] == "n"


def test_thread_id_resumes_a_durable_run_over_the_openai_route() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from langchain_automix import AutoMixRunnable
    from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel

    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT])
    large = ScriptedChatModel(answer="Paris, France")
    automix = AutoMixRunnable(
        models=[small, large], num_verifications=2, checkpointer=InMemorySaver()
    )
    client = TestClient(create_app(automix, api_key_env=None), base_url="http://localhost")
    body = {"model": "automix", "messages": TURNS, "thread_id": "req-42"}
    first = client.post("/v1/chat/completions", json=body).json()
    calls = len(small.calls)
    again = client.post("/v1/chat/completions", json=body).json()
    assert first["automix"]["thread_id"] == again["automix"]["thread_id"] == "req-42"
    assert again["choices"][0]["message"]["content"] == "Paris"
    assert len(small.calls) == calls  # the finished thread is replayed: no model call
    bad = client.post("/v1/chat/completions", json={**body, "thread_id": "a b"})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "thread_id"
