"""scripts/results_table.py, which prints docs/results.md's tables, runs on any replay file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from langchain_automix.calibration.synthetic import synthetic_replay

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path) -> Path:
    data = synthetic_replay(120, seed=5)
    with path.open("w") as fh:
        for i, qid in enumerate(data.ids):
            fh.write(
                json.dumps(
                    {
                        "id": str(qid),
                        "dataset": "squad_v2" if i % 2 else "boolq",
                        "answers": [] if i % 5 == 0 else ["x"],
                        "tiers": [
                            {
                                "score": float(data.scores[i, 0]),
                                "verifier_confidence": float(data.confidences[i, 0]),
                                "signals": {"answer_min_prob": 0.2 + 0.6 * data.scores[i, 0]},
                            },
                            {"score": float(data.scores[i, 1])},
                        ],
                    }
                )
                + "\n"
            )
    return path


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "results_table.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def _auroc_of_all(out: str) -> float:
    block = out.split("### all")[1].split("### ")[0]
    return float(block.split("AUROC ")[1].split(",")[0])


def test_tables_per_dataset_and_the_shuffled_control(tmp_path: Path) -> None:
    replay = _write(tmp_path / "replay.jsonl")
    fast = ("--seeds", "2", "--small-seeds", "2", "--bootstrap", "50")
    out = _run(str(replay), *fast)
    for head in ("### all: 120 rows", "### boolq: 60 rows", "### squad_v2: 60 rows"):
        assert head in out
    # five tables for all rows (paper; default on combined and on free signals, each on
    # halves and on 50 rows); the 50-training-row tables need 50 rows per training half
    assert out.count("[oracle]") == 11 and out.count("verifier signal of tier 0") == 3
    assert out.count("signal free (no verifier call, none charged), train halves") == 3
    assert out.count("signal free, 50 training rows") == 1
    assert out.count("no table for 50 training rows") == 2
    assert out.count("default fit (Calibrated, robust), signal combined") == 3
    assert out.count("held-out AUROC of the combined signal for 'answer correct'") == 3
    assert "answer_min_prob    1.000" in out
    informative = _auroc_of_all(out)
    control = _auroc_of_all(_run(str(replay), *fast, "--shuffle-confidences"))
    # the synthetic verifier carries signal; permuting its confidences removes it
    assert informative > 0.7
    assert abs(control - 0.5) < 0.15


def test_shuffled_control_moves_the_answer_kind_signals_too() -> None:
    """The kind signals are read from the answer text, not stored: the control must permute
    them with the rest, or it keeps real information (here: abstaining answers are right)."""
    import importlib.util

    from langchain_automix.calibration.replay import ReplayDataset

    spec = importlib.util.spec_from_file_location(
        "results_table", ROOT / "scripts" / "results_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [
        {
            "id": str(i),
            "answers": ["x"],
            "tiers": [
                {
                    "answer": "unanswerable" if i % 2 else "Paris",
                    "score": float(i % 2),
                    "verifier_confidence": 0.5,
                    "signals": {"answer_min_prob": 0.5},
                },
                {"answer": "x", "score": 1.0},
            ],
        }
        for i in range(200)
    ]
    real = ReplayDataset.from_records(rows)
    control = ReplayDataset.from_records(module._shuffled(rows))

    def abstains(data: ReplayDataset) -> np.ndarray:
        return np.asarray(data.signals["answer_abstains"][:, 0])

    correct = np.array([r["tiers"][0]["score"] == 1.0 for r in rows])
    assert (abstains(real) == correct).all()  # a perfect signal before
    agreement = (abstains(control) == correct).mean()
    assert 0.35 < agreement < 0.65  # chance after
