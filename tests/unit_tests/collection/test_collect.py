from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from langchain_automix.collection.collect import (
    Tier,
    _prompt_versions,
    aadd_signals,
    acollect,
    collect_one,
    errors_path,
    load_reuse,
    read_done_ids,
)
from langchain_automix.collection.datasets import QAItem
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel


def items(n: int) -> list[QAItem]:
    return [
        QAItem(id=f"q{i}", question=f"Q{i}?", context=f"C{i}", answers=("Paris",), dataset="t")
        for i in range(n)
    ]


def tiers(latency: float = 0.0, **small: Any) -> list[Tier]:
    return [
        Tier(
            "small",
            ScriptedChatModel(
                answer="Lyon", verdicts=[CORRECT, INCORRECT], latency=latency, **small
            ),
        ),
        Tier("large", ScriptedChatModel(answer="Paris", latency=latency)),
    ]


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_collect_one_row_format() -> None:
    row = await collect_one(items(1)[0], tiers(), k=4, seed=3)
    small, large = row["tiers"]
    assert row["id"] == "q0" and row["answers"] == ["Paris"]
    assert small["model"] == "small" and small["answer"] == "Lyon"
    assert small["score"] == 0.0 and large["score"] == 1.0 and large["exact_match"] == 1.0
    assert small["verifier_confidence"] == 0.5 and len(small["verifier_samples"]) == 4
    assert small["usage"] == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert "verifier_confidence" not in large and "verify_latency_s" not in large
    assert small["verify_latency_s"] >= 0 and large["latency_s"] >= 0


async def test_seeds_are_per_question_and_stable() -> None:
    a = await collect_one(items(2)[0], tiers(), k=2, seed=0)
    b = await collect_one(items(2)[0], tiers(), k=2, seed=0)
    c = await collect_one(items(2)[1], tiers(), k=2, seed=0)
    assert a["seed"] == b["seed"] != c["seed"]


