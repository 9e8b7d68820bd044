"""The demo's logic with fake models: calibration, live routing, baselines, table, files."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.collection.datasets import load_qa
from langchain_automix.demo import SHIPPED_QA, pick_live_questions, run_demo

ITEMS = {i.question: i for i in load_qa(SHIPPED_QA)}


class OracleModel(BaseChatModel):
    """Answers from the gold answers; the 'small' one is wrong on every other question and
    its verifier recognises its own mistakes."""

    small: bool = True

    @property
    def _llm_type(self) -> str:
        return "oracle"

    def _item(self, text: str) -> Any:
        for q, item in ITEMS.items():
            if f"Question: {q}" in text:
                return item
        raise AssertionError("question not found in prompt")

    def _answer(self, item: Any) -> str:
        gold = item.answers[0] if item.answers else "unanswerable"
        if self.small and zlib.crc32(item.id.encode()) % 2:  # str hash() varies by process
            return "something wrong"
        return gold

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        text = str(messages[-1].content)
        item = self._item(text)
        if "AI Generated Answer:" in text:
            given = text.rsplit("AI Generated Answer:", 1)[1].split("\n", 1)[0].strip()
            verdict = (
                "Correct"
                if given == self._answer(item) and given != "something wrong"
                else "Incorrect"
            )
            out = f"Verification Decision: The AI generated answer is {verdict}."
        else:
            out = self._answer(item)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=out))])


def _replay(tmp_path: Path) -> Path:
    path = tmp_path / "replay.jsonl"
    path.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in synthetic_replay(200, seed=5, shares=(0.5, 0.5, 0.0)).to_records()
        )
    )
    return path


def _oracle_demo(
    tmp_path: Path, replay: Path, *, model: type[OracleModel] = OracleModel, n: int = 8
) -> Any:
    """The demo on an oracle pair (k = 2, seed 3), quietly, without a plot."""
    return run_demo(
        [model(small=True), model(small=False)],
        n_questions=n,
        k=2,
        seed=3,
        out_dir=tmp_path / "out",
        replay_path=replay,
        plot=False,
        stream=io.StringIO(),
    )


def test_pick_live_questions_is_seeded_and_checked() -> None:
    items = load_qa(SHIPPED_QA)
    assert [q.id for q in pick_live_questions(items, 5, seed=2)] == [
        q.id for q in pick_live_questions(items, 5, seed=2)
    ]
    with pytest.raises(ValueError, match=">= 1"):
        pick_live_questions(items, 0)
    with pytest.raises(ValueError, match="only 500"):
        pick_live_questions(items, 501)


def test_demo_routes_live_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    log = io.StringIO()
    report = run_demo(
        [OracleModel(small=True), OracleModel(small=False)],
        n_questions=8,
        k=2,
        seed=3,
        out_dir=out,
        replay_path=_replay(tmp_path),
        plot=False,
        stream=log,
    )
    assert report.live.n_rows == 8 and len(report.results) == 8
    assert report.calibration_rows == 200
    # the large oracle is always right; the small one is right exactly when it kept its answer
    assert report.baselines["always_large"]["avg_performance"] == 1.0
    for result, row in zip(report.results, report.live.scores, strict=True):
        assert result.escalated == (row[0] < 1.0)
    pomdp = report.methods[-1]
    assert pomdp.name == "AutoMix + POMDP"
    assert pomdp.avg_performance == 1.0
    # the row that ran live is scored offline on the same answers: same routing
    live = {m.name: m for m in report.methods}[report.live_policy]
    share = sum(r.escalated for r in report.results) / 8
    assert live.llm_call_share == pytest.approx(share)
    assert f"{report.live_policy} *" in report.table()
    table = report.table()
    for label in ("always small", "always large", "AutoMix + Threshold", "AutoMix + POMDP"):
        assert label in table
    # each policy's ΔIBC carries its bootstrap interval over the 8 questions
    assert "ΔIBC [95% CI]" in table
    for m in report.methods:
        line = next(ln for ln in table.splitlines() if ln.startswith(m.name))
        if m.delta_ibc is not None:
            lo, hi = (float(v) for v in line.split("[")[1].split("]")[0].split(","))
            assert lo <= hi and f"{m.delta_ibc:+.1f} [" in line
    rows = (out / "live_replay.jsonl").read_text().splitlines()
    assert len(rows) == 8 and json.loads(rows[0])["tiers"][0]["verifier_confidence"] in (0.0, 1.0)
    assert "[8/8]" in log.getvalue()
    # seconds per query: AutoMix rows pay the small answer and its verification on top
    assert "median s" in table
    secs = report.median_seconds
    assert secs["AutoMix + POMDP"] >= secs["always small"] > 0
    kept = sum(not r.escalated for r in report.results)
    assert f"({kept} of 8)" in report.latency_line()
    # the oracle pair: AutoMix keeps only right small answers, so it matches always-large
    line = report.headline()
    assert "quality 1.000 vs always-large 1.000 (difference +0.000" in line
    assert "the same as always-large's on every question" in line
    # and the cost it saved, with its interval, from what the live run spent
    spent = sum(r.total_cost for r in report.results) / 8
    assert f"cost {spent:.1f} vs always-large 50 per query" in line
    assert f"saved {(50 - spent) / 50:.0%} (95% CI [" in line


def test_demo_with_too_few_calibration_rows_says_so(tmp_path: Path) -> None:
    path = tmp_path / "replay.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in synthetic_replay(4, seed=1).to_records()))
    report = run_demo(
        [OracleModel(small=True), OracleModel(small=False)],
        n_questions=2,
        k=1,
        out_dir=tmp_path / "o",
        replay_path=path,
        plot=False,
        stream=io.StringIO(),
    )
    assert any("only 4 shipped replay rows" in n for n in report.notes)


def test_demo_cli_rejects_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_automix.cli.main import main

    assert (
        main(
            [
                "demo",
                "--questions",
                "0",
                "--tier",
                "a=m@http://127.0.0.1:9/v1",
                "--tier",
                "b=m@http://127.0.0.1:9/v1",
            ]
        )
        == 2
    )
    assert "--questions must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(("limit", "peak"), [(None, 4), (1, 1)])
def test_demo_passes_max_concurrency_to_the_verifier(
    tmp_path: Path, limit: int | None, peak: int
) -> None:
    from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel

    small = ScriptedChatModel(answer="x", verdicts=[CORRECT], overlap=peak)
    run_demo(
        [small, ScriptedChatModel(answer="y")],
        n_questions=1,
        k=4,
        out_dir=tmp_path / "out",
        replay_path=_replay(tmp_path),
        plot=False,
        max_concurrency=limit,
        stream=io.StringIO(),
    )
    assert small.peak_in_flight == peak


class LogprobOracle(OracleModel):
    """The oracle pair, with answer token logprobs: sure of right answers, unsure of wrong."""

    logprobs: bool | None = None

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        out = super()._generate(messages, stop, run_manager, **kw)
        msg = out.generations[0].message
        if kw.get("logprobs") and "AI Generated Answer:" not in str(messages[-1].content):
            lp = -3.0 if msg.content == "something wrong" else -0.05
            msg.response_metadata = {
                "logprobs": {"content": [{"token": str(msg.content), "logprob": lp}]}
            }
        return out


def _replay_with_answer_signals(tmp_path: Path) -> Path:
    import numpy as np

    from langchain_automix.calibration.replay import ReplayDataset

    data = synthetic_replay(200, seed=5, shares=(0.5, 0.5, 0.0))
    good = data.scores[:, 0] >= 0.5
    noise = np.random.default_rng(0).normal(0, 0.05, data.n_rows)
    prob = np.clip(np.where(good, 0.9, 0.1) + noise, 0.01, 0.99)
    rows = ReplayDataset(
        ids=data.ids,
        scores=data.scores,
        confidences=data.confidences,
        signals={"answer_min_prob": prob.reshape(-1, 1)},
    ).to_records()
    path = tmp_path / "replay_signals.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_demo_reports_the_no_verifier_row_and_its_latency(tmp_path: Path) -> None:
    report = _oracle_demo(tmp_path, _replay_with_answer_signals(tmp_path), model=LogprobOracle)
    free = {m.name: m for m in report.methods}["AutoMix, no verifier"]
    # sure of right answers, unsure of wrong ones: it keeps exactly the right small answers
    assert free.avg_performance == 1.0
    wrong = sum(row[0] < 1.0 for row in report.live.scores)
    assert free.llm_call_share == pytest.approx(wrong / 8)
    assert free.avg_cost == pytest.approx(1.0 + 50.0 * wrong / 8)  # no verification paid
    assert "AutoMix, no verifier" in report.table()
    # the kept-after-verification line names only the rows that read the verifier
    assert "AutoMix, no verifier" in report.kept_seconds
    assert "AutoMix, no verifier" not in report.kept_line()
    assert "AutoMix + POMDP" in report.verifier_rows


def test_live_free_policy_pays_no_verification_but_the_table_still_reads_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_automix import demo

    def pick_free(policies: Any) -> tuple[str, Any, str]:
        return "AutoMix, no verifier", dict(policies)["AutoMix, no verifier"], "test"

    monkeypatch.setattr(demo, "choose_live", pick_free)
    report = _oracle_demo(tmp_path, _replay_with_answer_signals(tmp_path), model=LogprobOracle)
    assert report.live_policy == "AutoMix, no verifier"
    # live: no verifier call, no verification charged (1 per kept query, 51 per escalated)
    for r in report.results:
        assert r.attempts[0].verifier_confidence is None
        assert r.total_cost == (51.0 if r.escalated else 1.0)
    # the table's verifier rows read a separate verification of every small answer: the
    # oracle's verifier is exact, so its confidence is 1 on right answers and 0 on wrong
    for conf, row in zip(report.live.confidences[:, 0], report.live.scores, strict=True):
        assert conf == (1.0 if row[0] == 1.0 else 0.0)
    assert "AutoMix + POMDP" in report.table() and "AutoMix, no verifier *" in report.table()


def test_choose_live_takes_the_best_safe_gain_and_says_when_all_fell_back() -> None:
    from langchain_automix.demo import choose_live
    from langchain_automix.meta_verifiers import Calibrated, Threshold

    a, b, c = (Calibrated(Threshold()) for _ in range(3))
    a.report = {"cv_delta_ibc": 30.0, "cv_margin_lower": 9.0}
    b.report = {"cv_delta_ibc": 37.5, "cv_margin_lower": 2.0}
    c.fallback, c.report = "escalate", {"cv_delta_ibc": 90.0}  # fell back: not a candidate
    name, policy, why = choose_live([("a", a), ("b", b), ("c", c)])
    assert (name, policy) == ("b", b) and "+37.5" in why and "+2.0" in why
    a.fallback = b.fallback = "escalate"
    name, policy, why = choose_live([("a", a), ("b", b), ("c", c)])
    assert (name, policy) == ("c", c) and "fell back" in why


def test_headline_says_saving_loss_or_cannot_tell(tmp_path: Path) -> None:
    report = _oracle_demo(tmp_path, _replay(tmp_path), n=30)
    kept = sum(not r.escalated for r in report.results)
    assert 5 < kept < 25
    line = report.headline()
    # kept answers cost at most 2 (answer + verification) against 50: about half are kept,
    # so over 30 questions the interval of the saving excludes 0
    assert "a saving: the interval excludes 0" in line
    for r in report.results[:-1]:  # one kept query among 30: too few to tell
        r.total_cost, r.escalated = 52.0, True
    report.results[-1].total_cost, report.results[-1].escalated = 2.0, False
    assert "no saving that 30 questions can show: the interval includes 0" in report.headline()
    for r in report.results:  # pretend every query escalated after a verification
        r.total_cost = 52.0
        r.escalated = True
    assert "a loss: AutoMix cost more than always-large here" in report.headline()
    # and the quality verdict: all escalated gives always-large's answers
    assert "the same as always-large's on every question" in report.headline()
    wrong = [i for i, row in enumerate(report.live.scores) if row[0] < row[-1]]
    assert len(wrong) >= 5
    report.results[wrong[0]].escalated = False  # one wrong small answer kept
    assert "the interval includes 0: 30 questions cannot tell it from" in report.headline()
    for i in wrong:  # every wrong small answer kept
        report.results[i].escalated = False
    assert "lower than always-large's: the interval excludes 0" in report.headline()


def test_demo_with_own_endpoints_needs_their_replay(capsys: pytest.CaptureFixture[str]) -> None:
    """#24: the shipped rows belong to the embedded pair; nothing starts without --replay."""
    from langchain_automix.cli.main import main

    tiers = ["--tier", "a=m@http://127.0.0.1:9/v1", "--tier", "b=m@http://127.0.0.1:9/v1"]
    assert main(["demo", *tiers]) == 2
    err = capsys.readouterr().err
    assert "give --replay FILE" in err and "automix collect --tier" in err


