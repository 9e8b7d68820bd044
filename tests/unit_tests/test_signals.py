"""Routing signals: answer logprobs in solve, traces, observations, replay rows and collect."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.messages import AIMessage

from langchain_automix import AutoMixResult, AutoMixRunnable, ReplayDataset, ReplayError
from langchain_automix.collection.collect import Tier, collect_one
from langchain_automix.collection.datasets import QAItem
from langchain_automix.meta_verifiers.base import Decision, MetaVerifier, Observation
from langchain_automix.runtime.solving import solve
from langchain_automix.signals import SIGNALS, SignalCombiner, answer_signals
from tests.unit_tests.fake_models import CORRECT, INCORRECT, LogprobChatModel, ScriptedChatModel


class Recorder(MetaVerifier):
    """Accepts everything and keeps the observations it saw."""

    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[Observation] = []

    def decide(self, observation: Observation) -> Decision:
        self.seen.append(observation)
        return "accept"


def test_answer_signals_skip_whitespace_tokens_and_clip() -> None:
    msg = AIMessage(
        content=" Paris",
        response_metadata={
            "logprobs": {
                "content": [
                    {"token": " ", "logprob": -5.0},
                    {"token": "Par", "logprob": -0.5},
                    {"token": "is", "logprob": 0.0001},
                    {"token": "\n", "logprob": -9.0},
                ]
            }
        },
    )
    sig = answer_signals(msg)
    assert sig is not None
    assert sig["answer_first_prob"] == pytest.approx(math.exp(-0.5))
    assert sig["answer_min_prob"] == pytest.approx(math.exp(-0.5))
    assert sig["answer_mean_prob"] == pytest.approx(math.exp(-0.25))
    assert answer_signals(AIMessage(content="x")) is None


def test_solve_asks_for_logprobs_only_from_models_that_declare_them() -> None:
    plain = ScriptedChatModel(answer="Paris")
    out = solve(plain, question="q?", context="c", logprobs=True)
    assert out.signals is None
    assert "logprobs" not in plain.calls[0][1]

    lp = LogprobChatModel(answer="Paris France", token_logprobs=[-0.2, -2.0])
    out = solve(lp, question="q?", context="c", logprobs=True)
    assert lp.calls[0][1]["logprobs"] is True
    assert out.signals is not None
    assert out.signals["answer_min_prob"] == pytest.approx(math.exp(-2.0))
    out = solve(lp, question="q?", context="c")
    assert out.signals is None and "logprobs" not in lp.calls[1][1]


@pytest.mark.parametrize("use_async", [False, True])
def test_trace_and_observation_carry_signals(use_async: bool) -> None:
    small = LogprobChatModel(answer="Paris", token_logprobs=[-0.7], verdicts=[CORRECT, INCORRECT])
    large = LogprobChatModel(answer="Lyon")
    rec = Recorder()
    automix = AutoMixRunnable(models=[small, large], meta_verifier=rec, num_verifications=4)
    q = {"question": "Capital?", "context": "Paris is the capital."}
    msg = asyncio.run(automix.ainvoke(q)) if use_async else automix.invoke(q)
    attempt = AutoMixResult.from_message(msg).attempts[0]
    assert attempt.signals["answer_min_prob"] == pytest.approx(math.exp(-0.7))
    assert attempt.signals["verifier"] == pytest.approx(0.5)
    obs = rec.seen[0]
    assert obs.current_signals["answer_first_prob"] == pytest.approx(math.exp(-0.7))
    # the final tier is never asked for logprobs: its answer is not judged
    assert all("logprobs" not in kw for _, kw in large.calls)


def test_answer_logprobs_can_be_turned_off() -> None:
    small = LogprobChatModel(answer="Paris")
    automix = AutoMixRunnable(
        models=[small, LogprobChatModel()], num_verifications=2, answer_logprobs=False
    )
    msg = automix.invoke("Capital?")
    assert "answer_min_prob" not in AutoMixResult.from_message(msg).attempts[0].signals
    assert all("logprobs" not in kw for _, kw in small.calls)


def _row(qid: str, conf: float, signals: dict[str, Any] | None = None) -> dict[str, Any]:
    small: dict[str, Any] = {"score": 1.0, "verifier_confidence": conf}
    if signals is not None:
        small["signals"] = signals
    return {"id": qid, "tiers": [small, {"score": 0.5}]}


def test_replay_signals_load_and_old_files_stay_valid(tmp_path: Path) -> None:
    old = ReplayDataset.from_records([_row("a", 0.5), _row("b", 0.25)])
    assert old.signal_names == ("verifier",)
    assert old.signal("verifier").tolist() == [[0.5], [0.25]]
    with pytest.raises(ReplayError, match=r"answer_min_prob.*is not in this replay data"):
        old.signal("answer_min_prob")

    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [_row("a", 0.5, {"answer_min_prob": 0.9}), _row("b", 0.25), _row("c", 1.0)]
        )
    )
    data = ReplayDataset.from_jsonl(path)
    assert data.signal_names == ("verifier", "answer_min_prob")
    col = data.signal("answer_min_prob")[:, 0]
    assert col[0] == 0.9 and np.isnan(col[1:]).all()
    sub = data.subset([0, 2])
    assert sub.signal("answer_min_prob")[0, 0] == 0.9
    assert data.with_confidences([[0.0], [0.0], [0.0]]).confidences.sum() == 0.0


def test_replay_rejects_bad_signals() -> None:
    with pytest.raises(ReplayError, match=r"record 1: tier 0 signal 'answer_min_prob'"):
        ReplayDataset.from_records([_row("a", 0.5, {"answer_min_prob": 1.5})])
    with pytest.raises(ReplayError, match="'signals' must be an object"):
        ReplayDataset.from_records([_row("a", 0.5, [0.1])])  # type: ignore[arg-type]


def test_collect_records_answer_and_logprob_verifier_signals() -> None:
    small = LogprobChatModel(answer="Paris", token_logprobs=[-0.3], verdicts=[CORRECT])
    item = QAItem(id="q1", question="Capital?", context="Paris is it.", answers=("Paris",))
    row = asyncio.run(collect_one(item, [Tier("s", small), Tier("l", ScriptedChatModel())], k=2))
    sig = row["tiers"][0]["signals"]
    assert sig["answer_min_prob"] == pytest.approx(math.exp(-0.3))
    assert "logprob_verifier" not in sig
    assert "signals" not in row["tiers"][1]
    data = ReplayDataset.from_records([row])
    assert data.signal("answer_first_prob")[0, 0] == pytest.approx(math.exp(-0.3))


def test_signal_combiner_learns_the_informative_signal_and_validates() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300).astype(float)
    good = np.clip(0.5 + 0.35 * (y - 0.5) + rng.normal(0, 0.15, 300), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 300)
    x = np.column_stack([noise, good])
    x[::7, 0] = np.nan  # missing values take the training mean
    comb = SignalCombiner(["verifier", "answer_min_prob"]).fit(x, y)
    assert comb.weights[1] > 4 * abs(comb.weights[0])
    p = comb.predict(x)
    assert ((p > 0.5) == (y == 1)).mean() > 0.8
    assert comb.predict_one({"answer_min_prob": 0.95}) > comb.predict_one({"answer_min_prob": 0.05})
    again = SignalCombiner.from_dict(json.loads(json.dumps(comb.to_dict())))
    assert np.allclose(again.predict(x), p)
    with pytest.raises(ValueError, match="unknown signal"):
        SignalCombiner(["nope"])
    with pytest.raises(ValueError, match="targets must be in"):
        SignalCombiner(["verifier"]).fit([[0.5], [0.2]], [2.0, 0.0])
    with pytest.raises(ValueError, match="expected 2 signal column"):
        comb.predict([[0.1, 0.2, 0.3]])
    assert set(SIGNALS) >= {"verifier", "answer_min_prob"}


def test_add_signals_to_an_existing_replay_resumes_and_flags_other_answers(
    tmp_path: Path,
) -> None:
    from langchain_automix.collection.collect import aadd_signals

    src = tmp_path / "old.jsonl"
    rows = [
        {
            "id": f"q{i}",
            "question": "Capital?",
            "context": "Paris.",
            "tiers": [
                {"answer": "Paris" if i < 2 else "Lyon", "score": 1.0, "verifier_confidence": 0.5},
                {"answer": "Paris", "score": 1.0},
            ],
        }
        for i in range(3)
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    small = LogprobChatModel(answer="Paris", token_logprobs=[-0.4])
    tiers = [Tier("s", small), Tier("l", ScriptedChatModel())]
    out = tmp_path / "new.jsonl"
    out.write_text(json.dumps(rows[0]) + "\n")  # one row already done: skipped
    stats = asyncio.run(aadd_signals(src, tiers, out, progress=False))
    assert (stats.skipped, stats.written, stats.failed, stats.failed_ids) == (1, 2, 1, ["q2"])
    data = ReplayDataset.from_jsonl(out)
    sig = data.signal("answer_min_prob")[:, 0]
    assert np.isnan(sig[0]) and sig[1] == pytest.approx(math.exp(-0.4)) and np.isnan(sig[2])
    assert data.records[2]["tiers"][0]["signals_answer_mismatch"] is True
    assert small.count("solve") == 2  # the large tier is never asked again
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "tiers": []}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: needs 'question' and 2 tiers"):
        asyncio.run(aadd_signals(bad, tiers, tmp_path / "o.jsonl", progress=False))


def test_auto_signal_resolves_from_the_training_rows() -> None:
    from langchain_automix import Calibrated, Threshold
    from langchain_automix.calibration.synthetic import synthetic_replay

    plain = synthetic_replay(200, seed=2)
    mv = Calibrated(Threshold(), signal="auto").fit(plain)
    assert mv.signal == "verifier"
    rng = np.random.default_rng(0)
    richer = ReplayDataset(
        ids=plain.ids,
        scores=plain.scores,
        confidences=plain.confidences,
        signals={"answer_min_prob": rng.uniform(0, 1, (200, 1))},
    )
    mv = Calibrated(Threshold(), signal="auto").fit(richer)
    assert mv.signal == "combined"
    assert set(mv.report["combiner_weights"]) == {"verifier", "answer_min_prob"}
    obs = Observation(tier=0, n_tiers=2, confidence=0.5, n_valid=8, n_samples=8)
    with pytest.raises(ValueError, match="signal 'auto' must be fitted"):
        Calibrated(Threshold(), signal="auto").decide(obs)


def test_answer_kind_signals_in_traces_and_derived_for_old_replay_rows() -> None:
    small = LogprobChatModel(answer="unanswerable", verdicts=[CORRECT])
    msg = AutoMixRunnable(models=[small, LogprobChatModel()], num_verifications=1).invoke("Q?")
    signals = AutoMixResult.from_message(msg).attempts[0].signals
    assert signals["answer_abstains"] == 1.0 and signals["answer_yes_no"] == 0.0
    old = ReplayDataset.from_records(
        [
            {
                "id": "a",
                "tiers": [{"answer": "Yes.", "score": 1, "verifier_confidence": 0.5}, {"score": 1}],
            },
            {
                "id": "b",
                "tiers": [{"answer": "1998", "score": 0, "verifier_confidence": 0.5}, {"score": 1}],
            },
        ]
    )
    assert old.signal("answer_yes_no")[:, 0].tolist() == [1.0, 0.0]
    # answer kinds alone do not make "auto" combine: they are read from the text
    from langchain_automix.signals import resolve_auto

    assert resolve_auto(old.signal_names) == "verifier"


@pytest.mark.parametrize("use_async", [False, True])
def test_an_endpoint_refusing_logprobs_still_answers_and_is_not_asked_again(
    use_async: bool,
) -> None:
    from tests.unit_tests.fake_models import NoLogprobsServerModel

    small = NoLogprobsServerModel(answer="Paris", verdicts=[CORRECT])
    automix = AutoMixRunnable(models=[small, LogprobChatModel()], num_verifications=1)
    for _ in range(2):
        msg = asyncio.run(automix.ainvoke("Capital?")) if use_async else automix.invoke("Capital?")
        first = AutoMixResult.from_message(msg).attempts[0]
        assert first.answer == "Paris" and first.error is None
        assert "answer_min_prob" not in first.signals
    assert small.count("refused") == 1  # refused once, then remembered
    assert small.count("solve") == 2
