"""The verifier-signal report: AUROC, correlation and sample validity per tier."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_automix.calibration.metrics import auroc
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import verifier_report


def _pairwise_auroc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.125, 0.25, 0.5, 0.875, 1.0]), st.booleans()),
        min_size=2,
        max_size=40,
    )
)
def test_auroc_matches_pairwise_definition_with_ties(pairs) -> None:
    scores = [s for s, _ in pairs]
    labels = [y for _, y in pairs]
    got = auroc(scores, labels)
    if all(labels) or not any(labels):
        assert got is None
    else:
        assert got == pytest.approx(_pairwise_auroc(scores, labels))


def test_auroc_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        auroc([0.1, 0.2], [True])


def _record(qid: str, small: float, large: float, conf: float, valid: int, k: int = 4) -> dict:
    return {
        "id": qid,
        "tiers": [
            {
                "model": "small",
                "score": small,
                "verifier_confidence": conf,
                "verifier_samples": ["x"] * k,
                "verifier_n_valid": valid,
            },
            {"model": "large", "score": large},
        ],
    }


def test_report_from_records_counts_invalid_samples() -> None:
    data = ReplayDataset.from_records(
        [
            _record("a", 1.0, 1.0, 0.75, 4),
            _record("b", 0.0, 1.0, 0.25, 2),
            _record("c", 0.6, 0.0, 0.5, 0),
            _record("d", 0.2, 1.0, 0.0, 2),
        ]
    )
    (r,) = verifier_report(data)
    assert r.model == "small" and r.n_rows == 4
    assert r.correct_share == 0.5  # 1.0 and 0.6 are >= 0.5
    assert r.quality == pytest.approx(0.45) and r.next_quality == pytest.approx(0.75)
    assert r.mean_confidence_correct == pytest.approx(0.625)
    assert r.mean_confidence_incorrect == pytest.approx(0.125)
    assert r.auroc == 1.0
    assert r.correlation == pytest.approx(
        np.corrcoef([0.75, 0.25, 0.5, 0.0], [1, 0, 0.6, 0.2])[0, 1]
    )
    assert r.invalid_sample_share == pytest.approx(1 - 8 / 16)
    assert r.rows_without_valid_sample == 1
    text = r.format()
    assert "tier 0 (small)" in text and "AUROC 1.000" in text and "50.0%" in text
    assert "barely tells" not in text
    assert r.to_json_dict()["auroc"] == 1.0


def test_weak_verifier_is_flagged_and_missing_parts_are_none() -> None:
    data = ReplayDataset.from_arrays(
        scores=[[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        confidences=[[0.5], [0.5], [0.5], [0.5]],
    )
    (r,) = verifier_report(data)
    assert r.auroc == 0.5
    assert r.correlation is None  # constant confidence
    assert r.invalid_sample_share is None and r.rows_without_valid_sample is None
    assert "barely tells right answers from\n  wrong ones" in r.format()


def test_all_correct_has_no_auroc_and_one_report_per_verified_tier() -> None:
    data = ReplayDataset.from_arrays(
        scores=[[1.0, 1.0, 1.0], [0.9, 0.0, 1.0]], confidences=[[0.2, 0.9], [0.4, 0.1]]
    )
    first, second = verifier_report(data)
    assert first.auroc is None and first.mean_confidence_incorrect is None
    assert second.tier == 1 and second.auroc == 1.0
    assert "AUROC -" in first.format()


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_correct_at_is_validated(bad: float) -> None:
    data = ReplayDataset.from_arrays(scores=[[1.0, 1.0]], confidences=[[0.5]])
    with pytest.raises(ValueError, match="correct_at must be in"):
        verifier_report(data, correct_at=bad)


def test_each_signal_reports_what_its_call_cost() -> None:
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.evaluation import verifier_report

    rows = [
        {
            "id": f"q{i}",
            "tiers": [
                {
                    "score": float(i % 2),
                    "verifier_confidence": 0.5,
                    "verify_latency_s": 10.0 + i,
                    "verify_usage": {"input_tokens": 700, "output_tokens": 40},
                    "logprob_verify_latency_s": 2.0,
                    "signals": {"answer_min_prob": 0.2 + 0.6 * (i % 2), "logprob_verifier": 0.4},
                },
                {"score": 1.0},
            ],
        }
        for i in range(12)
    ]
    report = verifier_report(ReplayDataset.from_records(rows))[0]
    assert report.signals["verifier"]["median_s"] == 15.5
    assert report.signals["verifier"]["median_tokens"] == 740.0
    assert report.signals["logprob_verifier"]["median_s"] == 2.0
    assert "median_tokens" not in report.signals["logprob_verifier"]  # not recorded
    assert report.signals["answer_min_prob"]["median_s"] == 0.0
    text = report.format()
    assert "verifier           0.500" in text and "15.50 s, 740 tokens" in text
    assert "answer_min_prob    1.000" in text and text.count("  free") >= 1
