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
from typing import Any

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


FIRST_RUN = """
import asyncio, sys, time
from langchain_automix import AutoMixRunnable
from langchain_automix.runtime.durable import checkpointer_from_url
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel

url, start, name, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
automix = AutoMixRunnable(models=[ScriptedChatModel(verdicts=[CORRECT]), ScriptedChatModel()],
                          num_verifications=1, checkpointer=checkpointer_from_url(url))
while time.time() < start:  # every process opens the fresh database at the same moment
    time.sleep(0.001)
config = {"configurable": {"thread_id": name}}
if mode == "sync":
    print(automix.invoke("Q?", config).content)
else:
    print(asyncio.run(automix.ainvoke("Q?", config)).content)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A checkpoint URL on a database nobody has set up yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    import psycopg

    server = postgres_url()
    name = f"automix_fresh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_processes_opening_a_fresh_database_at_once_all_run(fresh_url: str) -> None:
    """Four processes (workers, replicas) set up one fresh database at the same moment.
    Before the setup lock, 7 of 24 such processes failed on Postgres (a duplicate key in
    ``checkpoint_migrations`` or ``pg_type``) and 1 of 60 on SQLite ("database is
    locked")."""
    root = Path(__file__).resolve().parents[2]
    start = time.time() + 6  # after every interpreter has imported the package
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_RUN, fresh_url, str(start), f"p{i}", mode],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, mode in enumerate(["sync", "async", "sync", "async"])
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0 and out.strip() == "Paris", err[-2000:]


def test_a_process_waits_while_another_sets_the_database_up(fresh_url: str) -> None:
    """The setup lock is taken: while "another process" holds it, a first run waits and
    creates nothing; released, it runs."""
    import contextlib

    from langchain_automix.runtime.durable import checkpointer_from_url

    root = Path(__file__).resolve().parents[2]
    saver = checkpointer_from_url(fresh_url)
    with saver._schema_lock():  # held here, as another process setting the tables up would
        proc = subprocess.Popen(
            [sys.executable, "-c", FIRST_RUN, fresh_url, "0", "p", "async"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        assert proc.poll() is None  # still waiting for the lock
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == "Paris", err[-2000:]
