"""Collect replay data: run every tier over a QA file, verify, score, append rows.

For each question, every tier answers (greedy, fixed seed); every tier except the
last also verifies its own answer ``k`` times (temperature 1.0, seeds
``seed, seed+1, ...``); each answer is scored (SQuAD token F1 and exact match,
see :mod:`langchain_automix.collection.scoring`). One JSON row per question is appended to the
output file::

    {"id": "q1", "dataset": "squad_v2", "question": "...", "context": "...",
     "answers": ["..."], "tiers": [
        {"model": "small", "answer": "...", "score": 0.67, "exact_match": 0.0,
         "verifier_confidence": 0.625, "verifier_samples": ["..."],
         "verifier_n_valid": 8, "usage": {"input_tokens": 210, "output_tokens": 6},
         "verify_usage": {...}, "latency_s": 0.8, "verify_latency_s": 5.1},
        {"model": "large", "answer": "...", "score": 1.0, "exact_match": 1.0,
         "usage": {...}, "latency_s": 1.7}]}

Resumable: each finished row is appended as one ``write`` of one line, then
flushed and fsynced. On restart the ids already in the output are skipped; a torn
last line (a run killed mid-write) is truncated away. A question that still fails
after the retries is written to the errors file (``<output>.errors.jsonl``) and
tried again on the next run, never silently dropped.

Example:
    >>> import asyncio
    >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
    >>> from langchain_automix.collection.datasets import QAItem
    >>> small = FakeListChatModel(responses=["Paris"] + [
    ...     "Verification Decision: The AI generated answer is Correct."] * 2)
    >>> large = FakeListChatModel(responses=["Paris"])
    >>> item = QAItem(id="q1", question="Capital of France?",
    ...               context="Paris is the capital of France.", answers=("Paris",))
    >>> row = asyncio.run(collect_one(item, [Tier("s", small), Tier("l", large)], k=2))
    >>> row["tiers"][0]["verifier_confidence"], row["tiers"][1]["score"]
    (1.0, 1.0)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable

from langchain_automix._jsonl import json_lines
from langchain_automix._model_utils import flat_usage
from langchain_automix.collection.datasets import QAItem
from langchain_automix.collection.labels import (
    LABEL_KINDS,
    JudgeStats,
    agreement_record,
    ajudge_record,
)
from langchain_automix.collection.scoring import score
from langchain_automix.prompts import prompt_version
from langchain_automix.runtime.result import TierAttempt
from langchain_automix.runtime.solving import asolve
from langchain_automix.runtime.tier_step import aanswer, averify_attempt, verified
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    VerifyMode,
    check_grammar_model,
    verify_mode,
)
from langchain_automix.runtime.verification_logprob import alogprob_verify_settings

__all__ = [
    "CollectStats",
    "Tier",
    "aadd_signals",
    "acollect",
    "collect_one",
    "errors_path",
    "load_reuse",
    "prompt_version",
    "read_done_ids",
    "tiers_verify_mode",
]


@dataclass
class Tier:
    """One tier of the cascade for collection.

    Attributes:
        name: the label written in each row's ``model`` field.
        model: the chat model that answers (greedy decoding recommended).
        verifier: the model that verifies; defaults to ``model`` (AutoMix verifies
            with the same model, sampled at ``temperature``). A text-completion model
            (``langchain_openai.OpenAI`` on the same server's completions route)
            verifies in completion mode, the paper's raw few-shot text (see
            :func:`~langchain_automix.runtime.verification.verify_mode`).
        request_n: ask for the k samples in one call with ``n=k`` (None: when the
            model supports ``n``; set False for servers that ignore ``n`` such as
            llama.cpp's).
        max_concurrency: verifier samples in flight at once when they are separate
            calls (1 for llama.cpp's server, which serves one request at a time;
            None: all at once).
    """

    name: str
    model: BaseChatModel
    verifier: BaseLanguageModel[Any] | None = None
    request_n: bool | None = None
    max_concurrency: int | None = None


@dataclass
class CollectStats:
    """What a collection run did."""

    total: int = 0
    skipped: int = 0
    written: int = 0
    failed: int = 0
    truncated_bytes: int = 0
    failed_ids: list[str] = field(default_factory=list)


def errors_path(output: str | os.PathLike[str]) -> Path:
    """Where failed questions of ``output`` are recorded."""
    out = Path(output)
    return out.with_name(out.name.removesuffix(".jsonl") + ".errors.jsonl")


def question_seed(base_seed: int, qid: str) -> int:
    """A stable per-question seed derived from the run seed and the question id."""
    return (base_seed * 1_000_003 + zlib.crc32(qid.encode())) % (2**31 - 64)


def read_done_ids(output: str | os.PathLike[str], *, repair: bool = True) -> tuple[set[str], int]:
    """Read the ids already written to ``output``, truncating a torn last line.

    Args:
        output: the replay JSONL file (may not exist).
        repair: truncate a torn last line in place (otherwise only report it).

    Returns:
        The set of ids present and the number of bytes truncated.

    Raises:
        ValueError: a line other than the last is not valid JSON or has no ``id``
            (the file is damaged in a way resuming cannot fix safely).
    """
    path = Path(output)
    if not path.exists():
        return set(), 0
    data = path.read_bytes()
    done: set[str] = set()
    good_end = 0
    pos = 0
    lineno = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line = data[pos:end]
        lineno += 1
        is_last = end >= len(data)
        try:
            if nl < 0:
                raise ValueError("no newline")
            if line.strip():
                obj = json.loads(line)
                done.add(str(obj["id"]))
        except (ValueError, KeyError, TypeError) as exc:
            if is_last:
                break
            raise ValueError(f"{path}:{lineno}: damaged replay row ({exc})") from exc
        good_end = end
        pos = end
    torn = len(data) - good_end
    if torn and repair:
        with path.open("r+b") as fh:
            fh.truncate(good_end)
    return done, torn


def _prompt_versions(output: Path) -> set[str]:
    """The ``prompt_version`` of every row; a bad line is a ValueError naming file and line."""
    return {str(row.get("prompt_version")) for _, row in json_lines(output, objects=True)}


_VERIFY_FIELDS = (
    "signals",
    "verifier_confidence",
    "verifier_samples",
    "verifier_n_valid",
    "verifier_errors",
    "verify_usage",
    "verify_latency_s",
    "logprob_verify_latency_s",
    "logprob_verify_usage",
)


def load_reuse(
    path: str | os.PathLike[str],
    *,
    verify_prompt: BasePromptTemplate | None = None,
    verify_grammar: str | None = None,
    verify_mode: VerifyMode = "chat",
    answers_only: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Tier records of an earlier replay file, by question id and model name.

    ``acollect(..., reuse=load_reuse("old.jsonl"))`` copies a tier's record from the
    earlier run instead of calling the model again when the tier's name matches: e.g.
    a three-tier replay that adds a smaller model in front of a collected pair only
    runs the new model. Rows made with other prompts (``prompt_version``) are not
    reused.

    With ``answers_only=True`` (``acollect(..., reuse_answers=True)``) the rows of any
    verify prompt, grammar or mode are read and only each tier's *answer* is copied (its
    text, answer signals, usage and latency); every verifying tier verifies it anew.
    That measures another verifier on exactly the answers of an earlier run. The
    solve prompt must be the one of that run (it is the same in every version so far).

    Raises:
        ValueError: naming the line of a row that is not a JSON object with ``id`` and
            a ``tiers`` list.
    """
    now = prompt_version(verify_prompt, verify_grammar, verify_mode)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for lineno, row in json_lines(path):
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("tiers"), list):
            raise ValueError(f"{path}:{lineno}: not a replay row (id and tiers)")
        if not answers_only and row.get("prompt_version", now) != now:
            continue
        out[str(row["id"])] = {
            str(t["model"]): t for t in row["tiers"] if isinstance(t, dict) and "model" in t
        }
    return out


