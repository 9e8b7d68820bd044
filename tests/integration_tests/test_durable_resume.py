"""Durable execution across processes: a query killed mid-way resumes in a new process.

A child process (``_durable_child.py``) runs one query on a SQLite file or a Postgres
database and dies (``os._exit``) inside the large tier's answer call, or when the
meta-verifier decides right after ``self_verify``. A second process, with the same
checkpoint database and thread id, resumes it. Every completed model call is appended
to a call log: across both processes no call of any node is repeated.

Postgres: ``$AUTOMIX_TEST_POSTGRES_URL`` (``.ci/run`` starts one with
``.ci/postgres.sh``); without it the Postgres cases skip, except under ``CI=true``,
where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("_durable_child.py")
CRASH_EXIT = 17
K = 3  # the child's num_verifications
POSTGRES_ENV = "AUTOMIX_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but ${POSTGRES_ENV} is unset: .ci/run must start PostgreSQL")
    pytest.skip(f"set ${POSTGRES_ENV} (e.g. .ci/postgres.sh start) to test Postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def checkpoint_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'checkpoints.db'}"
    return postgres_url()


def run_child(
    url: str, thread_id: str, log: Path, crash: str, mode: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), url, thread_id, str(log), crash, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def calls(log: Path) -> Counter[str]:
    return Counter(log.read_text().splitlines()) if log.exists() else Counter()


@pytest.mark.parametrize("crash", ["large", "meta_decide"])
def test_killed_query_resumes_in_a_new_process(
    checkpoint_url: str, tmp_path: Path, crash: str
) -> None:
    thread_id = f"req-{uuid.uuid4().hex}"
    log = tmp_path / "calls.log"

    first = run_child(checkpoint_url, thread_id, log, crash, "sync")
    assert first.returncode == CRASH_EXIT, first.stderr[-2000:]
    done_before = calls(log)
    assert done_before == Counter({"solve_small 0 solve": 1, "self_verify 0 verify": K})

    # a new process, same database and thread id, async this time
    second = run_child(checkpoint_url, thread_id, log, "none", "async")
    assert second.returncode == 0, second.stderr[-2000:]
    out = json.loads(second.stdout.strip().splitlines()[-1])
    assert out["content"] == "Paris, France"
    assert out["trace"]["thread_id"] == thread_id and out["trace"]["resumed"] is True
    assert [a["decision"] for a in out["trace"]["attempts"]] == ["escalate", None]

    # per node: the small tier's answer and its k verifications once, the large tier once
    assert calls(log) == Counter(
        {"solve_small 0 solve": 1, "self_verify 0 verify": K, "solve_large 1 solve": 1}
    )

    # a third process with the same thread id gets the stored answer and calls nothing
    third = run_child(checkpoint_url, thread_id, log, "none", "sync")
    assert third.returncode == 0, third.stderr[-2000:]
    assert json.loads(third.stdout.strip().splitlines()[-1])["content"] == "Paris, France"
    assert sum(calls(log).values()) == 1 + K + 1


def test_concurrent_requests_for_one_thread_make_one_cascade(
    checkpoint_url: str, tmp_path: Path
) -> None:
    """Two processes (a client retrying a slow first attempt, on another worker) with one
    thread id: the second waits for the first's run and replays it. Once both paid."""
    thread_id = f"req-{uuid.uuid4().hex}"
    log = tmp_path / "calls.log"
    args = [sys.executable, str(CHILD), checkpoint_url, thread_id, str(log), "slow"]
    first = subprocess.Popen([*args, "sync"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while "solve_small 0 solve" not in calls(log):  # the first run is under way
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.Popen([*args, "async"], stdout=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0]
    traces = [json.loads(o.strip().splitlines()[-1])["trace"] for o in outs]
    assert [t["answer"] for t in traces] == ["Paris, France"] * 2
    # one cascade: the small answer, its k verifications and the large answer, once
    assert calls(log) == Counter(
        {"solve_small 0 solve": 1, "self_verify 0 verify": K, "solve_large 1 solve": 1}
    )
    assert traces[0].get("resumed") is None and traces[1]["resumed"] is True
    assert traces[1]["spent_this_call"] == 0.0  # the waiting request replayed, for free
