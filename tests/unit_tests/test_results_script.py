"""scripts/results_table.py, which prints docs/results.md's tables, runs on any replay file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from langchain_automix.synthetic import synthetic_replay

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path) -> Path:
    data = synthetic_replay(80, seed=5)
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
    out = _run(str(replay), "--seeds", "2")
    for head in ("### all: 80 rows", "### boolq: 40 rows", "### squad_v2: 40 rows"):
        assert head in out
    assert out.count("[oracle]") == 3 and out.count("verifier signal of tier 0") == 3
    informative = _auroc_of_all(out)
    control = _auroc_of_all(_run(str(replay), "--seeds", "2", "--shuffle-confidences"))
    # the synthetic verifier carries signal; permuting its confidences removes it
    assert informative > 0.7
    assert abs(control - 0.5) < 0.15