_ANSWER_FIELDS = ("model", "answer", "usage", "latency_s")


def _reused_answer(stored: Mapping[str, Any] | None, item: QAItem) -> dict[str, Any] | None:
    """The answer part of a stored tier record (to verify anew), re-scored, or None."""
    if stored is None or not isinstance(stored.get("answer"), str):
        return None
    entry = {key: stored[key] for key in _ANSWER_FIELDS if key in stored}
    entry["score"], entry["exact_match"] = _gold(entry["answer"], item)
    signals = {k: v for k, v in (stored.get("signals") or {}).items() if k != "logprob_verifier"}
    if signals:
        entry["signals"] = signals
    entry["answer_reused"] = True
    return entry


def _reused_entry(
    stored: Mapping[str, Any] | None, item: QAItem, *, final: bool, k: int
) -> dict[str, Any] | None:
    """A stored tier record fit for this position in the cascade, re-scored, or None."""
    if stored is None or not isinstance(stored.get("answer"), str):
        return None
    if not final and (
        stored.get("verifier_confidence") is None
        or len(stored.get("verifier_samples") or ()) not in (0, k)
    ):
        return None  # it was a final tier there (never verified) or verified with another k
    entry = {key: value for key, value in stored.items() if not final or key not in _VERIFY_FIELDS}
    entry["score"], entry["exact_match"] = _gold(entry["answer"], item)
    entry["reused"] = True
    return entry