async def test_collect_writes_all_rows_once(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    stats = await acollect(items(7), tiers(), out, k=2, concurrency=3, progress=False)
    assert stats.written == 7 and stats.failed == 0
    assert sorted(r["id"] for r in rows(out)) == [f"q{i}" for i in range(7)]


async def test_resume_after_cancellation_no_duplicates_no_loss(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    task = asyncio.create_task(
        acollect(items(20), tiers(latency=0.01), out, k=2, concurrency=2, progress=False)
    )
    while not out.exists() or len(out.read_text().splitlines()) < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first = {r["id"] for r in rows(out)}
    assert 3 <= len(first) < 20
    stats = await acollect(items(20), tiers(), out, k=2, concurrency=4, progress=False)
    assert stats.skipped == len(first) and stats.written == 20 - len(first)
    ids = [r["id"] for r in rows(out)]
    assert len(ids) == len(set(ids)) == 20


async def test_torn_last_line_is_truncated_and_redone(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    await acollect(items(3), tiers(), out, k=2, progress=False)
    good = out.read_bytes()
    out.write_bytes(good + b'{"id": "q3", "tiers": [{"mod')
    done, torn = read_done_ids(out, repair=False)
    assert done == {"q0", "q1", "q2"} and torn > 0
    stats = await acollect(items(5), tiers(), out, k=2, progress=False)
    assert stats.truncated_bytes == torn and stats.written == 2
    assert [r["id"] for r in rows(out)] == ["q0", "q1", "q2", "q3", "q4"]


def test_complete_last_line_without_newline_is_redone(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"id": "a"}\n{"id": "b"}')
    assert read_done_ids(out) == ({"a"}, len('{"id": "b"}'))
    assert out.read_text() == '{"id": "a"}\n'


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"id": "a"}\nGARBAGE\n{"id": "c"}\n')
    with pytest.raises(ValueError, match=r"r.jsonl:2"):
        read_done_ids(out)


async def test_failures_go_to_errors_file_and_are_retried_next_run(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    broken = tiers(fail_solve=True)
    stats = await acollect(
        items(2), broken, out, k=2, retries=1, retry_backoff_s=0.01, progress=False
    )
    assert stats.failed == 2 and stats.written == 0
    errs = [json.loads(x) for x in errors_path(out).read_text().splitlines()]
    assert {e["id"] for e in errs} == {"q0", "q1"} and all(e["attempts"] == 2 for e in errs)
    stats = await acollect(items(2), tiers(), out, k=2, progress=False)
    assert stats.written == 2 and {r["id"] for r in rows(out)} == {"q0", "q1"}


def test_cli_collect_with_tier_flags_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_automix.cli.main import build_parser

    args = build_parser().parse_args(
        [
            "collect",
            "--data",
            "qa_mix_500",
            "--out",
            "x.jsonl",
            "--tier",
            "s=a@http://127.0.0.1:1/v1",
            "--tier",
            "l=b,key_env=K",
        ]
    )
    assert args.tier == ["s=a@http://127.0.0.1:1/v1", "l=b,key_env=K"] and args.k == 8
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["collect", "--data", "d", "--out", "o", "--local", "--tier", "s=a"]
        )


async def test_resume_refuses_rows_from_other_prompts(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    await acollect(items(2), tiers(), out, k=2, progress=False)
    lines = out.read_text().splitlines()
    row = json.loads(lines[0])
    row["prompt_version"] = "old-prompts"
    out.write_text(json.dumps(row) + "\n" + lines[1] + "\n")
    with pytest.raises(ValueError, match="other prompts"):
        await acollect(items(3), tiers(), out, k=2, progress=False)
    stats = await acollect(items(3), tiers(), out, k=2, progress=False, allow_mixed_prompts=True)
    assert stats.written == 1


def test_prompt_versions_names_the_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"id": "a", "prompt_version": "v1"}\n\n{oops\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:3: invalid JSON"):
        _prompt_versions(out)
    out.write_text('{"id": "a", "prompt_version": "v1"}\n[1]\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:2: expected a JSON object, got list"):
        _prompt_versions(out)
    out.write_text('{"id": "a", "prompt_version": "v1"}\n\n{"id": "b"}\n')
    assert _prompt_versions(out) == {"v1", "None"}


async def test_add_signals_names_the_file_and_true_line_of_a_bad_row(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "question": "Q?", "tiers": [{}, {}]})
    src = tmp_path / "src.jsonl"
    src.write_text(f"{good}\n\n{{oops\n")
    with pytest.raises(ValueError, match=r"src\.jsonl:3: invalid JSON"):
        await aadd_signals(src, tiers(), tmp_path / "o.jsonl", progress=False)
    src.write_text(f"{good}\n\n\n" + json.dumps({"id": "b", "tiers": [{}, {}]}) + "\n")
    with pytest.raises(ValueError, match=r"src\.jsonl:4: needs 'question' and 2 tiers"):
        await aadd_signals(src, tiers(), tmp_path / "o.jsonl", progress=False)
    assert not (tmp_path / "o.jsonl").exists()


def test_load_reuse_names_the_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_text('\n{"id": "a", "tiers": []}\n{oops\n')
    with pytest.raises(ValueError, match=r"old\.jsonl:3: invalid JSON"):
        load_reuse(old)
    old.write_text('\n{"id": "a"}\n')
    with pytest.raises(ValueError, match=r"old\.jsonl:2: not a replay row"):
        load_reuse(old)


@pytest.mark.parametrize(("limit", "peak"), [(None, 4), (1, 1)])
async def test_tier_max_concurrency_bounds_verifier_samples(limit: int | None, peak: int) -> None:
    small = ScriptedChatModel(answer="Lyon", verdicts=[CORRECT], overlap=peak)
    large = ScriptedChatModel(answer="Paris")
    tiers_ = [Tier("small", small, max_concurrency=limit), Tier("large", large)]
    row = await collect_one(items(1)[0], tiers_, k=4, seed=0)
    assert len(row["tiers"][0]["verifier_samples"]) == 4
    assert small.peak_in_flight == peak


async def test_verify_grammar_is_checked_before_any_call_and_versions_rows(
    tmp_path: Path,
) -> None:
    from langchain_automix.collection.collect import prompt_version
    from langchain_automix.prompts import DECISION_GRAMMAR

    out = tmp_path / "r.jsonl"
    cascade = tiers()
    with pytest.raises(ValueError, match="no extra_body field"):
        await acollect(items(2), cascade, out, k=2, progress=False, verify_grammar=DECISION_GRAMMAR)
    assert all(t.model.calls == [] for t in cascade)  # type: ignore[attr-defined]
    assert not out.exists() or out.read_text() == ""
    # rows drawn under a grammar are another measurement: their prompt version differs,
    # and without one it is what it always was
    assert prompt_version() == prompt_version(None, None)
    assert prompt_version(None, DECISION_GRAMMAR) != prompt_version()


def test_cli_verify_grammar_choices() -> None:
    from langchain_automix.cli._common import verify_grammar
    from langchain_automix.prompts import DECISION_GRAMMAR, decision_grammar

    assert verify_grammar("none") is None
    assert verify_grammar("sentence") == DECISION_GRAMMAR
    assert verify_grammar("decision") == decision_grammar(0)
    with pytest.raises(ValueError, match="--verify-grammar"):
        verify_grammar("fast")
