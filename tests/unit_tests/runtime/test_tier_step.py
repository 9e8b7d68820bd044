"""One tier step: the graph, ``automix collect`` and the demo record a tier the same way."""

from __future__ import annotations

import asyncio

from langchain_automix import AutoMixRunnable
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.collection.collect import Tier, collect_one
from langchain_automix.collection.datasets import QAItem
from langchain_automix.runtime.result import AutoMixResult, TierAttempt
from langchain_automix.runtime.tier_step import EMPTY_ANSWER_ERROR
from tests.unit_tests.fake_models import CORRECT, INCORRECT, NChatModel

ITEM = QAItem(
    id="q1",
    question="Capital of France?",
    context="Paris is the capital of France.",
    answers=["Paris"],
    dataset="test",
)


def _tiers(answer: str, verdicts: list[str]) -> tuple[NChatModel, NChatModel]:
    return NChatModel(answer=answer, verdicts=verdicts), NChatModel(answer="Paris, France")


def test_collect_row_and_live_trace_record_the_same_attempt() -> None:
    small, large = _tiers("Paris", [CORRECT, INCORRECT, CORRECT, CORRECT])
    row = asyncio.run(
        collect_one(ITEM, [Tier("small", small), Tier("large", large)], k=4, temperature=0.0)
    )
    small2, large2 = _tiers("Paris", [CORRECT, INCORRECT, CORRECT, CORRECT])
    live = AutoMixRunnable(models=[small2, large2], num_verifications=4, verifier_temperature=0.0)
    result = live.invoke_result({"question": ITEM.question, "context": ITEM.context})
    collected = TierAttempt.from_replay(row["tiers"][0], tier=0)
    served = result.attempts[0]
    for field in ("answer", "verifier_confidence", "verifier_n_valid", "verifier_samples"):
        assert getattr(collected, field) == getattr(served, field), field
    assert collected.signals == served.signals  # answer kind + verifier confidence
    assert collected.verifier_confidence == 0.75
    # the served trace, labelled, is a replay row of the same shape
    entry = served.to_replay((1.0, 1.0))
    same = {k: v for k, v in entry.items() if "latency" not in k and k != "model"}
    assert same == {k: v for k, v in row["tiers"][0].items() if "latency" not in k and k != "model"}


def test_collect_keeps_the_graphs_rule_for_an_empty_answer() -> None:
    """An empty small answer escalates live without a verification; collect records it so."""
    small, large = _tiers("  ", [CORRECT])
    row = asyncio.run(collect_one(ITEM, [Tier("small", small), Tier("large", large)], k=4))
    entry = row["tiers"][0]
    assert entry["error"] == EMPTY_ANSWER_ERROR
    assert entry["verifier_confidence"] == 0.0 and entry["verifier_n_valid"] == 0
    assert small.count("verify") == 0  # the verifier never saw it
    data = ReplayDataset.from_records([row])  # a valid row: routes as an escalation
    assert data.confidences[0, 0] == 0.0
    live_small, live_large = _tiers("  ", [CORRECT])
    result = AutoMixRunnable(models=[live_small, live_large], num_verifications=4).invoke_result(
        ITEM.question
    )
    assert result.attempts[0].error == EMPTY_ANSWER_ERROR and result.escalated
    assert live_small.count("verify") == 0


def test_a_served_trace_becomes_an_unscored_replay_row() -> None:
    small, large = _tiers("Paris", [INCORRECT])
    result: AutoMixResult = AutoMixRunnable(
        models=[small, large], num_verifications=1
    ).invoke_result(ITEM.question)
    row = result.to_replay(id="served-1", question=ITEM.question)
    assert [t["model"] for t in row["tiers"]] == [a.model for a in result.attempts]
    assert row["tiers"][0]["verifier_confidence"] == 0.0
    assert all("score" not in t for t in row["tiers"])
    labelled = {
        **row,
        "tiers": [{**t, "score": s} for t, s in zip(row["tiers"], (0.0, 1.0), strict=True)],
    }
    assert ReplayDataset.from_records([labelled]).n_rows == 1