def _append_line(fd: int, obj: dict[str, Any]) -> None:
    line = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    written = os.write(fd, line)
    if written != len(line):  # pragma: no cover - regular files write fully
        raise OSError(f"short write ({written} of {len(line)} bytes)")
    os.fsync(fd)


async def collect_one(
    item: QAItem,
    tiers: Sequence[Tier],
    *,
    k: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    verify_max_tokens: int | None = 128,
    logprob_verifier: bool = False,
    verify_prompt: BasePromptTemplate | None = None,
    reuse: Mapping[str, Mapping[str, Any]] | None = None,
    verify_grammar: str | None = None,
    reuse_answers: bool = False,
    labels: str = "gold",
    judge: Runnable[Any, Any] | None = None,
) -> dict[str, Any]:
    """Run every tier on one question and return its replay row.

    Args:
        item: the question.
        tiers: the cascade, cheapest first (at least one).
        k: verifier samples per non-final tier.
        temperature: verifier sampling temperature.
        seed: run seed; each question derives its own from it and its id.
        verify_max_tokens: cap on each verifier sample.
        logprob_verifier: also run the one-call logprob verifier on each non-final
            tier (signal ``logprob_verifier``; needs an endpoint with logprobs).
        verify_prompt: verification prompt (default the paper's, ``DEFAULT_VERIFY_PROMPT``).
        verify_grammar: GBNF grammar for every verifier sample (llama.cpp servers; see
            :func:`~langchain_automix.prompts.decision_grammar`); None: none.
        reuse: this question's tier records from an earlier run, by model name (see
            :func:`load_reuse`); a matching tier is copied (marked ``"reused": true``)
            instead of called.
        reuse_answers: copy only the answers of ``reuse`` (loaded with
            ``answers_only=True``); every verifying tier verifies its answer anew.
        labels: ``gold`` scores each tier against the item's answers; ``agreement``
            against the final tier's answer (:mod:`~langchain_automix.collection.labels`;
            the gold scores kept as ``gold_score``); ``judge`` by the final tier's model
            judging each cheaper answer the same as its own or not (one greedy call per
            answer that differs; ``judge_calls`` in the row). An item without answers is
            labelled by agreement unless ``judge``.
        judge: the model that judges for ``labels="judge"`` (default: the final tier's;
            e.g. :func:`~langchain_automix.collection.labels.uncached_judge` of it, for
            verdicts that do not change run to run on a llama.cpp server).

    Returns:
        The replay row (see the module docstring). Non-final tiers carry ``signals``:
        the answer's token probabilities when the endpoint returned logprobs (see
        :mod:`langchain_automix.signals`) and ``logprob_verifier`` when asked for.
    """
    if not tiers:
        raise ValueError("need at least one tier")
    mode = tiers_verify_mode(tiers)
    qseed = question_seed(seed, item.id)
    out_tiers: list[dict[str, Any]] = []
    for i, tier in enumerate(tiers):
        final = i == len(tiers) - 1
        stored = (reuse or {}).get(tier.name)
        entry: dict[str, Any] | None = None
        if reuse_answers:
            entry = _reused_answer(stored, item)
        else:
            reused = _reused_entry(stored, item, final=final, k=k)
            if reused is not None:
                out_tiers.append(reused)
                continue
        # the tier step the graph records live: the same rules and fields
        if entry is None:
            attempt = await aanswer(
                tier.model,
                tier=i,
                name=tier.name,
                question=item.question,
                context=item.context,
                final=final,
                logprobs=not final,
            )
            extra: dict[str, Any] = {}
        else:  # an earlier run's answer, verified anew
            attempt = TierAttempt.from_replay(entry, tier=i)
            extra = {"answer_reused": True}
        if not final:
            verifier = tier.verifier or tier.model
            if logprob_verifier:
                lp = await alogprob_verify_settings(
                    # the logprob verifier reads a chat reply's top logprobs
                    verifier if mode == "chat" else tier.model,
                    question=item.question,
                    context=item.context,
                    answer=attempt.answer or "",
                    # as a live ``verification="logprob"`` asks: the verification
                    # prompt when one is given, else the decision-only one
                    settings=VerifierSettings(
                        seed=qseed,
                        max_tokens=verify_max_tokens,
                        prompt=verify_prompt,
                        method="logprob",
                    ),
                )
                if lp.n_valid:
                    signals = {**attempt.signals, "logprob_verifier": float(lp.confidence)}
                    attempt = attempt.model_copy(update={"signals": signals})
                extra["logprob_verify_latency_s"] = round(float(lp.latency_s), 4)
                extra["logprob_verify_usage"] = flat_usage(lp.usage) or {}
            if attempt.error is not None:  # an empty answer: escalated live, never verified
                unverified = VerificationResult.unverified(attempt.error, k)
                attempt = verified(attempt, unverified, method="sampling")
            else:
                attempt = await averify_attempt(
                    attempt,
                    verifier,
                    question=item.question,
                    context=item.context,
                    settings=VerifierSettings(
                        k=k,
                        temperature=temperature,
                        max_tokens=verify_max_tokens,
                        seed=qseed,
                        request_n=tier.request_n,
                        prompt=verify_prompt,
                        grammar=verify_grammar,
                    ),
                    config={"max_concurrency": tier.max_concurrency}
                    if tier.max_concurrency
                    else None,
                )
        entry = {**attempt.to_replay(_gold(attempt.answer or "", item)), **extra}
        out_tiers.append(entry)
    row = {
        "id": item.id,
        "dataset": item.dataset,
        "question": item.question,
        "context": item.context,
        "answers": None if item.answers is None else list(item.answers),
        "tiers": out_tiers,
        "k": k,
        "seed": qseed,
        "prompt_version": prompt_version(verify_prompt, verify_grammar, mode),
    }
    if labels == "gold" and item.answers is not None:
        return row
    if item.answers is None:  # no gold: drop the placeholders, nothing to keep beside
        for entry in out_tiers:
            entry.pop("score", None)
            entry.pop("exact_match", None)
    if labels == "judge":  # the final tier's model judges each cheaper answer
        stats = JudgeStats()
        labelled = await ajudge_record(row, judge or tiers[-1].model, stats)
        if labelled is not None:
            labelled["judge_calls"] = stats.calls
    else:
        labelled = agreement_record(row)
    if labelled is None:
        raise ValueError(f"{item.id}: the final tier gave no answer to agree with")
    return labelled


