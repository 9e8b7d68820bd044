"""Print docs/results.md's tables from the shipped replay file, per dataset and overall.

Run: python scripts/results_table.py [replay.jsonl] [--seeds 10]
Each seed splits the rows in half (train / test), fits every meta-verifier on the
train half and evaluates it on the test half; the tables give mean ± std over seeds.
Below each table: the verifier signal on all rows of the group (AUROC, correlation,
samples without a decision) and, for SQuAD 2.0, the verifier's confidence on the
small model's correct "unanswerable" replies.

``--shuffle-confidences`` is a control: it permutes the verifier confidences across
the rows of each group (seeded), which keeps their distribution and removes any link
to the answers. Whatever a method scores on that data is what it scores on noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from langchain_automix.evaluation import compare_methods, verifier_report
from langchain_automix.replay import ReplayDataset

DEFAULT = (
    Path(__file__).resolve().parents[1] / "langchain_automix" / "data" / "replay_local_qwen.jsonl"
)


def main() -> int:
    """Print one table per dataset and one over all rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("replay", nargs="?", default=str(DEFAULT))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--shuffle-confidences",
        action="store_true",
        help="control run: permute the confidences within each group (no signal left)",
    )
    args = parser.parse_args()
    records = [json.loads(line) for line in Path(args.replay).read_text().splitlines() if line]
    groups: dict[str, list[dict]] = {"all": records}
    for r in records:
        groups.setdefault(r.get("dataset", "unknown"), []).append(r)
    for name, rows in groups.items():
        if args.shuffle_confidences:
            rows = _shuffled(rows)
        data = ReplayDataset.from_records(rows, source=f"{name} row")
        print(f"\n### {name}: {data.n_rows} rows, {args.seeds} seeds, train/test halves\n")
        if data.n_rows < 6:
            print("(too few rows to split)")
            continue
        comparison = compare_methods(data, seeds=range(args.seeds))
        print("```")
        print(comparison.format_table())
        print()
        for report in verifier_report(data):
            print(report.format())
        unanswerable = [
            r["tiers"][0]["verifier_confidence"]
            for r in rows
            if not r.get("answers") and r["tiers"][0]["score"] == 1.0
        ]
        if unanswerable:
            print(
                f"  correct 'unanswerable' replies of the small model: {len(unanswerable)}, "
                f"mean confidence {sum(unanswerable) / len(unanswerable):.3f}"
            )
        print("```")
    return 0


def _shuffled(rows: list[dict]) -> list[dict]:
    """Copies of ``rows`` with the first tier's confidences permuted (seed 0)."""
    conf = (
        np.random.default_rng(0)
        .permutation([r["tiers"][0]["verifier_confidence"] for r in rows])
        .tolist()
    )
    out = []
    for r, c in zip(rows, conf, strict=True):
        first = {**r["tiers"][0], "verifier_confidence": c}
        out.append({**r, "tiers": [first, *r["tiers"][1:]]})
    return out


if __name__ == "__main__":
    sys.exit(main())
