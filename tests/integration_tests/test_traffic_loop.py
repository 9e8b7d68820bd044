"""The traffic loop through real processes: ``automix serve --workers 2 --explore --log-traces``
on a fake OpenAI-compatible endpoint, then ``automix fit --from-traces`` on what it logged.

Every third question makes the small tier's verifier say "Incorrect" (escalated by the
policy); the others are accepted, and ``--explore 0.25`` escalates a quarter of those
anyway. The refit reads the trace log both workers wrote, labels the rows by agreement
with the large model's answer, weights the explored rows x4 and compares itself with
the running policy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_automix.meta_verifiers import Threshold
from langchain_automix.observability import read_traces
from tests.integration_tests._fake_openai import FakeEndpoint, fake_openai_endpoint
from tests.integration_tests._serve import automix_serve

pytestmark = pytest.mark.integration

N_QUERIES = 48
HARD = "[hard]"


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with fake_openai_endpoint({"small": "Lyon", "large": "Paris"}, incorrect_if=HARD) as ep:
        yield ep


def test_serve_explore_log_then_refit_from_traces(endpoint: FakeEndpoint, tmp_path: Path) -> None:
    traces = tmp_path / "traces.jsonl"
    serve = [
        "--tier", f"small@{endpoint.url}", "--tier", f"large@{endpoint.url}",
        "--costs", "1,50", "--num-verifications", "2", "--rate-limit", "0",
        "--workers", "2", "--explore", "0.25", "--log-traces", str(traces),
    ]  # fmt: skip
    with automix_serve(serve) as url:

        def ask(i: int) -> int:
            q = f"Question {i} {HARD if i % 3 == 0 else ''}?"
            body: dict[str, Any] = {"input": {"question": q, "context": "Paris is the capital."}}
            return httpx.post(f"{url}/automix/invoke", json=body, timeout=60).status_code

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(ask, range(N_QUERIES))) == [200] * N_QUERIES

    rows = read_traces(traces)
    assert len(rows) == N_QUERIES
    small = [r["automix"]["attempts"][0] for r in rows]
    explored = sum(1 for a in small if a["explored"])
    hard = N_QUERIES // 3
    large_calls = sum(1 for m, k, _ in endpoint.calls if (m, k) == ("large", "solve"))
    assert large_calls == hard + explored  # the policy's escalations plus the explored
    assert 0 < explored < N_QUERIES - hard
    assert all(a["explore_rate"] == 0.25 for a in small)

    running = tmp_path / "running.json"
    Threshold(0.5).save(running)
    new = tmp_path / "new.json"
    out = subprocess.run(
        [sys.executable, "-m", "langchain_automix.cli.main", "fit", "--method", "threshold",
         "--from-traces", str(traces), "--policy", str(running), "--costs", "1,50",
         "-o", str(new)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"{hard} escalated by the policy, {explored} explored" in out.stdout
    assert "rate 0.25: x4" in out.stdout
    assert f"{hard + 4 * explored} rows" in out.stdout
    assert json.loads(new.read_text())["provenance"]["labels"] == "agreement"
