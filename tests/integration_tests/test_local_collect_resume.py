"""automix collect with the real local pair: killed mid-run, restarted, no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langchain_automix.collection.datasets import load_qa
from tests.integration_tests.conftest import alive

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

ROOT = Path(__file__).resolve().parents[2]


def server_pids(parent: int | None = None) -> set[int]:
    """Live llama.cpp servers started by LocalModelServer (children of ``parent``, or orphans
    when ``parent`` is 1)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        python_server = "llama_cpp.server" in args and "automix-llama-" in args
        native_server = "llama-server" in args and "--alias" in args
        if not (python_server or native_server):
            continue
        if (parent is None or ppid == parent) and alive(int(proc.name)):
            pids.add(int(proc.name))
    return pids


def test_collect_resumes_after_kill_without_duplicates(tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    items = load_qa("qa_mix_500", limit=3)
    data.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in items))
    out = tmp_path / "replay.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "langchain_automix.cli.main",
        "collect",
        "--local",
        "--data",
        str(data),
        "--out",
        str(out),
        "--k",
        "2",
        "--verify-max-tokens",
        "48",
        "--no-progress",
        "--n-ctx",
        "2048",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    orphans_before = server_pids(parent=1)
    first = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= 1:
            break
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        time.sleep(0.5)
    servers = server_pids(first.pid)
    assert len(servers) == 2  # one per model
    first.send_signal(signal.SIGKILL)  # hardest case: no cleanup code runs
    first.wait()
    with out.open("ab") as fh:  # and a torn write, as if killed mid-line
        fh.write(b'{"id": "torn", "tiers": [')
    deadline = time.monotonic() + 10
    while any(alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in servers), "server outlived its killed parent"
    done_before = [json.loads(x)["id"] for x in out.read_text().splitlines()[:-1]]
    assert 1 <= len(done_before) < 3

    second = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "torn last line" in second.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(i.id for i in items) and len(ids) == len(set(ids))
    assert ids[: len(done_before)] == done_before
    for row in rows:
        small, large = row["tiers"]
        assert 0.0 <= small["verifier_confidence"] <= 1.0 and len(small["verifier_samples"]) == 2
        assert "score" in small and "score" in large and "verifier_confidence" not in large
    assert server_pids(parent=1) - orphans_before == set(), "orphaned llama.cpp server"
