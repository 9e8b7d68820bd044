"""Print docs/results.md's tables from the shipped replay file, per dataset and overall.

Run: python scripts/results_table.py [replay.jsonl] [--seeds 10] [--bootstrap 1000]
Each seed splits the rows in half (train / test), fits every meta-verifier on the
train half and evaluates it on the test half; the tables give mean ± std over seeds
and a 95% bootstrap interval of the seed-averaged ΔIBC. Two tables per group: the
paper's fit (maximise ΔIBC on the training rows, on the k-sample verifier confidence),
and the default fit (``Calibrated``: cross-validated fallback, on the ``auto`` signal:
``combined`` when the rows carry answer-logprob signals). A third table fits the
default on 50 training rows (``--small-seeds``, 20 by default). Below: every signal's
AUROC for "answer correct" on all rows of the group (with a bootstrap interval), the
held-out AUROC of the combined signal (fitted on each seed's training half), and, for
SQuAD 2.0, the verifier's confidence on the small model's correct "unanswerable" replies.

``--shuffle-confidences`` is a control: it permutes every signal (the verifier
confidences and the answer-logprob signals) across the rows of each group (seeded),
which keeps their distributions and removes any link to the answers. Whatever a method
scores on that data is what it scores on noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from langchain_automix.calibration.metrics import auroc
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import compare_methods, verifier_report
from langchain_automix.meta_verifiers import Calibrated, Threshold
from langchain_automix.signals import (
    COMBINED,
    FREE,
    answer_kind_signals,
    has_answer_probs,
    resolve_auto,
)

DEFAULT = (
    Path(__file__).resolve().parents[1] / "langchain_automix" / "data" / "replay_local_qwen.jsonl"
)


def main() -> int:
    """Print one table per dataset and one over all rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("replay", nargs="?", default=str(DEFAULT))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--small-seeds", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
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
        signal = resolve_auto(data.signal_names)
        runs = [
            (f"paper's fit, signal verifier, train halves, {args.seeds} seeds", {}),
            (
                f"default fit (Calibrated, robust), signal {signal}, train halves, "
                f"{args.seeds} seeds",
                {"robust": True, "signal": signal},
            ),
            (
                f"default fit, signal {signal}, 50 training rows, {args.small_seeds} seeds",
                {"robust": True, "signal": signal, "train_size": 50},
            ),
        ]
        if has_answer_probs(data.signal_names):
            runs += [
                (
                    f"default fit, signal free (no verifier call, none charged), train "
                    f"halves, {args.seeds} seeds",
                    {"robust": True, "signal": FREE},
                ),
                (
                    f"default fit, signal free, 50 training rows, {args.small_seeds} seeds",
                    {"robust": True, "signal": FREE, "train_size": 50},
                ),
            ]
        pool = data.n_rows - max(1, round(data.n_rows * 0.5))
        if pool < 50:
            runs = [r for r in runs if "train_size" not in r[1]]
        print("```")
        if pool < 50:
            print(f"(only {pool} training rows per seed: no table for 50 training rows)\n")
        for title, kwargs in runs:
            n_seeds = args.small_seeds if "train_size" in kwargs else args.seeds
            comparison = compare_methods(
                data, seeds=range(n_seeds), bootstrap=args.bootstrap, **kwargs
            )
            print(f"{title}:")
            print(comparison.format_table())
            print()
        for report in verifier_report(data):
            print(report.format())
        if signal == COMBINED:
            for label, aucs in held_out_auroc(data, args.seeds).items():
                print(
                    f"  held-out AUROC of the combined signal for {label!r} (fitted on each "
                    f"seed's train half): {np.mean(aucs):.3f} ± {np.std(aucs):.3f}"
                )
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


def held_out_auroc(data: ReplayDataset, seeds: int) -> dict[str, list[float]]:
    """Test-half AUROC of the default combined observation, fitted on each train half.

    The observation is what ``Calibrated(signal="combined")`` routes on (combiner target
    "gain"); its AUROC is measured for "the small answer is correct" (score >= 0.5) and
    for "escalating gains nothing" (large score <= small score).
    """
    out: dict[str, list[float]] = {"answer correct": [], "escalating gains nothing": []}
    for seed in range(seeds):
        train, test = data.split(data.n_rows - data.n_rows // 2, seed=seed)
        mv = Calibrated(Threshold(), signal=COMBINED, robust=False).fit(train)
        obs = mv.observations(test)[:, 0]
        labels = {
            "answer correct": test.scores[:, 0] >= 0.5,
            "escalating gains nothing": test.scores[:, -1] <= test.scores[:, 0],
        }
        for name, y in labels.items():
            value = auroc(obs, y)
            if value is not None:
                out[name].append(value)
    return out


def _shuffled(rows: list[dict]) -> list[dict]:
    """Copies of ``rows`` with the first tier's confidence and signals permuted (seed 0).

    The answer's kind signals (``answer_abstains``, ``answer_yes_no``) are not stored in
    the rows: the replay reads them from each row's own answer text. They travel with
    the donor's other signals here, written out, or the control would keep them (and
    with them the real information of which answers abstain or say yes/no).
    """
    order = np.random.default_rng(0).permutation(len(rows))
    out = []
    for r, j in zip(rows, order, strict=True):
        donor = rows[int(j)]["tiers"][0]
        signals: dict[str, float] = {}
        if isinstance(donor.get("answer"), str):
            signals.update(answer_kind_signals(donor["answer"]))
        signals.update(donor.get("signals") or {})
        first = {**r["tiers"][0], "verifier_confidence": donor["verifier_confidence"]}
        first.pop("signals", None)
        if signals:
            first["signals"] = signals
        out.append({**r, "tiers": [first, *r["tiers"][1:]]})
    return out


if __name__ == "__main__":
    sys.exit(main())