def _gold(answer: str, item: QAItem) -> tuple[float, float]:
    """The answer's score against the item's gold answers.

    Without any: 0 placeholders, which :func:`collect_one` replaces by agreement labels
    before the row is written.
    """
    if item.answers is None:
        return 0.0, 0.0
    f1, em = score(answer, item.answers)
    return f1, em


def tiers_verify_mode(tiers: Sequence[Tier]) -> VerifyMode:
    """The verification mode of a cascade's verifying tiers (all but the last).

    Raises:
        ValueError: the tiers verify in different modes (one replay file holds one
            ``prompt_version``).
    """
    modes = {verify_mode(t.verifier or t.model) for t in tiers[:-1]}
    if len(modes) > 1:
        raise ValueError(
            "the verifying tiers mix chat and completion verifiers; use one mode for all"
        )
    return modes.pop() if modes else "chat"


class _Progress:
    def __init__(self, total: int, initial: int, enabled: bool, stream: TextIO) -> None:
        self._bar: Any = None
        self._n = initial
        self._total = total
        self._stream = stream
        self._enabled = enabled
        self._start = time.monotonic()
        if not enabled:
            return
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="q", file=stream)
        except ImportError:
            self._bar = None

    def update(self, failed: int) -> None:
        self._n += 1
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix(failed=failed, refresh=False)
            self._bar.update(1)
            return
        rate = (time.monotonic() - self._start) / max(1, self._n)
        self._stream.write(
            f"\r{self._n}/{self._total} questions, {failed} failed, {rate:.1f}s/q   "
        )
        self._stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._enabled:
            self._stream.write("\n")


