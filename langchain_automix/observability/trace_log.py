"""Served traces as replay rows: a rotated JSON Lines log, user feedback, offline re-decisions.

:class:`TraceLog` writes every served query as a replay row (the layout ``automix
collect`` writes, unscored: see :meth:`AutoMixResult.to_replay
<langchain_automix.runtime.result.AutoMixResult.to_replay>`), with the full routing
trace under ``"automix"`` and the request's trace id under ``"id"``. Question and
context text are left out unless the operator opts in (``store_text=True``). Feedback
(``POST /automix/feedback``) goes to a sibling file, ``<name>.feedback.jsonl``, and is
joined on the id when read back (:func:`read_traces`).

Several processes (``automix serve --workers N``) may share one log: every write and
rotation happens under an exclusive ``flock`` on ``<name>.lock``, and a process whose
file was rotated by another reopens it (descriptors stay open between writes).

Example:
    >>> import tempfile, pathlib
    >>> from langchain_automix.runtime.result import AutoMixResult, TierAttempt
    >>> log = TraceLog(pathlib.Path(tempfile.mkdtemp()) / "traces.jsonl")
    >>> r = AutoMixResult(answer="Paris", answered_by=0, answered_by_model="s", n_tiers=2,
    ...     total_cost=2.0, attempts=[TierAttempt(tier=0, model="s", answer="Paris",
    ...     verifier_confidence=0.875, decision="accept", cost=2.0)])
    >>> log.write_result("3f2a", r, question="Capital of France?")
    >>> log.write_feedback("3f2a", 1.0)
    >>> row = read_traces(log.path)[0]
    >>> row["id"], row["question"], row["feedback"]["score"], row["automix"]["answered_by"]
    ('3f2a', None, 1.0, 0)
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_automix._jsonl import json_lines
from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.runtime.result import TRACE_KEY, AutoMixResult, observation_of

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FEEDBACK_SUFFIX",
    "Redecision",
    "ServedRows",
    "TraceLog",
    "feedback_path",
    "normalize_trace_id",
    "read_traces",
    "redecide",
    "served_replay",
]

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
"""Rotate the trace log when it reaches this size (100 MiB)."""

FEEDBACK_SUFFIX = ".feedback.jsonl"
"""Suffix of the feedback file beside a trace log (``traces.jsonl`` →
``traces.feedback.jsonl``)."""

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def feedback_path(path: str | Path) -> Path:
    """The feedback file that belongs to the trace log at ``path``.

    Example:
        >>> feedback_path("logs/traces.jsonl").name
        'traces.feedback.jsonl'
    """
    p = Path(path)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + FEEDBACK_SUFFIX)


def normalize_trace_id(value: str) -> str:
    """The log's id for what a client holds: a run id, or an OpenAI ``chatcmpl-<hex>`` id.

    Raises:
        ValueError: for anything that is not a short id of letters, digits and ``_.:-``.

    Example:
        >>> normalize_trace_id("chatcmpl-3f2a0b7c9d1e4f5a8b6c7d8e9f0a1b2c")
        '3f2a0b7c-9d1e-4f5a-8b6c-7d8e9f0a1b2c'
    """
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError("id must be 1-128 letters, digits or _.:- (a run or completion id)")
    if value.startswith("chatcmpl-"):
        hex_part = value[len("chatcmpl-") :]
        if len(hex_part) == 32 and all(c in "0123456789abcdef" for c in hex_part):
            h = hex_part
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return value


class TraceLog:
    """Append served queries (and feedback) to a rotated JSON Lines file.

    Args:
        path: the log file; rotated copies are ``<path>.1`` (newest) to
            ``<path>.<backups>``.
        store_text: keep each query's question and context (off: ``null``, so the
            log holds no user text; the rows can still be re-decided and labelled by id).
        max_bytes: rotate when the file reaches this size (0: never).
        backups: rotated copies kept.

    Raises:
        ValueError: when the log's folder does not exist or ``backups`` is negative.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        store_text: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = 5,
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"trace log {self.path}: folder {self.path.parent} does not exist")
        if backups < 0 or max_bytes < 0:
            raise ValueError("trace log: max_bytes and backups must be >= 0")
        self.store_text = store_text
        self.max_bytes = max_bytes
        self.backups = backups
        self.feedback_path = feedback_path(self.path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        # open descriptors (path -> (fd, inode)), reopened after a rotation by another
        # process and in a forked child; one writer at a time in this process
        self._fds: dict[Path, tuple[int, int]] = {}
        self._lock_fd = -1
        self._pid = -1
        self._mutex = threading.Lock()

    def write_result(
        self,
        id: str,
        result: AutoMixResult,
        *,
        question: str | None = None,
        context: str | None = None,
        error: str | None = None,
    ) -> None:
        """Write one served query (a failed one too: its partial result and ``error``)."""
        row = result.to_replay(
            id=id,
            question=question if self.store_text else None,
            context=context if self.store_text else None,
        )
        row["served_at"] = _now()
        row["worker_pid"] = os.getpid()
        if error is not None:
            row["error"] = error
        self._append(self.path, row, rotate=True)

    def write_failure(self, id: str, error: str) -> None:
        """Write a query that failed before any tier answered (nothing else to record)."""
        self._append(self.path, {"id": id, "error": error, "served_at": _now()}, rotate=True)

    def write_feedback(self, id: str, score: float, *, comment: str | None = None) -> None:
        """Record a user's score in ``[0, 1]`` for a served query's id.

        Raises:
            ValueError: for a malformed id or a score outside ``[0, 1]``.
        """
        key = normalize_trace_id(id)
        if isinstance(score, bool) or not 0.0 <= float(score) <= 1.0:
            raise ValueError(f"score must be a number in [0, 1], got {score!r}")
        entry: dict[str, Any] = {"id": key, "score": float(score), "at": _now()}
        if comment:
            entry["comment"] = comment
        self._append(self.feedback_path, entry, rotate=False)

    def _append(self, path: Path, row: dict[str, Any], *, rotate: bool) -> None:
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._mutex:
            if self._pid != os.getpid():  # first write, or a forked child: own descriptors
                self._fds, self._pid = {}, os.getpid()
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                fd, size = self._descriptor(path)
                if rotate and self.max_bytes and size and size + len(line) > self.max_bytes:
                    self._rotate(path)
                    fd, _ = self._descriptor(path)
                os.write(fd, line)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _descriptor(self, path: Path) -> tuple[int, int]:
        """An append descriptor of the file now at ``path``, and the file's size."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        held = self._fds.get(path)
        if held is not None and st is not None and held[1] == st.st_ino:
            return held[0], st.st_size
        if held is not None:  # rotated or removed since: that file is not ours any more
            os.close(held[0])
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        st_now = os.fstat(fd)
        self._fds[path] = (fd, st_now.st_ino)
        return fd, st_now.st_size

    def close(self) -> None:
        """Close the open descriptors (reopened by the next write)."""
        with self._mutex:
            for fd, _ in self._fds.values():
                os.close(fd)
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            self._fds, self._lock_fd, self._pid = {}, -1, -1

    def _rotate(self, path: Path) -> None:
        if self.backups == 0:
            path.unlink()
            return
        for i in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{i + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _log_files(path: Path) -> list[Path]:
    rotated = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.name[len(path.name) + 1 :].isdigit()),
        key=lambda p: -int(p.name[len(path.name) + 1 :]),
    )
    return [*rotated, *([path] if path.exists() else [])]


def read_traces(path: str | Path, *, feedback: bool = True) -> list[dict[str, Any]]:
    """Every row of a trace log (rotated copies first, oldest first), feedback joined.

    A row with feedback gets ``row["feedback"] = {"score": ..., "at": ...}`` (the
    latest feedback for its id).

    Raises:
        ValueError: naming the file and line of a row that is not JSON.
        FileNotFoundError: when neither the log nor a rotated copy exists.
    """
    p = Path(path)
    files = _log_files(p)
    if not files:
        raise FileNotFoundError(f"trace log {p} not found")
    rows: list[dict[str, Any]] = []
    for f in files:
        rows.extend(_read_jsonl(f))
    if feedback and feedback_path(p).exists():
        latest: dict[str, dict[str, Any]] = {}
        for entry in _read_jsonl(feedback_path(p)):
            latest[str(entry.get("id"))] = {k: v for k, v in entry.items() if k != "id"}
        for row in rows:
            if str(row.get("id")) in latest:
                row["feedback"] = latest[str(row["id"])]
    return rows


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in json_lines(path, objects=True):
        yield row


@dataclass
class Redecision:
    """How a policy, re-run offline on served traces, compares with what was served."""

    n_rows: int = 0
    """Served queries with a routing trace."""
    n_decisions: int = 0
    """Decisions re-made (one per tier that reached a meta-verifier decision)."""
    n_agree: int = 0
    """Of those, how many sent the query where the server did."""
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    """The first disagreements: ``{"id", "tier", "served", "policy"}`` (target tiers)."""

    @property
    def agreement(self) -> float:
        """Share of decisions reproduced (1.0 when there were none)."""
        return self.n_agree / self.n_decisions if self.n_decisions else 1.0


def redecide(policy: MetaVerifier, rows: Sequence[dict[str, Any]], *, keep: int = 20) -> Redecision:
    """Re-make every served decision with ``policy`` from the logged observations.

    Each tier's observation is rebuilt exactly as the graph built it
    (:func:`~langchain_automix.runtime.result.observation_of` over the logged attempts),
    so the policy the server ran reproduces every decision; another policy shows where
    it would have routed differently. Rows without a trace (failed before any answer)
    are skipped.
    """
    out = Redecision()
    for row in rows:
        trace = row.get("automix")
        if not isinstance(trace, dict) or "attempts" not in trace:
            continue
        result = AutoMixResult.from_trace(trace)
        out.n_rows += 1
        attempts = result.attempts
        for i, attempt in enumerate(attempts):
            if attempt.decision is None or attempt.skipped:
                continue
            served = attempt.tier if attempt.decision == "accept" else attempt.escalate_to
            if attempt.explored:  # the meta-verifier accepted; exploration escalated
                served = attempt.tier
            if served is None:
                served = attempt.tier + 1
            got = policy.target_tier(observation_of(attempts[: i + 1], result.n_tiers))
            out.n_decisions += 1
            if got == served:
                out.n_agree += 1
            elif len(out.disagreements) < keep:
                out.disagreements.append(
                    {"id": row.get("id"), "tier": attempt.tier, "served": served, "policy": got}
                )
    return out


@dataclass
class ServedRows:
    """Served traces turned into agreement-labelled replay rows (:func:`served_replay`)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    """Replay rows (explored ones repeated by their inverse-propensity weight)."""
    n_traces: int = 0
    """Served queries read."""
    n_both: int = 0
    """Of those, how many reached the final tier with an answer at every tier."""
    n_escalated: int = 0
    """Rows the meta-verifier escalated itself (weight 1)."""
    n_explored: int = 0
    """Rows that reached the final tier by exploration (weight 1 / explore rate)."""
    n_accepted: int = 0
    """Queries kept by a cheaper tier without exploration: no final answer to agree
    with, represented by the explored ones."""
    n_dropped: int = 0
    """Failed queries, and queries with a skipped or failed tier (no label possible)."""
    weights: dict[str, int] = field(default_factory=dict)
    """Copies per explored row, by explore rate (``1 / rate``, rounded)."""


def served_replay(traces: Sequence[dict[str, Any]]) -> ServedRows:
    """Agreement-labelled replay rows from served traces, corrected for selection.

    Only queries that reached the final tier carry the reference answer an agreement
    label needs, and the meta-verifier chose them: on their own they over-represent the
    low-confidence queries (selection bias). With exploration on
    (``AutoMixRunnable(explore=e)``) a random share ``e`` of the accepted queries is
    escalated too; each of those stands for ``1 / e`` accepted queries and is repeated
    that many times (inverse-propensity weighting by replication, exact when ``1 / e``
    is a whole number: 0.05, 0.1, 0.2, 0.25, 0.5), so the rows represent the whole
    traffic. Without exploration the rows are the escalated queries alone, and a fit
    on them is biased (:attr:`ServedRows.n_explored` is 0 then; ``automix fit
    --from-traces`` says so).
    """
    from langchain_automix.collection.labels import agreement_record

    out = ServedRows()
    for trace_row in traces:
        trace = trace_row.get("automix")
        if not isinstance(trace, dict) or "attempts" not in trace:
            out.n_traces += 1
            out.n_dropped += 1
            continue
        out.n_traces += 1
        result = AutoMixResult.from_trace(trace)
        attempts = result.attempts
        if "error" in trace_row or any(a.skipped or a.answer is None for a in attempts):
            out.n_dropped += 1
            continue
        if len(attempts) < result.n_tiers:
            out.n_accepted += 1
            continue
        row = result.to_replay(
            id=str(trace_row.get("id")),
            question=trace_row.get("question"),
            context=trace_row.get("context"),
        )
        labelled = agreement_record(row)
        if labelled is None:  # pragma: no cover - every attempt answered (checked above)
            out.n_dropped += 1
            continue
        labelled.pop(TRACE_KEY, None)
        explored = [a for a in attempts if a.explored and a.explore_rate]
        copies = 1
        for a in explored:  # reached by exploration: it stands for 1/rate accepted ones
            weight = max(1, round(1.0 / float(a.explore_rate or 1.0)))
            out.weights[f"{a.explore_rate:g}"] = weight
            copies *= weight
        out.n_both += 1
        if explored:
            out.n_explored += 1
        else:
            out.n_escalated += 1
        for i in range(copies):
            out.rows.append(
                labelled
                if i == 0
                else {**labelled, "id": f"{labelled['id']}#{i}", "copy_of": labelled["id"]}
            )
    return out
