"""The trace log: rotation, several writer processes, feedback ids, read-back order."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from langchain_automix.observability.trace_log import (
    TraceLog,
    feedback_path,
    normalize_trace_id,
    read_traces,
)
from langchain_automix.runtime.result import AutoMixResult, TierAttempt


def result(i: int) -> AutoMixResult:
    attempt = TierAttempt(
        tier=0, model="s", answer=f"answer {i}", verifier_confidence=1.0, decision="accept"
    )
    return AutoMixResult(
        answer=f"answer {i}", answered_by=0, answered_by_model="s", n_tiers=2,
        total_cost=2.0, attempts=[attempt],
    )  # fmt: skip


def test_rotation_keeps_every_row_in_order(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl", max_bytes=2_000, backups=50)
    for i in range(60):
        log.write_result(f"id{i}", result(i))
    rotated = sorted(tmp_path.glob("t.jsonl.*"))
    assert len(rotated) >= 3  # it did rotate
    assert all(p.stat().st_size <= 2_000 for p in [*rotated, tmp_path / "t.jsonl"])
    assert [r["id"] for r in read_traces(log.path)] == [f"id{i}" for i in range(60)]


def test_rotation_drops_the_oldest_beyond_backups(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl", max_bytes=1_000, backups=1)
    for i in range(30):
        log.write_result(f"id{i}", result(i))
    ids = [r["id"] for r in read_traces(log.path)]
    assert ids == [f"id{i}" for i in range(30 - len(ids), 30)]  # the newest, in order
    assert 0 < len(ids) < 30


def _writer(path: str, start: int, n: int) -> None:
    log = TraceLog(path, max_bytes=3_000, backups=1_000)
    for i in range(start, start + n):
        log.write_result(f"id{i}", result(i))


def test_two_processes_share_one_rotating_log(tmp_path: Path) -> None:
    path = str(tmp_path / "t.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, k * 1_000, 150)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = read_traces(path)  # every line whole JSON, nothing lost, nothing twice
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(
        [f"id{i}" for i in range(150)] + [f"id{i}" for i in range(1_000, 1_150)]
    )
    for k in (0, 1000):  # each writer's rows in its own order
        own = [int(i[2:]) for i in ids if k <= int(i[2:]) < k + 1_000]
        assert own == sorted(own)


def test_a_forked_child_opens_its_own_descriptors(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl")
    log.write_result("parent", result(0))
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=lambda: log.write_result("child", result(1)))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    log.write_result("parent-again", result(2))
    assert [r["id"] for r in read_traces(log.path)] == ["parent", "child", "parent-again"]
    log.close()


def test_feedback_ids_and_scores_are_checked(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl")
    with pytest.raises(ValueError, match="score"):
        log.write_feedback("x", 1.5)
    with pytest.raises(ValueError, match="score"):
        log.write_feedback("x", True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="id"):
        log.write_feedback("a/b", 1.0)
    log.write_feedback("chatcmpl-" + "ab" * 16, 0.0)
    entry = json.loads(feedback_path(log.path).read_text())
    assert entry["id"] == normalize_trace_id("chatcmpl-" + "ab" * 16) and entry["score"] == 0.0


def test_latest_feedback_wins_and_unknown_ids_are_ignored(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl")
    log.write_result("q1", result(1))
    log.write_feedback("q1", 0.0)
    log.write_feedback("q1", 1.0)
    log.write_feedback("nobody", 1.0)
    (row,) = read_traces(log.path)
    assert row["feedback"]["score"] == 1.0


def test_a_corrupt_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"t\.jsonl:2: invalid JSON"):
        read_traces(path)
    with pytest.raises(FileNotFoundError):
        read_traces(tmp_path / "missing.jsonl")


def test_the_log_holds_no_user_text_unless_asked(tmp_path: Path) -> None:
    quiet = TraceLog(tmp_path / "a.jsonl")
    quiet.write_result("q", result(0), question="secret question", context="secret context")
    assert "secret" not in quiet.path.read_text()
    loud = TraceLog(tmp_path / "b.jsonl", store_text=True)
    loud.write_result("q", result(0), question="secret question", context="secret context")
    row = read_traces(loud.path)[0]
    assert (row["question"], row["context"]) == ("secret question", "secret context")
