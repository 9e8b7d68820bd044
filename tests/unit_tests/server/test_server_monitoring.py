"""Operator routes: Prometheus metrics, the trace log, feedback and the policy report.

Counts are checked against the fake models' own call logs, so a metric that drifts
from what the server did fails here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from langchain_automix import AutoMixRunnable
from langchain_automix.meta_verifiers import Threshold
from langchain_automix.observability import TraceLog, read_traces, redecide
from langchain_automix.server import ServerLimits, create_app
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

INVOKE = "/automix/invoke"
BATCH = "/automix/batch"
CHAT = "/v1/chat/completions"
FEEDBACK = "/automix/feedback"


class Served:
    """Two scripted tiers (k = 1, verdicts Correct / Incorrect in turn) behind create_app."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        limits: ServerLimits | None = None,
        api_key: str | None = None,
        store_text: bool = False,
        fail_large: bool = False,
    ) -> None:
        self.small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT, INCORRECT])
        self.large = ScriptedChatModel(answer="Paris, France", fail_solve=fail_large)
        self.automix = AutoMixRunnable(
            models=[self.small, self.large], num_verifications=1, costs=(1, 50)
        )
        self.log = TraceLog(tmp_path / "traces.jsonl", store_text=store_text)
        env = "AUTOMIX_TEST_MONITORING_KEY"
        os.environ.pop(env, None)
        if api_key:
            os.environ[env] = api_key
        try:
            self.app = create_app(
                self.automix, api_key_env=env, limits=limits, metrics=True, trace_log=self.log
            )
        finally:
            os.environ.pop(env, None)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = TestClient(self.app, base_url="http://localhost", headers=headers)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        resp = self.http.get("/metrics")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/plain")
        out = {}
        for family in text_string_to_metric_families(resp.text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ask(i: int) -> dict[str, Any]:
    return {"input": {"question": f"Question {i}?", "context": "Paris is in France."}}


def test_metrics_match_the_fake_models_call_logs(tmp_path: Path) -> None:
    s = Served(tmp_path)
    for i in range(3):
        assert s.http.post(INVOKE, json=ask(i)).status_code == 200
    body = {"inputs": [ask(i)["input"] for i in range(3, 6)]}
    assert s.http.post(BATCH, json=body).status_code == 200
    chat = {"model": "automix", "messages": [{"role": "user", "content": "Capital?"}]}
    assert s.http.post(CHAT, json=chat).status_code == 200

    m = s.metrics()
    n = 7
    escalations = s.large.count("solve")
    assert s.small.count("solve") == n and s.small.count("verify") == n
    assert 0 < escalations < n  # verdicts alternate: both paths were taken
    assert value(m, "automix_queries_total", outcome="ok") == n
    assert value(m, "automix_escalated_total") == escalations
    names = s.automix.context.model_names
    small, large = ("0", names[0]), ("1", names[1])
    assert value(m, "automix_answered_total", tier=small[0], model=small[1]) == n - escalations
    assert value(m, "automix_answered_total", tier=large[0], model=large[1]) == escalations
    assert value(m, "automix_decisions_total", tier="0", model=small[1], decision="accept") == (
        n - escalations
    )
    assert value(m, "automix_decisions_total", tier="0", model=small[1], decision="escalate") == (
        escalations
    )
    assert value(m, "automix_decisions_total", tier="1", model=large[1], decision="final") == (
        escalations
    )
    # cost: small answer + verification (1 + 1) for every query, 50 per escalation
    spent0 = value(m, "automix_cost_units_total", tier="0", model=small[1])
    spent1 = value(m, "automix_cost_units_total", tier="1", model=large[1])
    assert (spent0, spent1) == (2.0 * n, 50.0 * escalations)
    baseline = value(m, "automix_cost_baseline_units_total")
    assert baseline == 50.0 * n
    assert baseline - spent0 - spent1 == 50 * n - 2 * n - 50 * escalations
    # confidences on the k = 1 grid: escalations saw 0, accepts 1
    assert value(m, "automix_verifier_confidence_count", tier="0", model=small[1]) == n
    assert value(m, "automix_verifier_confidence_bucket", tier="0", model=small[1], le="0.0") == (
        escalations
    )
    # tokens: the scripted model reports (10 in, 2 out) per call
    assert value(m, "automix_tokens_total", tier="0", model=small[1], call="answer", kind="input")
    assert value(m, "automix_node_seconds_count", node="solve_small") == n
    assert value(m, "automix_node_seconds_count", node="solve_large") == escalations
    assert value(m, "automix_query_seconds_count") == n


def test_refusals_are_counted_by_code(tmp_path: Path) -> None:
    s = Served(tmp_path, limits=ServerLimits(max_batch_size=2))
    body = {"inputs": [ask(i)["input"] for i in range(3)]}
    assert s.http.post(BATCH, json=body).status_code == 413
    m = s.metrics()
    assert value(m, "automix_refusals_total", code="batch_too_large") == 1
    assert s.small.calls == []


def test_model_failure_counts_as_model_error_and_keeps_its_partial_trace(tmp_path: Path) -> None:
    s = Served(tmp_path, fail_large=True)
    outcomes = [s.http.post(INVOKE, json=ask(i)).status_code for i in range(2)]
    assert sorted(outcomes) == [200, 502]  # the escalated one reaches the failing tier
    m = s.metrics()
    assert value(m, "automix_queries_total", outcome="ok") == 1
    assert value(m, "automix_queries_total", outcome="model_error") == 1
    large = s.automix.context.model_names[1]
    assert value(m, "automix_tier_errors_total", tier="1", model=large, kind="answer_error") == 1
    rows = read_traces(s.log.path)
    assert len(rows) == 2
    failed = [r for r in rows if "error" in r]
    assert len(failed) == 1 and failed[0]["error"].startswith("AutoMixModelError")
    assert failed[0]["tiers"][0]["answer"] == "Paris"  # the small tier's answer is kept


def test_trace_log_ids_are_what_the_client_got_and_feedback_joins(tmp_path: Path) -> None:
    s = Served(tmp_path)
    langserve = s.http.post(INVOKE, json=ask(0)).json()
    run_id = langserve["metadata"]["run_id"]
    chat = {"model": "automix", "messages": [{"role": "user", "content": "Capital?"}]}
    completion = s.http.post(CHAT, json=chat).json()
    ids = [row["id"] for row in read_traces(s.log.path)]
    assert run_id in ids
    assert len(ids) == 2
    for client_id in (run_id, completion["id"]):
        resp = s.http.post(FEEDBACK, json={"id": client_id, "score": 0.75})
        assert resp.status_code == 202, resp.text
    rows = read_traces(s.log.path)
    assert [r["feedback"]["score"] for r in rows] == [0.75, 0.75]
    # no user text is kept unless asked for
    assert all(r["question"] is None and r["context"] is None for r in rows)


def test_trace_log_keeps_text_only_when_asked(tmp_path: Path) -> None:
    s = Served(tmp_path, store_text=True)
    s.http.post(INVOKE, json=ask(4))
    row = read_traces(s.log.path)[0]
    assert (row["question"], row["context"]) == ("Question 4?", "Paris is in France.")


def test_trace_log_keeps_the_text_of_streamed_queries(tmp_path: Path) -> None:
    s = Served(tmp_path, store_text=True)
    with s.http.stream("POST", "/automix/stream", json=ask(5)) as response:
        assert response.status_code == 200
        response.read()
    [row] = read_traces(s.log.path)
    assert (row["question"], row["context"]) == ("Question 5?", "Paris is in France.")


def test_served_decisions_are_reproduced_offline(tmp_path: Path) -> None:
    s = Served(tmp_path)
    for i in range(6):
        s.http.post(INVOKE, json=ask(i))
    rows = read_traces(s.log.path)
    same = redecide(Threshold(0.5), rows)  # the served default
    assert (same.n_rows, same.n_decisions, same.agreement) == (6, 6, 1.0)
    always_accept = redecide(Threshold(0.0), rows)
    assert always_accept.n_agree == 3 and len(always_accept.disagreements) == 3
    assert {d["served"] for d in always_accept.disagreements} == {1}


@pytest.mark.parametrize(
    ("body", "param_word"),
    [
        ({"id": "x", "score": 1.5}, "score"),
        ({"id": "x", "score": -0.1}, "score"),
        ({"id": "../../etc/passwd", "score": 1}, "id"),
        ({"id": "", "score": 1}, "id"),
        ({"score": 1}, "id"),
        ({"id": "x", "score": 1, "extra": 1}, "extra"),
    ],
)
def test_bad_feedback_is_422_naming_the_field(
    tmp_path: Path, body: dict[str, Any], param_word: str
) -> None:
    s = Served(tmp_path)
    resp = s.http.post(FEEDBACK, json=body)
    assert resp.status_code == 422, resp.text
    assert param_word in resp.text
    assert not s.log.feedback_path.exists()


def test_feedback_and_metrics_need_the_api_key_and_feedback_is_rate_limited(
    tmp_path: Path,
) -> None:
    s = Served(tmp_path, api_key="sekret", limits=ServerLimits(rate_limit=2))
    anonymous = TestClient(s.app, base_url="http://localhost")
    assert anonymous.post(FEEDBACK, json={"id": "x", "score": 1}).status_code == 401
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/automix/policy").status_code == 401
    codes = [s.http.post(FEEDBACK, json={"id": "x", "score": 1}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert value(s.metrics(), "automix_refusals_total", code="rate_limit_exceeded") == 1


def test_policy_route_reports_the_meta_verifier(tmp_path: Path) -> None:
    s = Served(tmp_path)
    body = s.http.get("/automix/policy").json()
    assert body["meta_verifier"]["name"] == "threshold"
    assert body["provenance"] is None  # a hand-built Threshold was never fitted


def test_without_options_there_is_no_metrics_or_feedback_route(tmp_path: Path) -> None:
    automix = AutoMixRunnable(models=[ScriptedChatModel(), ScriptedChatModel()])
    http = TestClient(create_app(automix, api_key_env=None), base_url="http://localhost")
    assert http.get("/metrics").status_code == 404
    assert http.post(FEEDBACK, json={"id": "x", "score": 1}).status_code in (403, 404)
    assert http.get("/automix/policy").status_code == 200


def test_drift_alarm_fires_on_shifted_confidences_and_is_exported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_automix.calibration import synthetic_replay
    from langchain_automix.calibration.drift import DriftMonitor

    policy = Threshold().fit(synthetic_replay(n=300, seed=0, verifier_strength=0.55))
    reference = policy.provenance.signal_reference if policy.provenance else None
    assert reference is not None and "tier0/verifier" in reference.keys
    # the live small tier says "Incorrect" every time: confidence 0, far from training
    small = ScriptedChatModel(answer="Paris", verdicts=[INCORRECT])
    large = ScriptedChatModel(answer="Paris, France")
    automix = AutoMixRunnable(
        models=[small, large], num_verifications=1, meta_verifier=policy, costs=(1, 50)
    )
    drift = DriftMonitor(reference, window=40)
    app = create_app(automix, api_key_env=None, metrics=True, drift=drift)
    http = TestClient(app, base_url="http://localhost")
    before = http.get("/automix/policy").json()
    assert before["drift"]["drifted"] is False
    assert before["provenance"]["n_rows"] == 300 and "signal_reference" not in before["provenance"]
    with caplog.at_level("WARNING", logger="langchain_automix.drift"):
        for i in range(40):
            assert http.post(INVOKE, json=ask(i)).status_code == 200
    warnings = [r for r in caplog.records if "signal drift on tier0/verifier" in r.message]
    assert len(warnings) == 1  # once, not on every request
    after = http.get("/automix/policy").json()["drift"]
    assert after["drifted"] is True and after["drifted_signals"] == ["tier0/verifier"]
    assert after["signals"]["tier0/verifier"]["n"] == 40
    samples = {
        (f.name, s.labels.get("signal")): s.value
        for f in text_string_to_metric_families(http.get("/metrics").text)
        for s in f.samples
    }
    assert samples[("automix_drift_alarm", "tier0/verifier")] == 1.0
    stat = samples[("automix_drift_statistic", "tier0/verifier")]
    assert stat > samples[("automix_drift_threshold", "tier0/verifier")]


def test_streamed_queries_are_counted_and_logged_too(tmp_path: Path) -> None:
    s = Served(tmp_path)
    chat = {"model": "automix", "stream": True, "messages": [{"role": "user", "content": "Q?"}]}
    for path, body in [
        ("/automix/stream", ask(0)),
        ("/automix/stream_events", ask(1)),
        ("/automix/stream_log", ask(2)),
        (CHAT, chat),
    ]:
        assert s.http.post(path, json=body).status_code == 200, path
    m = s.metrics()
    assert value(m, "automix_queries_total", outcome="ok") == 4 == s.small.count("solve")
    assert value(m, "automix_escalated_total") == s.large.count("solve")
    assert len(read_traces(s.log.path)) == 4