class SharedLayoutOracle(OracleModel):
    """The oracle pair, verifying in the shared-prefix layout: the answer is its own turn
    and the last turn asks for one word. Records which layout each verification used."""

    layouts: ClassVar[list[str]] = []  # shared by the pair on purpose

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        from langchain_automix.prompts import SHARED_VERIFY_REQUEST

        if str(messages[-1].content) != SHARED_VERIFY_REQUEST:
            if "AI Generated Answer:" in str(messages[-1].content):
                self.layouts.append("paper")
            return super()._generate(messages, stop, run_manager, **kw)
        self.layouts.append("shared")
        item = self._item(str(messages[-3].content))
        given = str(messages[-2].content)
        right = given == self._answer(item) and given != "something wrong"
        out = "Correct" if right else "Incorrect"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=out))])


def _tagged_replay(tmp_path: Path, version: str) -> Path:
    """The synthetic replay, its rows tagged as verified under ``version``."""
    rows = synthetic_replay(200, seed=5, shares=(0.5, 0.5, 0.0)).to_records()
    path = tmp_path / f"replay_{version}.jsonl"
    path.write_text("".join(json.dumps({**r, "prompt_version": version}) + "\n" for r in rows))
    return path


def test_demo_verifies_live_as_the_replay_rows_were_verified(tmp_path: Path) -> None:
    from langchain_automix.prompts import SHARED_PREFIX_VERIFY_PROMPT, prompt_version

    SharedLayoutOracle.layouts = []
    replay = _tagged_replay(tmp_path, prompt_version(SHARED_PREFIX_VERIFY_PROMPT))
    report = _oracle_demo(tmp_path, replay, model=SharedLayoutOracle)
    assert report.layout == ("shared", "none")
    assert set(SharedLayoutOracle.layouts) == {"shared"}
    assert not report.notes or not any("verif" in n for n in report.notes)
    # the oracle's one-word verdicts are exact: the verifying rows keep only right answers
    assert report.methods[-1].avg_performance == 1.0
    # kept queries cost the small answer and its verification; the line names the layout
    assert "kept s" in report.table()
    kept = sum(not r.escalated for r in report.results)
    assert 0 < kept < 8  # the oracle pair: about half the small answers are right
    line = report.kept_line()
    assert "--verify-prompt shared --verify-grammar none" in line and "always-large" in line
    secs, n = report.kept_seconds["AutoMix + POMDP"]
    assert secs > 0 and n == sum(row[0] == 1.0 for row in report.live.scores)


