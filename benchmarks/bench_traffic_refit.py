"""Refitting from served traffic: what exploration costs and what it buys.

Simulated traffic from each shipped two-tier replay (every row holds both tiers'
answers, verifier confidences and gold scores). Per seed, half the rows are held out
as the test set (gold labels); the other half is the traffic, served by the running
policy (the server's default ``Threshold(0.5)`` on the verifier) with exploration rate
``e``: a query the policy accepts is escalated anyway when a hash of its id falls
below ``e`` (as ``automix serve --explore`` does with the question). Each served
query becomes a trace; ``served_replay`` turns the traces into agreement-labelled
rows (explored ones repeated ``1/e`` times) and the default fit
(``Calibrated(POMDP())``) is refitted on them, as ``automix fit --from-traces`` does.

Reported per replay and ``e`` (10 seeds; test ΔIBC % on gold labels, mean [95%
bootstrap interval over seeds]): the refit, the running policy, and two references:
the refit on agreement labels of *all* the traffic (as if every query had reached the
large model: the most the traces could teach) and on its gold labels. The cost of
exploration: extra large-model calls as a share of the traffic's cost.

``--feedback`` asks instead whether user feedback (``POST /automix/feedback``) would
make better labels than agreement alone. A share ``c`` of the served queries that
reached the large model carry feedback ``f``, the gold score of the answer served (a
perfect rater); their rows are relabelled ``final tier: f, cheaper tier: agreement x
f`` (the small answer is as good as the reference where they agree, and counts as
wrong where they differ; where the reference is wrong too that is a guess). Reported:
the refit on those labels, and its paired difference to the refit on agreement labels
alone, for ``c`` = 30% and 100% and explore 0 and 0.2
(``benchmarks/results/bench_traffic_refit_feedback.txt``).

Usage:
    python benchmarks/bench_traffic_refit.py [--seeds 10] [--out PREFIX] [--feedback]
"""

from __future__ import annotations

import argparse
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _results import write_results

from langchain_automix.calibration.replay import ReplayDataset, load_replay
from langchain_automix.collection.labels import relabel
from langchain_automix.evaluation import evaluate_policy, paired_interval
from langchain_automix.meta_verifiers import POMDP, Calibrated, MetaVerifier, Threshold
from langchain_automix.observability.trace_log import served_replay
from langchain_automix.runtime.result import AutoMixResult, TierAttempt

DATA = Path(__file__).resolve().parents[1] / "langchain_automix" / "data"
REPLAYS = {
    "mix 305 (chat verifier)": "replay_local_qwen.jsonl",
    "squad1.1 400 (chat verifier)": "replay_local_qwen_squad11.jsonl",
    "squad1.1 400 (completion verifier)": "replay_local_qwen_squad11_completion.jsonl",
}
COSTS = (1.0, 50.0)
RATES = (0.0, 0.05, 0.1, 0.2)
RUNNING = (0.5, 0.25)
"""Thresholds of the running policy: the server's default, and one that accepts more
(so more queries go unobserved without exploration)."""


def explores(row_id: str, seed: int, rate: float) -> bool:
    return zlib.crc32(f"{seed}|0|{row_id}".encode()) / 2**32 < rate


def traces(
    traffic: ReplayDataset, running: float, rate: float, seed: int
) -> tuple[list[dict[str, Any]], int]:
    """Served traces of the traffic under Threshold(running) with exploration; extra calls."""
    out, extra = [], 0
    for record in traffic.records:
        small_entry, large_entry = record["tiers"][0], record["tiers"][1]
        small = TierAttempt.from_replay(small_entry, tier=0)
        accept = (small.verifier_confidence or 0.0) >= running
        explored = accept and explores(str(record["id"]), seed, rate)
        extra += int(explored)
        small = small.model_copy(
            update={
                "decision": "accept" if accept and not explored else "escalate",
                "explored": explored,
                "explore_rate": rate or None,
                "cost": 2.0,
            }
        )
        attempts = [small]
        if not accept or explored:
            attempts.append(TierAttempt.from_replay(large_entry, tier=1).model_copy(
                update={"cost": COSTS[1]}))  # fmt: skip
        result = AutoMixResult(
            answer=attempts[-1].answer or "", answered_by=len(attempts) - 1,
            answered_by_model=attempts[-1].model, escalated=len(attempts) > 1, n_tiers=2,
            attempts=attempts, total_cost=sum(a.cost for a in attempts),
        )  # fmt: skip
        out.append(result.to_replay(id=str(record["id"]), question=None))
    return out, extra


