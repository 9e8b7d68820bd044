"""Operator limits of the HTTP server (``ServerLimits``), each refused before any model call."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage, BaseMessage
from langserve import RemoteRunnable
from langserve.lzstring import LZString

from langchain_automix import AutoMixRunnable
from langchain_automix.server import BatchItemError, ServerLimits, create_app
from langchain_automix.server.background import serve_in_thread
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

CHAT = "/v1/chat/completions"
BATCH = "/automix/batch"
INVOKE = "/automix/invoke"


class FailOnModel(ScriptedChatModel):
    """A scripted model whose answer call fails when the prompt contains ``fail_on``."""

    fail_on: str = "\x00"

    def _check(self, messages: list[BaseMessage]) -> None:
        if self._kind(messages) == "solve" and self.fail_on in str(messages[-1].content):
            raise RuntimeError(f"backend down for {self.fail_on!r}")

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self._check(messages)
        return super()._generate(messages, *args, **kwargs)

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self._check(messages)
        return await super()._agenerate(messages, *args, **kwargs)


class Cascade:
    """Two fake tiers behind ``create_app`` (auth off unless ``api_key``), counting calls."""

    def __init__(
        self,
        limits: ServerLimits | None = None,
        *,
        k: int = 2,
        latency: float = 0.0,
        api_key: str | None = None,
        client: tuple[str, int] = ("10.0.0.1", 50000),
    ) -> None:
        # verdicts Correct/Incorrect in turn: confidence 0.5 with k=2, kept at 0.5
        self.small = ScriptedChatModel(
            answer="Paris", verdicts=[CORRECT, INCORRECT], latency=latency
        )
        self.large = FailOnModel(answer="Paris, France", latency=latency)
        self.automix = AutoMixRunnable(models=[self.small, self.large], num_verifications=k)
        env = "AUTOMIX_TEST_LIMITS_KEY"
        os.environ.pop(env, None)
        if api_key:
            os.environ[env] = api_key
        try:
            self.app = create_app(self.automix, api_key_env=env, limits=limits)
        finally:
            os.environ.pop(env, None)
        self.http = TestClient(self.app, base_url="http://localhost", client=client)

    @property
    def calls(self) -> int:
        return len(self.small.calls) + len(self.large.calls)


def batch(n: int, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": [{"question": f"Question {i}?"} for i in range(n)]}
    if config:
        body["config"] = {"configurable": config}
    return body


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "automix", "messages": [{"role": "user", "content": "Capital?"}], **extra}


def invoke(**configurable: Any) -> dict[str, Any]:
    return {"input": {"question": "Capital?"}, "config": {"configurable": configurable}}


def assert_refused(resp: Any, status: int, param: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["error"]["param"] == param, body
    assert param in body["error"]["message"] or param in body["detail"], body
    return body


# --- sizes ---------------------------------------------------------------------------------


def test_batch_over_max_batch_size_is_413_before_any_model_call() -> None:
    c = Cascade(ServerLimits(max_batch_size=4))
    body = assert_refused(c.http.post(BATCH, json=batch(5)), 413, "max_batch_size")
    assert "5 inputs" in body["error"]["message"] and "4" in body["error"]["message"]
    assert c.calls == 0
    assert c.http.post(BATCH, json=batch(4)).status_code == 200
    assert c.small.count("solve") == 4


def test_default_limits_refuse_the_probed_300_item_batch() -> None:
    c = Cascade()  # defaults: 32 inputs, 512 model calls
    assert_refused(c.http.post(BATCH, json=batch(300, num_verifications=16)), 413, "max_batch_size")
    assert c.calls == 0


def test_model_calls_over_limit_is_413_naming_the_limit() -> None:
    # worst case per item: 2 answers + k verifications of the small tier
    c = Cascade(ServerLimits(max_model_calls=17))
    resp = c.http.post(BATCH, json=batch(4, num_verifications=8))
    body = assert_refused(resp, 413, "max_model_calls")
    assert "up to 40 model calls" in body["error"]["message"]
    assert_refused(c.http.post(INVOKE, json=invoke(num_verifications=16)), 413, "max_model_calls")
    assert_refused(c.http.post(CHAT, json=chat(num_verifications=16)), 413, "max_model_calls")
    assert_refused(c.http.post(BATCH, json=batch(2, num_verifications=8)), 413, "max_model_calls")
    assert c.calls == 0
    # per-item configs are summed item by item: 10 + 4 = 14 <= 17
    per_item = {
        "inputs": [{"question": "Q0?"}, {"question": "Q1?"}],
        "config": [{"configurable": {"num_verifications": k}} for k in (8, 2)],
    }
    assert c.http.post(BATCH, json=per_item).status_code == 200


# --- per-request knobs ---------------------------------------------------------------------


def test_num_verifications_cap_defaults_to_16_and_is_in_the_schema() -> None:
    c = Cascade()
    schema = c.http.get("/automix/config_schema").json()
    assert schema["$defs"]["Configurable"]["properties"]["num_verifications"]["maximum"] == 16
    for resp in (
        c.http.post(INVOKE, json=invoke(num_verifications=64)),
        c.http.post(CHAT, json=chat(num_verifications=64)),
        c.http.post(BATCH, json=batch(2, num_verifications=17)),
    ):
        body = assert_refused(resp, 422, "num_verifications")
        assert "max_num_verifications" in body["error"]["message"]
    assert c.calls == 0
    assert c.http.post(INVOKE, json=invoke(num_verifications=16)).status_code == 200


def test_num_verifications_cap_is_at_least_the_runnables_own_k() -> None:
    c = Cascade(k=24)
    schema = c.http.get("/automix/config_schema").json()
    assert schema["$defs"]["Configurable"]["properties"]["num_verifications"]["maximum"] == 24
    with pytest.raises(ValueError, match="num_verifications=24 is over max_num_verifications=8"):
        Cascade(ServerLimits(max_num_verifications=8), k=24)


def test_num_verifications_cap_applies_to_a_config_hash_in_the_path() -> None:
    c = Cascade(ServerLimits(max_num_verifications=4))
    config_hash = LZString.compressToEncodedURIComponent(
        json.dumps({"configurable": {"num_verifications": 9}})
    )
    resp = c.http.post(f"/automix/c/{config_hash}/invoke", json={"input": {"question": "Q?"}})
    assert_refused(resp, 422, "num_verifications")
    assert c.calls == 0


def test_locked_threshold_is_403_and_not_configurable() -> None:
    c = Cascade(ServerLimits(lock_threshold=True))
    schema = c.http.get("/automix/config_schema").json()
    assert set(schema["$defs"]["Configurable"]["properties"]) == {"num_verifications"}
    for resp in (
        c.http.post(INVOKE, json=invoke(threshold=1.0)),
        c.http.post(CHAT, json=chat(threshold=1.0)),
        c.http.post(BATCH, json=batch(2, threshold=0.2)),
    ):
        body = assert_refused(resp, 403, "threshold")
        assert "lock_threshold" in body["error"]["message"]
        assert body["error"]["type"] == "permission_error"
    assert c.calls == 0
    ok = c.http.post(INVOKE, json=invoke(num_verifications=2))
    assert ok.status_code == 200 and ok.json()["output"]["content"] == "Paris"


def test_threshold_bounds_are_422_and_in_the_schema() -> None:
    c = Cascade(ServerLimits(threshold_bounds=(0.3, 0.8)))
    field = c.http.get("/automix/config_schema").json()["$defs"]["Configurable"]["properties"]
    assert (field["threshold"]["minimum"], field["threshold"]["maximum"]) == (0.3, 0.8)
    for resp in (
        c.http.post(INVOKE, json=invoke(threshold=1.0)),
        c.http.post(CHAT, json=chat(threshold=0.1)),
    ):
        body = assert_refused(resp, 422, "threshold")
        assert "threshold_bounds" in body["error"]["message"]
    assert c.calls == 0
    assert c.http.post(INVOKE, json=invoke(threshold=0.8)).status_code == 200
    with pytest.raises(ValueError, match=r"threshold 0\.5 is outside threshold_bounds"):
        Cascade(ServerLimits(threshold_bounds=(0.6, 0.9)))


# --- rate and budget -----------------------------------------------------------------------


def test_rate_limit_is_429_with_retry_after_per_client_ip() -> None:
    c = Cascade(ServerLimits(rate_limit=3))
    for _ in range(3):
        assert c.http.post(CHAT, json=chat()).status_code == 200
    calls = c.calls
    resp = c.http.post(CHAT, json=chat())
    body = assert_refused(resp, 429, "rate_limit")
    assert int(resp.headers["retry-after"]) == 20  # one request back every 60 / 3 s
    assert "3 requests per minute" in body["error"]["message"]
    assert body["error"]["type"] == "rate_limit_error"
    assert c.calls == calls
    other = TestClient(
        c.app, base_url="http://localhost", client=("10.0.0.2", 50000)
    )  # another client has its own
    assert other.post(CHAT, json=chat()).status_code == 200
    assert c.http.get("/health").status_code == 200  # never limited


def test_budget_is_settled_from_the_trace_cost_then_429() -> None:
    # unit costs 1 and 50: a kept answer costs 2 (answer + verification), an escalated
    # one 52; every request reserves its worst case, 52, and is settled to its cost.
    c = Cascade(ServerLimits(budget_per_minute=110))
    for _ in range(20):  # 20 x 2 = 40 units: fine only because the reservations are settled
        resp = c.http.post(CHAT, json=chat())
        assert resp.status_code == 200 and resp.json()["automix"]["total_cost"] == 2.0
    resp = c.http.post(CHAT, json=chat(threshold=0.9))  # escalated: 52 -> 92 spent
    assert resp.json()["automix"]["total_cost"] == 52.0
    calls = c.calls
    resp = c.http.post(CHAT, json=chat())  # 18 units left < 52 reserved
    body = assert_refused(resp, 429, "budget_per_minute")
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert "110 units per minute" in body["error"]["message"]
    assert c.calls == calls
    # a request that could never fit is 413, not a 429 to retry forever
    resp = c.http.post(BATCH, json=batch(3))
    assert_refused(resp, 413, "budget_per_minute")


def test_budget_counts_langserve_batches_and_failed_items() -> None:
    c = Cascade(ServerLimits(budget_per_day=200))
    c.large.fail_on = "Question 1?"
    resp = c.http.post(BATCH, json=batch(3, threshold=0.9))  # all escalate; one fails
    assert resp.status_code == 200
    # 2 x 52 answered + the failed item's partial trace (2 spent on the small tier)
    assert resp.json()["output"][1]["automix"]["total_cost"] == 2.0
    assert_refused(c.http.post(BATCH, json=batch(2)), 429, "budget_per_day")  # 94 left


def test_budget_is_per_api_key_when_auth_is_on() -> None:
    key = "sk-limits-test"
    c = Cascade(ServerLimits(budget_per_minute=60), api_key=key)
    good = {"Authorization": f"Bearer {key}"}
    assert c.http.post(CHAT, json=chat(threshold=0.9), headers=good).status_code == 200
    resp = c.http.post(CHAT, json=chat(), headers=good)
    assert_refused(resp, 429, "budget_per_minute")
    # another IP with the same key shares the key's budget
    other = TestClient(c.app, base_url="http://localhost", client=("10.9.9.9", 1))
    assert other.post(CHAT, json=chat(), headers=good).status_code == 429
    assert other.post(CHAT, json=chat()).status_code == 401


# --- batch: per-item errors and concurrency ------------------------------------------------


def test_one_failing_item_does_not_lose_the_other_answers() -> None:
    c = Cascade()
    c.large.fail_on = "Question 2?"
    resp = c.http.post(BATCH, json=batch(4, threshold=0.9))  # every item escalates
    assert resp.status_code == 200, resp.text
    out = resp.json()["output"]
    assert [o.get("content") for o in out] == [
        "Paris, France",
        "Paris, France",
        None,
        "Paris, France",
    ]
    failed = out[2]
    assert failed["error"]["status"] == 502 and failed["error"]["code"] == "model_error"
    assert "backend down" in failed["error"]["message"]
    assert failed["automix"]["attempts"][0]["answer"] == "Paris"  # the partial trace


def test_remote_runnable_batch_gets_the_error_object_in_place() -> None:
    c = Cascade()
    c.large.fail_on = "Question 0?"
    with serve_in_thread(c.app) as url:
        out = RemoteRunnable(f"{url}/automix").batch(
            [{"question": f"Question {i}?"} for i in range(3)],
            config={"configurable": {"threshold": 0.9}},
        )
    assert isinstance(out[1], AIMessage) and out[1].content == "Paris, France"
    error = BatchItemError.model_validate(out[0])
    assert error.error.status == 502 and error.automix is not None


def test_batch_items_run_at_most_max_concurrency_at_once() -> None:
    c = Cascade(ServerLimits(max_concurrency=2), k=1, latency=0.02)
    assert c.http.post(BATCH, json=batch(8)).status_code == 200
    assert c.small.count("solve") == 8
    assert c.small.peak_in_flight <= 2
    wide = Cascade(ServerLimits(max_concurrency=8), k=1, latency=0.02)
    assert wide.http.post(BATCH, json=batch(8)).status_code == 200
    assert wide.small.peak_in_flight > 2  # the cap is what held it


# --- CSRF, content type, JSON depth --------------------------------------------------------


def test_cross_origin_text_plain_batch_is_refused_with_zero_model_calls() -> None:
    c = Cascade()
    resp = c.http.post(
        BATCH,
        content=json.dumps(batch(10)),
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    body = assert_refused(resp, 415, "content-type")
    assert "text/plain" in body["error"]["message"]
    # the same request as JSON, cross-origin, auth off: 403
    resp = c.http.post(BATCH, json=batch(10), headers={"origin": "https://evil.example"})
    assert_refused(resp, 403, "allowed_origins")
    assert c.calls == 0
    # the server's own pages (the playground) and allowed origins pass
    assert (
        c.http.post(BATCH, json=batch(1), headers={"origin": "http://localhost"}).status_code == 200
    )
    allowed = Cascade(ServerLimits(allowed_origins=("https://app.example/",)))
    resp = allowed.http.post(BATCH, json=batch(1), headers={"origin": "https://APP.example"})
    assert resp.status_code == 200


def test_origin_is_not_checked_when_an_api_key_is_required() -> None:
    c = Cascade(api_key="sk-limits-test")
    headers = {"Authorization": "Bearer sk-limits-test", "origin": "https://tool.example"}
    assert c.http.post(CHAT, json=chat(), headers=headers).status_code == 200


@pytest.mark.parametrize("path", [CHAT, INVOKE, BATCH, "/automix/stream"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_post_routes_accept_only_json(path: str, content_type: str | None) -> None:
    c = Cascade()
    headers = {"content-type": content_type} if content_type else {}
    resp = c.http.post(path, content=b'{"input": {"question": "Q?"}}', headers=headers)
    body = assert_refused(resp, 415, "content-type")
    assert (content_type or "(none)") in body["error"]["message"]
    assert c.calls == 0
    ok = c.http.post(
        CHAT,
        content=json.dumps(chat()),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("path", [CHAT, INVOKE, BATCH])
@pytest.mark.parametrize("depth", [100_000, 40])
def test_deeply_nested_json_is_400_not_500(path: str, depth: int) -> None:
    c = Cascade()
    nested = "[" * depth + "]" * depth
    resp = c.http.post(
        path,
        content=f'{{"input": {nested}, "inputs": {nested}}}',
        headers={"content-type": "application/json"},
    )
    body = assert_refused(resp, 400, "max_json_depth")
    assert "nested deeper than 32 levels" in body["error"]["message"]
    assert c.calls == 0


def test_malformed_json_is_still_422() -> None:
    c = Cascade()
    resp = c.http.post(INVOKE, content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 422


# --- the limits object ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be at least 1"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1"),
        ({"rate_limit": 0}, "rate_limit must be positive"),
        ({"budget_per_day": -1}, "budget_per_day must be positive"),
        ({"threshold_bounds": (0.2, 1.5)}, "threshold_bounds must satisfy"),
        ({"allowed_origins": "https://a.example"}, "sequence of origins"),
    ],
)
def test_server_limits_rejects_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerLimits(**kwargs)


@pytest.fixture(autouse=True)
def _quiet_langserve() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8000", "attacker.localhost.evil.example", "192.168.1.5:8000"],
)
def test_rebinding_shaped_requests_are_refused_with_zero_model_calls(host: str) -> None:
    """#26, item 3: a page whose domain resolves to 127.0.0.1 (DNS rebinding) sends the
    request with its own name in Host; with auth off it gets 403 and no model is called,
    Origin or not."""
    c = Cascade()
    for headers in ({"host": host}, {"host": host, "origin": f"http://{host}"}):
        resp = c.http.post(BATCH, json=batch(2), headers=headers)
        assert_refused(resp, 403, "allowed_hosts")
    assert c.calls == 0


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "127.0.0.2:9", "[::1]:8000"])
def test_loopback_hosts_and_allowed_hosts_pass(host: str) -> None:
    c = Cascade()
    assert c.http.post(BATCH, json=batch(1), headers={"host": host}).status_code == 200
    named = Cascade(ServerLimits(allowed_hosts=("GPU-box.lan",)))
    assert (
        named.http.post(BATCH, json=batch(1), headers={"host": "gpu-box.lan:80"}).status_code == 200
    )
    assert named.http.post(BATCH, json=batch(1), headers={"host": "other.lan"}).status_code == 403


def test_host_is_not_checked_when_an_api_key_is_required() -> None:
    c = Cascade(api_key="sk-limits-test")
    headers = {"Authorization": "Bearer sk-limits-test", "host": "api.example.com"}
    assert c.http.post(BATCH, json=batch(1), headers=headers).status_code == 200


def test_lone_surrogate_and_huge_integer_get_4xx_not_5xx() -> None:
    """#26, item 6: a lone surrogate on /v1 (was a misleading 502) and an integer of more
    digits than Python reads in a LangServe config (was a 500)."""
    c = Cascade()
    body = '{"model": "automix", "messages": [{"role": "user", "content": "hi \\ud800"}]}'
    resp = c.http.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code in (400, 422), resp.text
    assert "surrogate" in resp.text
    huge = '{"input": "hi", "config": {"configurable": {"threshold": ' + "9" * 5000 + "}}}"
    resp = c.http.post(
        "/automix/invoke", content=huge, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400 and "number too long" in resp.text
    assert c.calls == 0


# --- routes the guard has no plan for (#25) -------------------------------------------------


def _app_with_own_route(**kwargs: Any) -> tuple[TestClient, ScriptedChatModel]:
    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT])
    automix = AutoMixRunnable(models=[small, ScriptedChatModel()], num_verifications=2)
    app = create_app(automix, api_key_env=None, **kwargs)

    @app.post("/mine/{name}")
    async def mine(name: str, body: dict[str, Any]) -> dict[str, Any]:  # calls the models
        msg = await automix.ainvoke(body["question"])
        return {"name": name, "answer": msg.content}

    return TestClient(app, base_url="http://localhost"), small


def test_a_body_route_without_a_cost_plan_is_refused_before_any_call() -> None:
    """Once a route added to the app ran the models past every budget and limit."""
    http, small = _app_with_own_route(limits=ServerLimits(budget_per_minute=1000.0))
    resp = http.post("/mine/x", json={"question": "Capital?"})
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert (
        body["error"]["code"] == "unplanned_route"
        and "unmetered_routes" in body["error"]["message"]
    )
    assert small.calls == []
    # the planned routes still work
    assert http.post("/automix/invoke", json={"input": {"question": "Capital?"}}).status_code == 200


def test_a_declared_route_passes() -> None:
    http, small = _app_with_own_route(unmetered_routes=["/mine/{name}"])
    resp = http.post("/mine/x", json={"question": "Capital?"})
    assert resp.status_code == 200 and resp.json()["answer"] == "Paris"


def test_a_replayed_durable_thread_is_not_charged_again() -> None:
    """Once a replay that called no model was charged its original 52 units."""
    from langgraph.checkpoint.memory import InMemorySaver

    small = ScriptedChatModel(answer="Paris", verdicts=[INCORRECT])
    large = ScriptedChatModel(answer="Paris, France")
    automix = AutoMixRunnable(
        models=[small, large], num_verifications=1, checkpointer=InMemorySaver()
    )
    app = create_app(automix, api_key_env=None, limits=ServerLimits(budget_per_minute=110))
    http = TestClient(app, base_url="http://localhost", client=("10.0.0.9", 1))
    first = http.post(CHAT, json=chat(thread_id="t1")).json()["automix"]
    assert first["total_cost"] == 52.0  # 58 of 110 left
    for _ in range(3):  # three replays of the finished thread: no call, nothing charged
        again = http.post(CHAT, json=chat(thread_id="t1"))
        assert again.status_code == 200, again.text
        trace = again.json()["automix"]
        assert trace["spent_this_call"] == 0.0 and trace["resumed"] is True
    assert len(small.calls) == 2 and len(large.calls) == 1
    # 58 units left: one more escalated query (52) still fits; charged 52 x 4 it would not
    assert http.post(CHAT, json=chat(thread_id="t2")).status_code == 200
