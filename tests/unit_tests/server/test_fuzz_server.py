"""Schemathesis fuzzing of the HTTP API from its OpenAPI schema (fake models, in process).

Every generated request, valid or not, must get a non-5xx answer, and a 4xx error body
must be the shared error format naming what was wrong (``error.param`` or a message
that names the field). Bounded and deterministic: a few examples per operation,
``derandomize=True``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from langchain_automix import AutoMixRunnable
from langchain_automix.observability import TraceLog
from langchain_automix.server import create_app
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

MAX_BODY_BYTES = 20_000


def _app() -> Any:
    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT, INCORRECT])
    large = ScriptedChatModel(answer="Paris, France")
    automix = AutoMixRunnable(models=[small, large], num_verifications=2, max_context_chars=2_000)
    # every operator route too: /metrics, /automix/policy, /automix/feedback
    log = TraceLog(Path(tempfile.mkdtemp(prefix="automix-fuzz-")) / "traces.jsonl")
    return create_app(
        automix, api_key_env=None, max_body_bytes=MAX_BODY_BYTES, metrics=True, trace_log=log
    )


APP = _app()
# token_feedback needs LangSmith (off here: always 400); everything else is fuzzed.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path_regex="token_feedback")

FUZZ = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


FIELD_WORDS = ("body", "input", "config", "question", "context", "messages", "model")


def _check_error_body(case: Any, response: Any) -> None:
    status = response.status_code
    if not 400 <= status < 500 or status in (404, 405):
        return
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    error = body.get("error")
    assert isinstance(error, dict), f"{case.method} {case.path}: no 'error' in {body}"
    message = error.get("message")
    assert isinstance(message, str) and message, body
    param = error.get("param")
    if status not in (400, 422):
        return
    if param:
        leaf = str(param).split(".")[-1]
        assert leaf in message, f"{case.method} {case.path}: message misses {param!r}: {body}"
        return
    # Errors raised by FastAPI / LangServe themselves name the field in their message.
    words = message.lower().replace("_", " ")
    assert any(field in words for field in FIELD_WORDS), (
        f"{case.method} {case.path}: 422 naming no field: {body}"
    )


@schema.parametrize()
@FUZZ
def test_api_never_answers_5xx_and_errors_name_the_field(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    _check_error_body(case, response)


# --- regressions of what the fuzzing found (each was a 500 or a body without "error") ------


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(APP, base_url="http://localhost", raise_server_exceptions=False) as c:
        yield c


Q = {"question": "Capital?"}


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/automix/invoke", {"input": Q, "config": None}, "config"),
        ("/automix/stream", {"input": Q, "config": "x"}, "config"),
        ("/automix/batch", {"inputs": None, "config": []}, "inputs"),
        (
            "/automix/invoke",
            {"input": Q, "config": {"configurable": {"threshold": True}}},
            "threshold",
        ),
        (
            "/automix/stream",
            {"input": Q, "config": {"configurable": {"num_verifications": 0}}},
            "num_verifications",
        ),
        (
            "/automix/stream",
            {"input": Q, "config": {"configurable": {"num_verifications": False}}},
            "num_verifications",
        ),
        (
            "/automix/stream_events",
            {"input": Q, "config": {"configurable": {"num_verifications": 1.5}}},
            "num_verifications",
        ),
    ],
)
def test_malformed_langserve_bodies_are_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], param: str
) -> None:
    resp = client.post(path, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["param"] == param
    assert param in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/automix/invoke", "/automix/stream_events", "/v1/chat/completions"]
)
def test_a_body_that_is_not_utf8_is_422(client: TestClient, path: str) -> None:
    resp = client.post(path, content=b"\x80\xff", headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["param"] == "body"


def test_http_exceptions_use_the_shared_error_body(client: TestClient) -> None:
    resp = client.post("/automix/c/0/invoke", json={"input": Q})
    assert resp.status_code == 400
    assert resp.json()["detail"] == "Invalid config hash"
    assert resp.json()["error"]["message"] == "Invalid config hash"
    resp = client.get("/no/such/route")
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found_error"


def test_a_batch_item_failing_the_input_model_is_422(client: TestClient) -> None:
    resp = client.post("/automix/batch", json={"inputs": [{"question": ""}]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["param"] == "question"


def test_the_operator_routes_are_fuzzed_too() -> None:
    paths = APP.openapi()["paths"]
    assert "/automix/feedback" in paths and "/automix/policy" in paths
