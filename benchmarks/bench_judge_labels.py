"""Judge labels on the shipped replays with the embedded large model, beside gold and agreement.

Step 1 (real model calls, resumable): the embedded large model (Qwen2.5-Coder 1.5B on
llama-server) judges, for every row of a shipped two-tier replay, whether the small
tier's answer is the same as its own (:func:`~langchain_automix.collection.labels.ajudge_record`:
one greedy call per pair that differs after normalisation). The judged rows go to
``benchmarks/results/judge_labels_<replay>.jsonl``; a re-run skips the rows already there.

Step 2 (offline): as ``bench_agreement_labels.py``, 10 seeds x half splits, the default
fit trained on gold, agreement and judge labels of the same rows, each scored on gold
labels of the held-out half; plus how often each pseudo-label matches gold on "the small
answer is right" (gold score >= 0.5), and the judge's cost in calls.

Usage:
    python benchmarks/bench_judge_labels.py [--replays mix,squad] [--seeds 10] [--skip-judging]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from langchain_automix.calibration.replay import ReplayDataset, load_replay
from langchain_automix.collection.labels import JudgeStats, ajudge_record, relabel
from langchain_automix.evaluation import evaluate_policy, paired_interval
from langchain_automix.meta_verifiers import POMDP, Calibrated

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "langchain_automix" / "data"
RESULTS = ROOT / "benchmarks" / "results"
REPLAYS = {
    "mix": ("mix 305 (chat verifier)", "replay_local_qwen.jsonl"),
    "squad": ("squad1.1 400 (chat verifier)", "replay_local_qwen_squad11.jsonl"),
}
COSTS = (1.0, 50.0)
TRAIN_SIZES: tuple[int | None, ...] = (50, 100, None)


def judged_path(key: str) -> Path:
    return RESULTS / f"judge_labels_{key}.jsonl"


async def judge_replay(key: str, model: Any, concurrency: int) -> JudgeStats:
    """Judge every row not judged yet; append each to the results file as it comes."""
    path = judged_path(key)
    done = set()
    if path.exists():
        done = {json.loads(line)["id"] for line in path.read_text().splitlines() if line}
    records = [r for r in load_replay(DATA / REPLAYS[key][1]).records if r["id"] not in done]
    stats = JudgeStats()
    gate = asyncio.Semaphore(concurrency)
    t0 = time.time()

    async def one(record: Any) -> None:
        async with gate:
            judged = await ajudge_record(record, model, stats)
        if judged is not None:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(judged, ensure_ascii=False) + "\n")
        n = stats.calls + stats.identical + stats.settled + stats.refused
        if n % 25 == 0:
            print(f"  {key}: {n}/{len(records)} judged, {time.time() - t0:.0f} s", flush=True)

    await asyncio.gather(*(one(r) for r in records))
    return stats


def fit_dibc(train: ReplayDataset, test: ReplayDataset) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = Calibrated(POMDP()).fit(train, costs=COSTS)
    return float(evaluate_policy(policy, test, costs=COSTS).delta_ibc or 0.0)


def ci(v: np.ndarray, rng: np.random.Generator) -> str:
    lo, hi = paired_interval(v, 2000, rng)
    return f"{v.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]"


def evaluate(key: str, seeds: int, rng: np.random.Generator) -> list[str]:
    name, file = REPLAYS[key]
    gold_all = load_replay(DATA / file)
    judged = ReplayDataset.from_records(
        [json.loads(line) for line in judged_path(key).read_text().splitlines() if line],
        source=str(judged_path(key)),
    )
    order = {str(i): n for n, i in enumerate(judged.ids)}
    keep = [order[str(i)] for i in gold_all.ids if str(i) in order]
    judge = judged.subset(np.array(keep))
    gold = relabel(judge, "gold")
    agree = relabel(judge, "agreement")
    right = gold.scores[:, 0] >= 0.5
    how = [r["tiers"][0].get("judge") for r in judge.records]
    identical = sum(
        1 for r in judge.records if r["tiers"][0].get("judge") == "same"
        and r["tiers"][0].get("agreement_score") == 1.0
    )  # fmt: skip
    calls = sum(h in ("same", "different", "invalid") for h in how) - identical
    out = [
        f"## {name}: {judge.n_rows} rows: {identical} pairs identical after normalisation, "
        f"{how.count('rule')} settled by the yes/no / unanswerable rule, {how.count('refused')} "
        f"refused (speak the judge's words), ~{calls} judge calls ({how.count('invalid')} "
        "invalid verdicts)",
        f"  small answer right (gold >= 0.5) matched by agreement >= 0.5: "
        f"{np.mean((agree.scores[:, 0] >= 0.5) == right):.1%}, by judge: "
        f"{np.mean((judge.scores[:, 0] >= 0.5) == right):.1%}",
    ]
    rows = []
    for size in TRAIN_SIZES:
        per: dict[str, list[float]] = {"gold": [], "agreement": [], "judge": []}
        n_train = 0
        for seed in range(seeds):
            perm = np.random.default_rng(seed).permutation(gold.n_rows)
            half = gold.n_rows // 2
            test = gold.subset(np.sort(perm[:half]))
            pool = perm[half:]
            idx = np.sort(pool if size is None else pool[:size])
            n_train = idx.size
            for label, data in (("gold", gold), ("agreement", agree), ("judge", judge)):
                per[label].append(fit_dibc(data.subset(idx), test))
        g, a, j = (np.array(per[k]) for k in ("gold", "agreement", "judge"))
        rows.append(
            f"| {name} | {n_train} | {ci(g, rng)} | {ci(a, rng)} | {ci(j, rng)} | "
            f"{ci(j - g, rng)} | {ci(j - a, rng)} |"
        )
    return [*out, "", "| replay | train rows | gold | agreement | judge | judge - gold | "
            "judge - agreement |", "|---|---|---|---|---|---|---|", *rows, ""]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--replays", default="mix,squad")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--skip-judging", action="store_true", help="only step 2")
    args = p.parse_args()
    keys = [k.strip() for k in args.replays.split(",") if k.strip()]
    if not args.skip_judging:
        from langchain_automix.local import local_chat_models

        async def judge_all(large: Any) -> None:  # one event loop: the client is bound to it
            for key in keys:
                t0 = time.time()
                stats = await judge_replay(key, large, args.concurrency)
                print(
                    f"{key}: {stats.calls} judge calls, {stats.identical} identical pairs, "
                    f"{stats.settled} settled by the yes/no / unanswerable rule, "
                    f"{stats.refused} refused, {stats.invalid} invalid, {time.time() - t0:.0f} s",
                    flush=True,
                )

        with local_chat_models(("qwen2.5-coder-1.5b",), max_tokens=8) as (large,):
            asyncio.run(judge_all(large))
    rng = np.random.default_rng(0)
    lines = [
        f"# bench_judge_labels: --seeds {args.seeds}; test ΔIBC % on gold labels, "
        "default fit (Calibrated POMDP), mean [95% bootstrap interval over seeds]",
        "",
    ]
    for key in keys:
        lines += evaluate(key, args.seeds, rng)
    text = "\n".join(lines)
    print(text)
    (RESULTS / "bench_judge_labels.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
