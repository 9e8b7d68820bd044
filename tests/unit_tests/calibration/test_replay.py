from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from langchain_automix.calibration.replay import (
    ReplayDataset,
    ReplayError,
    load_replay,
    write_replay,
)
from langchain_automix.calibration.synthetic import synthetic_replay

GOOD = {
    "id": "q1",
    "dataset": "squad_v2",
    "answers": ["x"],
    "tiers": [
        {
            "model": "s",
            "answer": "a",
            "score": 0.67,
            "verifier_confidence": 0.625,
            "usage": {"input_tokens": 3},
        },
        {"model": "l", "answer": "b", "score": 1.0},
    ],
}


def write_lines(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "replay.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def row(**tier0: object) -> str:
    rec = json.loads(json.dumps(GOOD))
    rec["id"] = f"q{len(str(tier0))}"
    rec["tiers"][0].update(tier0)
    rec["tiers"][0] = {k: v for k, v in rec["tiers"][0].items() if v is not None}
    return json.dumps(rec)


def test_loads_good_file(tmp_path: Path) -> None:
    data = load_replay(write_lines(tmp_path, [json.dumps(GOOD), ""]))
    assert data.n_rows == 1 and data.n_tiers == 2
    assert data.scores.tolist() == [[0.67, 1.0]]
    assert data.confidences.tolist() == [[0.625]]
    assert data.models == ("s", "l")
    assert data.tier_answers(0) == ["a"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            '{"id": "q9", "tiers": [{"verifier_confidence": 0.5}, {"score": 1}]}',
            ".jsonl:2: tier 0 is missing required field 'score'",
        ),
        (
            '{"id": "q9", "tiers": [{"score": 0.5, "verifier_confidence": 1.5}, {"score": 1}]}',
            ".jsonl:2: tier 0 verifier_confidence must be in [0, 1]",
        ),
        (
            '{"id": "q9", "tiers": [{"score": 0.5}, {"score": 1}]}',
            ".jsonl:2: tier 0 is missing required field 'verifier_confidence'",
        ),
        (
            '{"id": "q9", "tiers": [{"score": 0.5, "verifier_confidence": 0.5}, {"score": -0.1}]}',
            ".jsonl:2: tier 1 score must be in [0, 1]",
        ),
        (
            '{"id": "q9", "tiers": [{"score": "high", "verifier_confidence": 0.5}, {"score": 1}]}',
            ".jsonl:2: tier 0 score must be a number",
        ),
        (
            '{"id": "q9", "tiers": [{"score": 0.5, "verifier_confidence": 0.5}, {"score": NaN}]}',
            ".jsonl:2: tier 1 score must be in [0, 1]",
        ),
        ('{"tiers": []}', ".jsonl:2: missing required field 'id'"),
        (
            '{"id": "q1", "tiers": [{"score": 0.5, "verifier_confidence": 0.5}, {"score": 1}]}',
            ".jsonl:2: duplicate id 'q1'",
        ),
        (
            '{"id": "q9", "tiers": [{"score": 0.5, "verifier_confidence": 0.5}]}',
            ".jsonl:2: 'tiers' must be a list of at least 2 tiers",
        ),
        ("{not json", ".jsonl:2: invalid JSON"),
        ("[1, 2]", ".jsonl:2: expected a JSON object"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, bad: str, message: str) -> None:
    path = write_lines(tmp_path, [json.dumps(GOOD), bad, json.dumps(GOOD | {"id": "q3"})])
    with pytest.raises(ReplayError) as info:
        load_replay(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_bad_row_after_blank_lines_keeps_file_line_number(tmp_path: Path) -> None:
    path = write_lines(tmp_path, [json.dumps(GOOD), "", "", '{"id": "z", "tiers": 3}'])
    with pytest.raises(ReplayError, match=r"\.jsonl:4: "):
        load_replay(path)


def test_tier_count_mismatch_and_empty(tmp_path: Path) -> None:
    three = {"id": "q2", "tiers": [{"score": 1, "verifier_confidence": 1}] * 2 + [{"score": 1}]}
    with pytest.raises(ReplayError, match=r"\.jsonl:2: has 3 tiers, earlier rows have 2"):
        load_replay(write_lines(tmp_path, [json.dumps(GOOD), json.dumps(three)]))
    with pytest.raises(ReplayError, match="empty"):
        load_replay(write_lines(tmp_path, [""]))


def test_nothing_dropped_and_round_trip(tmp_path: Path) -> None:
    data = synthetic_replay(300, seed=2)
    back = load_replay(write_replay(data, tmp_path / "x.jsonl"))
    assert back.n_rows == 300
    np.testing.assert_array_equal(back.scores, data.scores)
    np.testing.assert_array_equal(back.confidences, data.confidences)
    assert list(back.ids) == list(data.ids)
    # raw records (with extra fields) are written back unchanged
    again = load_replay(
        write_replay(load_replay(write_lines(tmp_path, [json.dumps(GOOD)])), tmp_path / "y.jsonl")
    )
    assert again.records[0] == GOOD


def test_paper_columns() -> None:
    rows = [
        {
            "id": 1,
            "llama13b_f1": 0.5,
            "llama70b_f1": 1.0,
            "p_ver_13b": 0.25,
            "llama13b_pred_ans": "unanswerable",
        },
        {
            "id": 2,
            "llama13b_f1": 1.0,
            "llama70b_f1": 1.0,
            "p_ver_13b": 1.0,
            "llama13b_pred_ans": "x",
        },
    ]
    data = ReplayDataset.from_columns(rows, answer_column="llama13b_pred_ans")
    assert data.scores.tolist() == [[0.5, 1.0], [1.0, 1.0]]
    assert data.tier_answers(0) == ["unanswerable", "x"]
    cols = {"a": [0.1], "b": [0.2], "v": [0.3]}
    d2 = ReplayDataset.from_columns(cols, small_column="a", large_column="b", verifier_column="v")
    assert d2.confidences.tolist() == [[0.3]]
    with pytest.raises(ReplayError, match="row 2: missing column 'p_ver_13b'"):
        ReplayDataset.from_columns([rows[0], {"llama13b_f1": 1, "llama70b_f1": 1}])
    with pytest.raises(ReplayError, match="row 1: tier 0 verifier_confidence must be in"):
        ReplayDataset.from_columns([{"llama13b_f1": 1, "llama70b_f1": 1, "p_ver_13b": 2}])


def test_split_and_sample() -> None:
    data = synthetic_replay(100, seed=0)
    tr, te = data.split(30, seed=1)
    assert tr.n_rows == 30 and te.n_rows == 70
    assert not set(tr.ids) & set(te.ids)
    assert data.sample(50, seed=3).n_rows == 50
    with pytest.raises(ValueError):
        data.split(100)


def test_signals_survive_to_records_and_back() -> None:
    import numpy as np

    from langchain_automix.calibration.replay import ReplayDataset

    data = ReplayDataset(
        ids=["a", "b"],
        scores=np.array([[1.0, 0.0], [0.0, 1.0]]),
        confidences=np.array([[0.5], [0.25]]),
        signals={"answer_min_prob": np.array([[0.9], [np.nan]])},
    )
    back = ReplayDataset.from_records(data.to_records())
    got = back.signal("answer_min_prob")[:, 0]
    assert got[0] == 0.9 and np.isnan(got[1])