def cells() -> Iterator[tuple[float, str, ReplayDataset]]:
    """(running threshold, replay name, its rows) of every study cell; each replay read once."""
    replays = {cell: load_replay(DATA / file) for cell, file in REPLAYS.items()}
    for running in RUNNING:
        for cell, gold in replays.items():
            yield running, cell, gold


def split(gold: ReplayDataset, seed: int) -> tuple[ReplayDataset, np.ndarray]:
    """The held-out half (the test rows, gold labels) and the traffic's row indices."""
    perm = np.random.default_rng(seed).permutation(gold.n_rows)
    half = gold.n_rows // 2
    return gold.subset(np.sort(perm[:half])), np.sort(perm[half:])


def with_feedback(
    rows: list[dict[str, Any]], gold_final: dict[str, float], coverage: float, seed: int
) -> list[dict[str, Any]]:
    """``rows`` (from :func:`served_replay`) with a share ``coverage`` of the queries
    relabelled by feedback: the final tier scores ``f`` (its gold score), a cheaper tier
    its agreement times ``f``. Copies of an explored row follow their original."""
    out = []
    for row in rows:
        original = str(row.get("copy_of", row["id"]))
        if zlib.crc32(f"feedback|{seed}|{original}".encode()) / 2**32 >= coverage:
            out.append(row)
            continue
        f = gold_final[original]
        tiers = [dict(t) for t in row["tiers"]]
        for tier in tiers[:-1]:
            tier["score"] = float(tier["score"]) * f
        tiers[-1]["score"] = f
        out.append({**row, "tiers": tiers, "labels": "feedback"})
    return out


