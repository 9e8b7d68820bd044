"""``automix serve --metrics --log-traces --drift-* --otel``: what the options build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from langchain_automix.cli.main import main
from langchain_automix.meta_verifiers import Threshold

DATA = Path(__file__).resolve().parents[3] / "langchain_automix" / "data"
TIERS = ["--tier", "small@http://127.0.0.1:9/v1", "--tier", "large@http://127.0.0.1:9/v1"]


def served_app(monkeypatch: pytest.MonkeyPatch, *argv: str) -> Any:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    monkeypatch.delenv("AUTOMIX_OTEL_EXPORTER", raising=False)
    assert main(["serve", *TIERS, *argv]) == 0
    return seen["app"]


def test_the_options_build_metrics_trace_log_and_drift_alarm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "traces.jsonl"
    app = served_app(
        monkeypatch,
        "--policy", str(DATA / "policy_threshold_local_qwen.json"), "--costs", "1,50",
        "--metrics", "--log-traces", str(log), "--drift-window", "50",
    )  # fmt: skip
    http = TestClient(app, base_url="http://localhost")
    assert "automix_queries_total" in http.get("/metrics").text
    report = http.get("/automix/policy").json()
    assert report["drift"]["window"] == 50 and report["drift"]["drifted"] is False
    assert "tier0/verifier" in report["drift"]["signals"]  # the shipped policy records it
    assert report["provenance"]["n_rows"] == 305
    assert http.post("/automix/feedback", json={"id": "abc", "score": 1}).status_code == 202
    assert json.loads(log.with_name("traces.feedback.jsonl").read_text())["score"] == 1.0


def test_no_drift_and_no_metrics_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    app = served_app(monkeypatch, "--policy", str(DATA / "policy_threshold_local_qwen.json"))
    http = TestClient(app, base_url="http://localhost")
    assert http.get("/metrics").status_code == 404
    # the policy recorded its training signals: the alarm is on unless --no-drift
    assert http.get("/automix/policy").json()["drift"] is not None
    quiet = served_app(
        monkeypatch, "--policy", str(DATA / "policy_threshold_local_qwen.json"), "--no-drift"
    )
    assert TestClient(quiet).get("/automix/policy").json()["drift"] is None


def test_drift_options_need_a_policy_that_recorded_its_signals(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served"))
    hand_made = tmp_path / "t.json"
    Threshold(0.5).save(hand_made)  # never fitted: no provenance
    assert main(["serve", *TIERS, "--policy", str(hand_made), "--drift-window", "50"]) == 2
    assert "recorded its training signals" in capsys.readouterr().err


def test_a_missing_trace_log_folder_fails_before_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("served"))
    assert main(["serve", *TIERS, "--log-traces", str(tmp_path / "no" / "t.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_otel_console_traces_every_query(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    app = served_app(monkeypatch, "--otel", "console")
    item_callbacks = app.state.routed.item_callbacks
    (handler,) = item_callbacks()
    assert type(handler).__name__ == "OpenTelemetryCallbackHandler"
    assert item_callbacks()[0] is handler  # one handler (and exporter) for every query
    handler.shutdown()