def test_demo_says_when_live_verification_is_not_the_replays(tmp_path: Path) -> None:
    from langchain_automix.prompts import SHARED_PREFIX_VERIFY_PROMPT, prompt_version

    SharedLayoutOracle.layouts = []
    replay = _tagged_replay(tmp_path, prompt_version(SHARED_PREFIX_VERIFY_PROMPT))
    report = run_demo(
        [SharedLayoutOracle(small=True), SharedLayoutOracle(small=False)],
        n_questions=4,
        k=2,
        seed=3,
        out_dir=tmp_path / "out",
        replay_path=replay,
        plot=False,
        layout=("default", "none"),
        stream=io.StringIO(),
    )
    assert set(SharedLayoutOracle.layouts) == {"paper"}
    assert any("another measurement" in n for n in report.notes)
    # rows tagged with a version no named layout has: the paper's prompt, said so
    report = _oracle_demo(tmp_path, _tagged_replay(tmp_path, "0123456789ab"), n=2)
    assert report.layout == ("default", "none")
    assert any("0123456789ab" in n for n in report.notes)


def test_demo_rejects_an_unknown_layout_before_any_call(tmp_path: Path) -> None:
    class Refuses(OracleModel):
        def _generate(self, *a: Any, **kw: Any) -> ChatResult:
            raise AssertionError("no model may be called")

    with pytest.raises(ValueError, match="unknown verification layout"):
        run_demo(
            [Refuses(), Refuses(small=False)],
            n_questions=2,
            out_dir=tmp_path,
            replay_path=_replay(tmp_path),
            layout=("shared", "bnf"),
            stream=io.StringIO(),
        )


