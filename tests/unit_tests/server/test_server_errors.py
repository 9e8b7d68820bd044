"""Error handling of the real server, over raw HTTP: auth, limits, bad input, model failure."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.unit_tests.server._served import (
    MAX_BODY_BYTES,
    MAX_CONTEXT_CHARS,
    Served,
    running_server,
)

CHAT = "/v1/chat/completions"


def chat(question: str = "Capital?", **extra: object) -> dict[str, object]:
    return {"model": "automix", "messages": [{"role": "user", "content": question}], **extra}


# --- 413 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CHAT, "/automix/invoke"])
def test_body_over_limit_is_413_naming_the_limit(http: httpx.Client, path: str) -> None:
    payload = "x" * (MAX_BODY_BYTES + 10)
    body = (
        chat(context=payload) if path == CHAT else {"input": {"question": "Q?", "context": payload}}
    )
    resp = http.post(path, json=body)
    assert resp.status_code == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in resp.json()["detail"]
    assert resp.json()["error"]["code"] == "request_too_large"


def test_chunked_body_over_limit_is_413(http: httpx.Client) -> None:
    def gen() -> Iterator[bytes]:
        yield b'{"model": "automix", "messages": [], "context": "'
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b"y" * 1000
        yield b'"}'

    resp = http.post(CHAT, content=gen(), headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in resp.json()["detail"]


def test_chunked_body_under_limit_is_served(http: httpx.Client) -> None:
    def gen() -> Iterator[bytes]:
        yield b'{"model": "automix", '
        yield b'"messages": [{"role": "user", "content": "Capital?"}]}'

    resp = http.post(CHAT, content=gen(), headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "Paris"


# --- 422 -----------------------------------------------------------------------------------


def test_context_over_limit_is_422_naming_the_limit_openai(
    http: httpx.Client, served: Served
) -> None:
    calls = len(served.small.calls)
    resp = http.post(CHAT, json=chat(context="c" * (MAX_CONTEXT_CHARS + 1)))
    assert resp.status_code == 422
    assert f"over the limit of {MAX_CONTEXT_CHARS:,}" in resp.json()["error"]["message"]
    assert resp.json()["error"]["param"] == "context"
    # via the system message too
    resp = http.post(
        CHAT,
        json={
            "model": "automix",
            "messages": [
                {"role": "system", "content": "c" * (MAX_CONTEXT_CHARS + 1)},
                {"role": "user", "content": "Q?"},
            ],
        },
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["param"] == "messages"
    assert len(served.small.calls) == calls  # no model was called


def test_context_over_limit_is_422_naming_the_limit_langserve(
    http: httpx.Client, served: Served
) -> None:
    calls = len(served.small.calls)
    long_context = "c" * (MAX_CONTEXT_CHARS + 1)
    resp = http.post("/automix/invoke", json={"input": {"question": "Q?", "context": long_context}})
    assert resp.status_code == 422
    body = resp.json()
    assert str(MAX_CONTEXT_CHARS) in body["error"]["message"]
    assert body["detail"][0]["ctx"] == {"max_length": MAX_CONTEXT_CHARS}
    assert long_context not in resp.text  # the input is not echoed back
    assert len(served.small.calls) == calls


@pytest.mark.parametrize("path", [CHAT, "/automix/invoke"])
def test_malformed_json_is_422(http: httpx.Client, path: str) -> None:
    resp = http.post(
        path, content=b'{"model": "automix", ', headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == "invalid_request_error"


def test_missing_question_is_422(http: httpx.Client) -> None:
    resp = http.post(
        CHAT, json={"model": "automix", "messages": [{"role": "system", "content": "ctx"}]}
    )
    assert resp.status_code == 422
    assert "user" in resp.json()["error"]["message"]
    resp = http.post("/automix/invoke", json={"input": {"context": "ctx"}})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["question"]
    resp = http.post(CHAT, json={"model": "automix"})
    assert resp.status_code == 422 and resp.json()["error"]["param"] == "messages"


def test_blank_question_is_422(http: httpx.Client) -> None:
    resp = http.post("/automix/invoke", json={"input": {"question": "   "}})
    assert resp.status_code == 422
    assert resp.json()["error"]["param"] == "question"
    resp = http.post(CHAT, json=chat("   "))
    assert resp.status_code == 422


def test_out_of_range_knobs_are_422(http: httpx.Client) -> None:
    for configurable in ({"threshold": 1.5}, {"num_verifications": 0}):
        resp = http.post(
            "/automix/invoke",
            json={"input": {"question": "Q?"}, "config": {"configurable": configurable}},
        )
        assert resp.status_code == 422, (configurable, resp.text)
    assert http.post(CHAT, json=chat(threshold=2)).status_code == 422
    assert http.post(CHAT, json=chat(num_verifications=100)).status_code == 422


def test_unknown_model_is_404(http: httpx.Client) -> None:
    resp = http.post(CHAT, json={**chat(), "model": "gpt-4o"})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "model_not_found"


# --- 502 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, chat(threshold=0.9)),
        (CHAT, chat(threshold=0.9, stream=True)),
        (
            "/automix/invoke",
            {"input": {"question": "Q?"}, "config": {"configurable": {"threshold": 0.9}}},
        ),
    ],
    ids=["openai", "openai-stream", "langserve"],
)
def test_model_failure_is_502_with_partial_trace_then_server_recovers(
    http: httpx.Client, served: Served, path: str, body: dict[str, object]
) -> None:
    served.large.fail_solve = True
    try:
        resp = http.post(path, json=body)
    finally:
        served.large.fail_solve = False
    assert resp.status_code == 502, resp.text
    data = resp.json()
    assert "solve backend down" in data["error"]["message"]
    partial = data["automix"]
    assert partial["attempts"][0]["answer"] == "Paris"
    assert partial["attempts"][0]["decision"] == "escalate"
    assert partial["attempts"][1]["error"].startswith("RuntimeError")
    # the server keeps serving, and the large tier answers again
    ok = http.post(path, json=body)
    assert ok.status_code == 200, ok.text
    assert "Paris, France" in ok.text


# --- 401 and logs --------------------------------------------------------------------------

SECRET = "sk-automix-test-7f3a9c1e5b"  # noqa: S105 - a test key


@pytest.fixture(scope="module")
def guarded() -> Iterator[Served]:
    # log_config=None: uvicorn's loggers (access log included) propagate to caplog.
    with running_server(api_key=SECRET, log_config=None, access_log=True, log_level="info") as s:
        yield s


def test_api_key_required_and_never_logged(
    guarded: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=guarded.url, timeout=5) as http:
        for path in ("/v1/models", "/automix/input_schema", "/automix/playground/"):
            assert http.get(path).status_code == 401
        assert http.post(CHAT, json=chat()).status_code == 401
        wrong = {"Authorization": f"Bearer {SECRET[:-1]}"}
        resp = http.post(CHAT, json=chat(), headers=wrong)
        assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
        assert SECRET not in resp.text
        assert http.post(CHAT, json=chat(), headers={"Authorization": SECRET}).status_code == 401
        good = {"Authorization": f"Bearer {SECRET}"}
        resp = http.post(CHAT, json=chat(), headers=good)
        assert resp.status_code == 200
        assert (
            http.post(
                "/automix/invoke", json={"input": {"question": "Q?"}}, headers=good
            ).status_code
            == 200
        )
        assert http.get("/health").status_code == 200  # open by design
    # the logs were captured (refusals and access lines), and the key is in none of them
    assert "refused POST /v1/chat/completions: wrong bearer token" in caplog.text
    assert '/v1/chat/completions HTTP/1.1" 200' in caplog.text
    assert SECRET not in caplog.text
    assert SECRET[:-1] not in caplog.text


@pytest.mark.parametrize("path", ["/automix/playground/assets/", "/automix/playground/assets"])
def test_a_playground_folder_is_404_not_500(http: httpx.Client, path: str) -> None:
    """#26: LangServe's playground opened a folder as a file (IsADirectoryError, 500)."""
    r = http.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found_error"
    assert http.get("/automix/playground/").status_code == 200  # the page itself still serves
