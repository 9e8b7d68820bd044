"""A client that drops a stream mid-answer stops the final tier's generation.

A real uvicorn server on loopback (the in-process transports never report a
disconnect): the client reads the first tokens of an escalated answer, closes the
connection, and the slow final tier must see the cancellation and stop producing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx
import pytest

from langchain_automix import AutoMixRunnable
from langchain_automix.server import create_app
from langchain_automix.server.background import serve_in_thread
from tests.unit_tests.fake_models import INCORRECT, ScriptedChatModel, SlowStreamChatModel

N_TOKENS = 300
DELAY = 0.01  # the whole final answer takes about 3 s


@dataclass
class SlowServer:
    url: str
    large: SlowStreamChatModel


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    small = ScriptedChatModel(answer="small answer", verdicts=[INCORRECT])
    large = SlowStreamChatModel(n_tokens=N_TOKENS, delay=DELAY)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    with serve_in_thread(create_app(automix, api_key_env=None)) as url:
        yield SlowServer(url=url, large=large)


def _wait_until_stopped(model: SlowStreamChatModel, timeout: float = 3.0) -> int:
    """Wait until the model stops producing tokens; return how many it produced."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        if model.produced == last and (model.cancelled or model.finished):
            break
        last = model.produced
        time.sleep(0.2)
    return model.produced


def _drop_after_first_tokens(url: str, path: str, body: dict[str, object]) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("POST", path, json=body) as resp:
            assert resp.status_code == 200
            tokens = 0
            for line in resp.iter_lines():
                if line.startswith("data:") and '"t' in line:
                    tokens += 1
                    if tokens >= 3:
                        break  # leaving the block closes the connection mid-stream
            assert tokens >= 3


def _check_cancelled(model: SlowStreamChatModel) -> None:
    produced = _wait_until_stopped(model)
    assert model.cancelled, f"the final tier was not cancelled ({produced} tokens produced)"
    assert not model.finished
    assert produced < N_TOKENS // 2
    time.sleep(0.3)
    assert model.produced == produced  # nothing after the cancellation


def test_openai_stream_disconnect_cancels_the_final_tier(slow_server: SlowServer) -> None:
    body = {
        "model": "automix",
        "messages": [{"role": "user", "content": "Count?"}],
        "stream": True,
    }
    _drop_after_first_tokens(slow_server.url, "/v1/chat/completions", body)
    _check_cancelled(slow_server.large)


def test_langserve_stream_disconnect_cancels_the_final_tier(slow_server: SlowServer) -> None:
    _drop_after_first_tokens(slow_server.url, "/automix/stream", {"input": {"question": "Count?"}})
    _check_cancelled(slow_server.large)


def test_server_keeps_serving_after_a_dropped_stream(slow_server: SlowServer) -> None:
    body = {"model": "automix", "messages": [{"role": "user", "content": "Count?"}]}
    _drop_after_first_tokens(slow_server.url, "/v1/chat/completions", {**body, "stream": True})
    _check_cancelled(slow_server.large)
    slow_server.large.n_tokens = 3
    with httpx.Client(base_url=slow_server.url, timeout=10) as http:
        resp = http.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    assert json.loads(resp.text)["choices"][0]["message"]["content"] == "t0 t1 t2"


async def test_anyio_cancel_scope_cancels_the_final_tier() -> None:
    """What Starlette does on a disconnect: cancel the consumer through a cancel scope."""
    small = ScriptedChatModel(answer="small answer", verdicts=[INCORRECT])
    large = SlowStreamChatModel(n_tokens=N_TOKENS, delay=DELAY)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    seen: list[str] = []

    async def consume() -> None:
        async for chunk in automix.astream("Count?"):
            seen.append(chunk.text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        while len(seen) < 3:
            await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    await anyio.sleep(0.1)
    produced = large.produced
    assert large.cancelled and not large.finished
    assert produced < N_TOKENS // 2
    await anyio.sleep(0.2)
    assert large.produced == produced


def test_openai_stream_failure_mid_answer_reports_the_streamed_text() -> None:
    small = ScriptedChatModel(answer="small answer", verdicts=[INCORRECT])
    large = SlowStreamChatModel(n_tokens=10, delay=0.0, fail_after=3)
    automix = AutoMixRunnable(models=[small, large], num_verifications=1)
    body = {"model": "automix", "messages": [{"role": "user", "content": "Q?"}], "stream": True}
    with serve_in_thread(create_app(automix, api_key_env=None)) as url:
        resp = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10)
    events = [line[len("data: ") :] for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])
    streamed = "".join(
        json.loads(e)["choices"][0]["delta"].get("content") or ""
        for e in events[:-2]
        if "choices" in json.loads(e)
    )
    assert streamed == "t0 t1 t2 "
    assert error["error"]["code"] == "model_error"
    partial = error["automix"]
    assert partial["answer"] == streamed and partial["streamed_tier"] == 1
    assert partial["attempts"][-1]["partial_answer"] == streamed


def _drop_while_waiting(url: str, path: str, body: dict[str, object]) -> None:
    """Send a plain (not streamed) request and leave before the answer comes."""
    with httpx.Client(base_url=url, timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(path, json=body)  # the client gives up; the connection is closed


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/chat/completions",
            {"model": "automix", "messages": [{"role": "user", "content": "Count?"}]},
        ),
        ("/automix/invoke", {"input": {"question": "Count?"}}),
    ],
)
def test_a_client_that_leaves_a_plain_request_cancels_its_model_calls(
    slow_server: SlowServer, path: str, body: dict[str, object]
) -> None:
    """#26: without a stream there was no one to notice; the final tier ran to the end."""
    _drop_while_waiting(slow_server.url, path, body)
    _check_cancelled(slow_server.large)