def test_demo_cli_needs_prompt_and_grammar_together(capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_automix.cli.main import main

    assert main(["demo", "--verify-prompt", "shared"]) == 2
    assert "--verify-prompt and --verify-grammar together" in capsys.readouterr().err


def test_cli_layout_choices_are_the_named_layouts() -> None:
    from langchain_automix import prompts
    from langchain_automix.cli import _common

    assert _common.VERIFY_PROMPTS == tuple(prompts.VERIFY_PROMPTS)
    assert _common.VERIFY_GRAMMARS == tuple(prompts.VERIFY_GRAMMARS)


class SeedOracle(OracleModel):
    """The oracle pair, recording the seed of every verification call by question."""

    seed: int | None = None
    seeds: ClassVar[dict[str, set[int]]] = {}

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        text = str(messages[-1].content)
        if "AI Generated Answer:" in text:
            self.seeds.setdefault(self._item(text).id, set()).add(kw["seed"])
        return super()._generate(messages, stop, run_manager, **kw)


def test_demo_verifies_each_question_with_its_own_seed(tmp_path: Path) -> None:
    """One seed for every question draws the same k random numbers for each, so live
    confidences stop being distributed like the calibration rows' (seen live: every
    question's samples read Correct, Incorrect, Correct, ... in the same order)."""
    from langchain_automix.runtime.verification import query_seed

    SeedOracle.seeds = {}
    report = _oracle_demo(tmp_path, _replay(tmp_path), model=SeedOracle, n=4)
    items = {i.id: i for i in load_qa(SHIPPED_QA)}
    ids = [str(qid) for qid in report.live.ids]
    assert set(SeedOracle.seeds) == set(ids)
    for qid in ids:  # k = 2 samples: seeds base and base + 1, live and for the table alike
        base = query_seed(3, items[qid].question, items[qid].context)
        assert SeedOracle.seeds[qid] == {base, base + 1}
    assert len({min(s) for s in SeedOracle.seeds.values()}) == 4
