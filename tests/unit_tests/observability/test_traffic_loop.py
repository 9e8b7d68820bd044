"""Serve -> trace log -> refit: exploration, agreement labels, inverse-propensity weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from langchain_automix import AutoMixRunnable
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.meta_verifiers import Threshold
from langchain_automix.observability import TraceLog, read_traces, redecide
from langchain_automix.observability.trace_log import served_replay
from langchain_automix.runtime.result import AutoMixResult, TierAttempt
from langchain_automix.server import create_app
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel


def always_accepting(explore: float) -> AutoMixRunnable:
    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT])  # confidence 1: accept
    large = ScriptedChatModel(answer="Paris")
    return AutoMixRunnable(models=[small, large], num_verifications=1, explore=explore)


def test_exploration_escalates_the_share_asked_and_marks_it() -> None:
    questions = [{"question": f"Question {i}?", "context": "Paris."} for i in range(400)]
    for rate in (0.0, 0.25, 1.0):
        automix = always_accepting(rate)
        results = [AutoMixResult.from_message(m) for m in automix.batch(questions)]
        explored = [r for r in results if r.attempts[0].explored]
        assert all(r.escalated and r.attempts[0].decision == "escalate" for r in explored)
        assert all(r.attempts[0].explore_rate == (rate or None) for r in results)
        share = len(explored) / len(results)
        assert abs(share - rate) <= 0.05, (rate, share)  # a hash of each question
        # a fresh runnable fed the same queries draws the same
        fresh = always_accepting(rate).batch(questions[:50])
        assert [AutoMixResult.from_message(m).attempts[0].explored for m in fresh] == [
            r.attempts[0].explored for r in results[:50]
        ]


@pytest.mark.parametrize("rate", [0.05, 0.25])
def test_each_repeat_of_a_frequent_question_draws_anew(rate: float) -> None:
    """A question asked 400 times is explored on about ``rate`` of them, not all or none.

    With a hash of the text alone, each of these questions drew 0% or 100%: four times the
    promised exploration cost at 0.25, and copies weighted 1/rate for every repeat.
    """
    for question in ("Capital of France?", "Capital of Peru?"):
        batch = [{"question": question, "context": "Paris."}] * 400
        explored = [
            AutoMixResult.from_message(m).attempts[0].explored
            for m in always_accepting(rate).batch(batch)
        ]
        share = sum(explored) / len(explored)
        sd = (rate * (1 - rate) / len(batch)) ** 0.5
        assert abs(share - rate) <= 3.5 * sd, (question, share)  # drawn per repeat
        # which repeats are explored follows the batch's order, how many does not
        again = always_accepting(rate).batch(batch[:100])
        first = always_accepting(rate).batch(batch[:100])
        assert sum(AutoMixResult.from_message(m).attempts[0].explored for m in again) == sum(
            AutoMixResult.from_message(m).attempts[0].explored for m in first
        )


def test_explored_decisions_are_still_the_policys_when_redecided(tmp_path: Path) -> None:
    log = TraceLog(tmp_path / "t.jsonl")
    app = create_app(always_accepting(0.5), api_key_env=None, trace_log=log)
    http = TestClient(app, base_url="http://localhost")
    for i in range(40):
        http.post("/automix/invoke", json={"input": {"question": f"Q{i}?", "context": "C"}})
    rows = read_traces(log.path)
    assert any(r["automix"]["attempts"][0]["explored"] for r in rows)
    again = redecide(Threshold(0.5), rows)
    assert again.agreement == 1.0 and again.n_decisions == 40


def _trace(i: int, confidence: float, small_right: bool, reached: bool, explored: bool) -> dict:
    small = TierAttempt(
        tier=0, model="s", answer="Paris" if small_right else "Lyon",
        verifier_confidence=confidence, verifier_n_valid=8, verifier_n_samples=8,
        decision="escalate" if reached else "accept", explored=explored, explore_rate=0.1,
    )  # fmt: skip
    attempts = [small]
    if reached:
        attempts.append(TierAttempt(tier=1, model="l", answer="Paris"))
    result = AutoMixResult(
        answer=attempts[-1].answer or "", answered_by=len(attempts) - 1,
        answered_by_model=attempts[-1].model, escalated=reached, n_tiers=2,
        attempts=attempts, total_cost=1.0,
    )  # fmt: skip
    return result.to_replay(id=f"q{i}", question=None)


def test_inverse_propensity_weights_recover_the_traffic_a_biased_sample_misses() -> None:
    """A simulation with known propensities: policy accepts at confidence >= 0.5, and a
    random 10% of the accepted queries is explored. The small tier is right more often
    at high confidence, so the escalated queries alone understate how often it is right.
    """
    rng = np.random.default_rng(0)
    n = 20_000
    confidence = rng.integers(0, 9, n) / 8
    small_right = rng.random(n) < 0.2 + 0.7 * confidence
    accepted = confidence >= 0.5
    explored = accepted & (rng.random(n) < 0.1)
    reached = ~accepted | explored
    traces = [
        _trace(i, confidence[i], bool(small_right[i]), bool(reached[i]), bool(explored[i]))
        for i in range(n)
    ]
    served = served_replay(traces)
    assert served.n_accepted == int((accepted & ~explored).sum())
    assert served.n_explored == int(explored.sum()) and served.weights == {"0.1": 10}
    labels = np.array([row["tiers"][0]["score"] for row in served.rows])
    confs = np.array([row["tiers"][0]["verifier_confidence"] for row in served.rows])
    truth = small_right.mean()
    naive = small_right[reached & ~explored].mean()  # the escalated queries alone
    assert abs(naive - truth) > 0.2  # the bias the weights must remove
    assert abs(labels.mean() - truth) < 0.02  # weighted: the whole traffic
    # and the confidence distribution the fit sees is the traffic's
    assert abs(confs.mean() - confidence.mean()) < 0.02


def test_explored_copies_name_their_original_so_fits_count_them_once() -> None:
    traces = [_trace(i, 0.875, True, True, True) for i in range(3)]  # explored, weight 10
    traces += [_trace(i + 3, 0.25, False, True, False) for i in range(4)]  # escalated
    served = served_replay(traces)
    assert len(served.rows) == 3 * 10 + 4
    copies = [row for row in served.rows if "copy_of" in row]
    assert len(copies) == 3 * 9
    assert all(row["id"].split("#")[0] == row["copy_of"] for row in copies)
    data = ReplayDataset.from_records(served.rows)
    assert len(set(data.group_index().tolist())) == served.n_both == 7


def test_without_exploration_the_rows_are_the_escalated_ones_only() -> None:
    traces = [_trace(i, 0.25, False, True, False) for i in range(5)]
    traces += [_trace(i + 5, 0.875, True, False, False) for i in range(5)]
    served = served_replay(traces)
    assert (served.n_escalated, served.n_explored, served.n_accepted) == (5, 0, 5)
    assert len(served.rows) == 5


def test_fit_from_traces_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from langchain_automix.cli.main import main
    from tests.unit_tests.fake_models import INCORRECT

    small = ScriptedChatModel(answer="Lyon", verdicts=[CORRECT, INCORRECT, INCORRECT])
    large = ScriptedChatModel(answer="Paris")
    automix = AutoMixRunnable(models=[small, large], num_verifications=1, explore=0.25)
    log = TraceLog(tmp_path / "t.jsonl")
    http = TestClient(
        create_app(automix, api_key_env=None, trace_log=log), base_url="http://localhost"
    )
    for i in range(60):
        assert (
            http.post("/automix/invoke", json={"input": {"question": f"Q{i}?"}}).status_code == 200
        )
    running = tmp_path / "running.json"
    Threshold(0.5).save(running)
    new = tmp_path / "new.json"
    code = main(["fit", "--method", "threshold", "--from-traces", str(log.path),
                 "--policy", str(running), "-o", str(new)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "explored" in out and "x4" in out  # explore 0.25: each explored row counts 4
    assert "running" in out and "new" in out
    assert json.loads(new.read_text())["provenance"]["labels"] == "agreement"