async def acollect(
    items: Iterable[QAItem],
    tiers: Sequence[Tier],
    output: str | os.PathLike[str],
    *,
    k: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    concurrency: int = 1,
    retries: int = 2,
    progress: bool = True,
    progress_stream: TextIO | None = None,
    verify_max_tokens: int | None = 128,
    retry_backoff_s: float = 2.0,
    allow_mixed_prompts: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    logprob_verifier: bool = False,
    verify_prompt: BasePromptTemplate | None = None,
    reuse: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    verify_grammar: str | None = None,
    reuse_answers: bool = False,
    labels: str = "gold",
    judge: Runnable[Any, Any] | None = None,
) -> CollectStats:
    """Collect replay rows for ``items`` into ``output``, resuming a previous run.

    Args:
        items: the questions (ids must be unique).
        tiers: the cascade, cheapest first.
        output: replay JSONL file, appended to.
        k: verifier samples per non-final tier.
        temperature: verifier temperature.
        seed: run seed (per-question seeds derive from it).
        concurrency: questions in flight at once.
        retries: extra attempts for a failing question before it goes to the
            errors file.
        progress: show a progress bar (tqdm if installed, else a stderr line).
        progress_stream: where the progress goes (stderr by default).
        verify_max_tokens: cap on each verifier sample.
        retry_backoff_s: base of the exponential back-off between retries (jittered).
        allow_mixed_prompts: resume a file whose rows were made with other
            prompts (by default that is refused: a replay file should hold one
            prompt version).
        on_row: called with each row after it is written.
        logprob_verifier: also record the one-call logprob verifier's P(Correct).
        verify_prompt: verification prompt (default the paper's).
        verify_grammar: GBNF grammar for every verifier sample (see :func:`collect_one`);
            part of each row's ``prompt_version``.
        reuse: tier records of an earlier run by question id and model name
            (:func:`load_reuse`): matching tiers are copied, not called.
        reuse_answers: copy only the answers of ``reuse`` (loaded with
            ``answers_only=True``) and verify them anew: another verifier measured on
            the same answers.
        labels: ``gold``, ``agreement`` or ``judge`` (see :func:`collect_one`);
            ``gold`` needs every item's answers.
        judge: the model that judges for ``labels="judge"`` (see :func:`collect_one`).

    Returns:
        A :class:`CollectStats`.

    Raises:
        ValueError: before any call, for ``k`` or ``concurrency`` below 1 or negative
            ``retries``, or a ``verify_grammar`` that a verifying tier's model cannot
            send, or verifying tiers that mix chat and completion verifiers (a bad
            setting would fail every question, each retried as if the failure were
            transient).
    """
    items = list(items)
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {', '.join(LABEL_KINDS)}, got {labels!r}")
    if judge is not None and labels != "judge":
        raise ValueError(f"a judge model applies to labels='judge', got labels={labels!r}")
    if labels == "gold":
        unlabelled = [item.id for item in items if item.answers is None]
        if unlabelled:
            raise ValueError(
                f"{len(unlabelled)} question(s) have no 'answers' (first: {unlabelled[0]}): "
                "collect them with labels='agreement' (automix collect --labels agreement) "
                "or add their gold answers"
            )
    for name, value, least in (
        ("k", k, 1),
        ("concurrency", concurrency, 1),
        ("retries", retries, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    if verify_grammar is not None:
        for tier in list(tiers)[:-1]:  # the tiers that verify
            check_grammar_model(tier.verifier or tier.model)
    mode = tiers_verify_mode(tiers)
    items = list(items)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    done, torn = read_done_ids(out)
    if done and not allow_mixed_prompts:
        versions = _prompt_versions(out)
        now = prompt_version(verify_prompt, verify_grammar, mode)
        if versions - {now}:
            raise ValueError(
                f"{out} holds rows made with other prompts (prompt_version "
                f"{', '.join(sorted(versions))}; now {now}). Write to a new "
                "file, or pass allow_mixed_prompts=True (--allow-mixed-prompts)."
            )
    todo = [it for it in items if it.id not in done]
    stats = CollectStats(total=len(items), skipped=len(items) - len(todo), truncated_bytes=torn)
    sem = asyncio.Semaphore(max(1, concurrency))
    bar = _Progress(len(items), stats.skipped, progress, progress_stream or sys.stderr)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    err_fd: int | None = None

    async def run(item: QAItem) -> None:
        nonlocal err_fd
        async with sem:
            last: BaseException | None = None
            for attempt in range(retries + 1):
                try:
                    row = await collect_one(
                        item,
                        tiers,
                        k=k,
                        temperature=temperature,
                        seed=seed,
                        verify_max_tokens=verify_max_tokens,
                        logprob_verifier=logprob_verifier,
                        verify_prompt=verify_prompt,
                        verify_grammar=verify_grammar,
                        reuse=(reuse or {}).get(item.id),
                        reuse_answers=reuse_answers,
                        labels=labels,
                        judge=judge,
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    last = exc
                    delay = min(30.0, retry_backoff_s * 2.0**attempt)
                    await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311
                    continue
                _append_line(fd, row)
                stats.written += 1
                if on_row is not None:
                    on_row(row)
                bar.update(stats.failed)
                return
            stats.failed += 1
            stats.failed_ids.append(item.id)
            if err_fd is None:
                err_fd = os.open(errors_path(out), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            _append_line(
                err_fd,
                {
                    "id": item.id,
                    "error": f"{type(last).__name__}: {last}",
                    "attempts": retries + 1,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
            )
            bar.update(stats.failed)

    try:
        await asyncio.gather(*(run(it) for it in todo))
    finally:
        bar.close()
        os.close(fd)
        if err_fd is not None:
            os.close(err_fd)
    return stats


async def aadd_signals(
    source: str | os.PathLike[str],
    tiers: Sequence[Tier],
    output: str | os.PathLike[str],
    *,
    progress: bool = True,
    progress_stream: TextIO | None = None,
) -> CollectStats:
    """Add the answer-logprob signals to an existing replay file, resuming like :func:`acollect`.

    Each non-final tier answers each row's question again with ``logprobs`` (greedy, the
    same solve prompt, so the same answer as when the row was collected) and its
    ``signals`` are added to the row; scores, answers and verifier samples stay as they
    were. A row whose new answer differs from the stored one gets no signals for that
    tier (they would describe another answer) and ``signals_answer_mismatch: true``;
    the count is in the returned stats (``failed``). Rows are written to ``output`` in
    the same layout, one at a time (resumable: ids already there are skipped).

    Args:
        source: replay file collected by :func:`acollect` (rows need ``question``,
            ``context`` and each tier's ``answer``).
        tiers: the cascade the rows were collected with, cheapest first.
        output: replay file to write.
        progress: show a progress bar.
        progress_stream: where the progress goes (stderr by default).
    """
    src = Path(source)
    rows: list[dict[str, Any]] = []
    for lineno, row in json_lines(src, objects=True):
        if "question" not in row or len(row.get("tiers") or []) != len(tiers):
            raise ValueError(
                f"{src}:{lineno}: needs 'question' and {len(tiers)} tiers to add signals"
            )
        rows.append(row)
    out = Path(output)
    done, torn = read_done_ids(out)
    todo = [r for r in rows if str(r["id"]) not in done]
    stats = CollectStats(total=len(rows), skipped=len(rows) - len(todo), truncated_bytes=torn)
    bar = _Progress(len(rows), stats.skipped, progress, progress_stream or sys.stderr)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for row in todo:
            for t, tier in enumerate(tiers[:-1]):
                entry = row["tiers"][t]
                solved = await asolve(
                    tier.model, question=row["question"], context=row.get("context"), logprobs=True
                )
                if solved.answer != entry.get("answer"):
                    entry["signals_answer_mismatch"] = True
                    stats.failed += 1
                    stats.failed_ids.append(str(row["id"]))
                    continue
                entry["signals"] = {**(entry.get("signals") or {}), **(solved.signals or {})}
                entry["signals_latency_s"] = round(float(solved.latency_s), 4)
            _append_line(fd, row)
            stats.written += 1
            bar.update(stats.failed)
    finally:
        bar.close()
        os.close(fd)
    return stats
