"""``automix serve --workers 2 --metrics`` scraped by a real Prometheus.

Debian's ``prometheus`` (``.ci/run`` installs it) scrapes the server on loopback every
second; the test reads the numbers back through Prometheus' own HTTP query API and
checks them against the fake model endpoint's call log. Without a ``prometheus``
binary the test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_automix.meta_verifiers import Threshold
from langchain_automix.observability import read_traces
from tests.integration_tests._fake_openai import FakeEndpoint, fake_openai_endpoint
from tests.integration_tests._serve import automix_serve, free_port, stop, wait_ready

pytestmark = pytest.mark.integration

N_QUERIES = 24
ESCALATE = "[hard]"


def prometheus_binary() -> str:
    found = os.environ.get("AUTOMIX_TEST_PROMETHEUS") or shutil.which("prometheus")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but no prometheus binary: .ci/run must install Debian's prometheus")
    pytest.skip("install Prometheus (apt-get install prometheus) to test the /metrics scrape")


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    answers = {"small": "Paris", "large": "Paris, France"}
    with fake_openai_endpoint(answers, incorrect_if=ESCALATE) as ep:
        yield ep


def test_prometheus_reads_back_what_the_fake_endpoint_saw(
    endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    binary = prometheus_binary()
    traces = tmp_path / "traces.jsonl"
    serve = [
        "--tier", f"small@{endpoint.url}", "--tier", f"large@{endpoint.url}",
        "--costs", "1,50", "--num-verifications", "2", "--rate-limit", "0",
        "--workers", "2", "--metrics", "--log-traces", str(traces),
    ]  # fmt: skip
    with automix_serve(serve) as url:
        port = url.rsplit(":", 1)[1]
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: automix\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
        prom_port = free_port()
        prom = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        prom_url = f"http://127.0.0.1:{prom_port}"
        try:
            wait_ready(f"{prom_url}/-/ready", prom, "prometheus")
            check_scraped_numbers(url, prom_url, endpoint, traces, tmp_path)
        finally:
            stop(prom)


def check_scraped_numbers(
    url: str, prom_url: str, endpoint: FakeEndpoint, traces: Path, tmp_path: Path
) -> None:
    """Load the server, then read its numbers back through Prometheus' query API."""

    def ask(i: int) -> int:
        question = f"Question {i} {ESCALATE if i % 3 == 0 else ''}?"
        if i % 2:
            body: dict[str, Any] = {"input": {"question": question, "context": "Paris."}}
            return httpx.post(f"{url}/automix/invoke", json=body, timeout=60).status_code
        chat = {"model": "automix", "messages": [{"role": "user", "content": question}]}
        return httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=60).status_code

    with ThreadPoolExecutor(4) as pool:  # concurrent: both workers serve
        assert list(pool.map(ask, range(N_QUERIES))) == [200] * N_QUERIES

    def query(expr: str) -> float | None:
        r = httpx.get(f"{prom_url}/api/v1/query", params={"query": expr}, timeout=10)
        data = r.json()["data"]["result"]
        return float(data[0]["value"][1]) if data else None

    deadline = time.monotonic() + 60
    while query("sum(automix_queries_total)") != N_QUERIES:
        assert time.monotonic() < deadline, "Prometheus never saw every query"
        time.sleep(0.5)

    calls = endpoint.calls
    small_solve = sum(1 for m, k, _ in calls if (m, k) == ("small", "solve"))
    small_verify = sum(1 for m, k, _ in calls if (m, k) == ("small", "verify"))
    large_solve = sum(1 for m, k, _ in calls if (m, k) == ("large", "solve"))
    assert small_solve == small_verify == N_QUERIES
    assert large_solve == len([i for i in range(N_QUERIES) if i % 3 == 0])
    assert query('sum(automix_queries_total{outcome="ok"})') == N_QUERIES
    share = query("sum(automix_escalated_total) / sum(automix_queries_total)")
    assert share == pytest.approx(large_solve / N_QUERIES)
    saved = query("sum(automix_cost_baseline_units_total) - sum(automix_cost_units_total)")
    spent = 1.0 * small_solve + 1.0 * small_verify + 50.0 * large_solve
    assert saved == pytest.approx(50.0 * N_QUERIES - spent)
    assert query('sum(automix_decisions_total{decision="escalate"})') == large_solve

    rows = read_traces(traces)
    assert len(rows) == N_QUERIES
    assert len({r["worker_pid"] for r in rows}) == 2, "one worker served everything"
    policy = tmp_path / "threshold.json"
    Threshold(0.5).save(policy)
    out = subprocess.run(
        [sys.executable, "-m", "langchain_automix.cli.main", "evaluate",
         "--served", str(traces), "--policy", str(policy), "--costs", "1,50", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(out.stdout)
    assert report["reproduced"] == report["decisions"] == N_QUERIES
    assert report["escalated"] == large_solve
