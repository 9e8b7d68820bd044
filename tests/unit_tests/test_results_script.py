"""scripts/results_table.py, which prints docs/results.md's tables, runs on any replay file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