def feedback_study(seeds: int, out: str) -> None:
    """Refits on feedback-scaled labels against agreement labels alone (``--feedback``)."""
    rng = np.random.default_rng(0)
    t0 = time.time()
    table = [
        "| replay | running threshold | explore | agreement labels | feedback on 30% | "
        "30% - agreement | feedback on 100% | 100% - agreement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    records: list[dict[str, Any]] = []
    for running, cell, gold in cells():
        per: dict[tuple[float, float], list[float]] = {}
        for seed in range(seeds):
            test, traffic_idx = split(gold, seed)
            traffic = gold.subset(traffic_idx)
            final = {str(r["id"]): float(r["tiers"][-1]["score"]) for r in traffic.records}
            for rate in (0.0, 0.2):
                served = served_replay(traces(traffic, running, rate, seed)[0])
                for coverage in (0.0, 0.3, 1.0):
                    rows = with_feedback(served.rows, final, coverage, seed)
                    value = dibc(fit(ReplayDataset.from_records(rows, source="trace")), test)
                    per.setdefault((rate, coverage), []).append(value)
                    records.append({"replay": cell, "running": running, "seed": seed,
                                    "explore": rate, "feedback": coverage,
                                    "delta_ibc": value})  # fmt: skip
        for rate in (0.0, 0.2):
            base = np.array(per[(rate, 0.0)])
            cols = [ci(base, rng)]
            for coverage in (0.3, 1.0):
                v = np.array(per[(rate, coverage)])
                cols += [ci(v, rng), ci(v - base, rng)]
            table.append(f"| {cell} | {running:g} | {rate:g} | " + " | ".join(cols) + " |")
    text = "\n".join(
        [f"# bench_traffic_refit --feedback: --seeds {seeds}", "",
         "## refit from traces, test ΔIBC % on gold labels (95% bootstrap interval over "
         "seeds; differences paired by seed)", *table, "", f"({time.time() - t0:.0f} s)"]
    )  # fmt: skip
    write_results(out, text, records)


def fit(train: ReplayDataset) -> MetaVerifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Calibrated(POMDP()).fit(train, costs=COSTS)


def dibc(policy: MetaVerifier, test: ReplayDataset) -> float:
    return float(evaluate_policy(policy, test, costs=COSTS).delta_ibc or 0.0)


def ci(v: np.ndarray, rng: np.random.Generator) -> str:
    lo, hi = paired_interval(v, 2000, rng)
    return f"{v.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--out", default=None)
    p.add_argument("--feedback", action="store_true", help="the feedback-label study instead")
    args = p.parse_args()
    if args.feedback:
        feedback_study(args.seeds, args.out or "benchmarks/results/bench_traffic_refit_feedback")
        return
    args.out = args.out or "benchmarks/results/bench_traffic_refit"
    rng = np.random.default_rng(0)
    t0 = time.time()
    lines = [f"# bench_traffic_refit: --seeds {args.seeds}", ""]
    table = [
        "| replay | running threshold | explore | refit from traces | rows (explored) | "
        "extra cost | refit - all-traffic agreement fit |",
        "|---|---|---|---|---|---|---|",
    ]
    records: list[dict[str, Any]] = []
    for running, cell, gold in cells():
        agree_all = relabel(gold, "agreement")
        per: dict[str, list[float]] = {}
        extra_share: dict[float, list[float]] = {}
        sizes: dict[float, list[tuple[int, int]]] = {}
        for seed in range(args.seeds):
            test, traffic_idx = split(gold, seed)
            traffic = gold.subset(traffic_idx)
            per.setdefault(f"running Threshold({running:g})", []).append(
                dibc(Threshold(running), test)
            )
            per.setdefault("all traffic, gold labels", []).append(dibc(fit(traffic), test))
            per.setdefault("all traffic, agreement labels", []).append(
                dibc(fit(agree_all.subset(traffic_idx)), test)
            )
            for rate in RATES:
                served_traces, extra = traces(traffic, running, rate, seed)
                served = served_replay(served_traces)
                base_cost = sum(t["automix"]["total_cost"] for t in served_traces)
                extra_share.setdefault(rate, []).append(extra * COSTS[1] / base_cost)
                sizes.setdefault(rate, []).append((len(served.rows), served.n_explored))
                rows = ReplayDataset.from_records(served.rows, source="trace")
                value = dibc(fit(rows), test)
                per.setdefault(f"traces, explore {rate:g}", []).append(value)
                records.append({"replay": cell, "running": running, "seed": seed,
                                "explore": rate, "delta_ibc": value,
                                "rows": len(served.rows), "explored": served.n_explored,
                                "extra": extra})  # fmt: skip
        lines.append(
            f"## {cell}, running Threshold({running:g}): {gold.n_rows} rows, traffic "
            f"{gold.n_rows - gold.n_rows // 2}"
        )
        for name, values in per.items():
            lines.append(f"  {name:32s} {ci(np.array(values), rng)}")
        ref = np.array(per["all traffic, agreement labels"])
        for rate in RATES:
            v = np.array(per[f"traces, explore {rate:g}"])
            n_rows = np.mean([s[0] for s in sizes[rate]])
            n_exp = np.mean([s[1] for s in sizes[rate]])
            table.append(
                f"| {cell} | {running:g} | {rate:g} | {ci(v, rng)} | {n_rows:.0f} "
                f"({n_exp:.0f}) | {np.mean(extra_share[rate]):.1%} | {ci(v - ref, rng)} |"
            )
        lines.append("")
    lines += ["## summary (test ΔIBC %, gold labels; 95% bootstrap interval over seeds)",
              *table, "", f"({time.time() - t0:.0f} s)"]  # fmt: skip
    text = "\n".join(lines)
    write_results(args.out, text, records)


if __name__ == "__main__":
    main()
