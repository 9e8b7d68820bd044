"""Cheaper verification, measured on the embedded small model (llama.cpp, CPU).

Compares, on the same questions and the same small-model answers:

* ``k-concurrent``: ``averify`` with k samples sent concurrently (AutoMix default);
* ``k-sequential``: the same k samples one after another (``max_concurrency=1``);
* ``logprob``: one short greedy call, confidence = P(Correct) from top logprobs
  (``alogprob_verify``, server started with ``logits_all=True``).

Answers and scores come from a replay file collected by ``automix collect --local``
(small answer, small and large scores); each question runs the three methods in
turn (rotating the order per question) so background load hits them alike.
Prints seconds per question and, from the confidences, the ΔIBC of a threshold
router (best threshold on these questions, an optimistic in-sample number, the
same for every method) with the paper's costs (small 1, verify 1, large 50), and
the AUROC of each confidence for "small answer correct" (F1 >= 0.5).

Usage:
    PYTHONPATH=. python benchmarks/bench_verification.py \
        --replay langchain_automix/data/replay_local_qwen.jsonl --n 30 --k 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np

from langchain_automix.local import LocalModelServer
from langchain_automix.metrics import auroc, delta_ibc
from langchain_automix.verification import VerifierSettings, averify
from langchain_automix.verification_logprob import alogprob_verify

SMALL = "qwen2.5-coder-0.5b"
METHODS = ("k-concurrent", "k-sequential", "logprob")


def best_delta_ibc(conf: np.ndarray, s_small: np.ndarray, s_large: np.ndarray) -> float:
    small_c, large_c, verify_c = 1.0, 50.0, 1.0
    p_small, p_large = float(s_small.mean()), float(s_large.mean())
    if p_large <= p_small:
        return float("nan")
    best = -np.inf
    for t in np.unique(np.concatenate([conf, [np.inf]])):
        escalate = conf < t
        perf = np.where(escalate, s_large, s_small).mean()
        cost = small_c + verify_c + large_c * escalate.mean()
        best = max(best, float(delta_ibc(cost, perf, (small_c, p_small), (large_c, p_large))))
    return best


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replay", required=True)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--out", default="automix-out/bench_verification.jsonl")
    ap.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated subset of " + ", ".join(METHODS),
    )
    args = ap.parse_args()
    rows = [json.loads(line) for line in Path(args.replay).open() if line.strip()][: args.n]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    methods = tuple(m for m in METHODS if m in args.methods.split(","))
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    with (
        LocalModelServer([SMALL], n_ctx=4096) as plain,
        LocalModelServer([SMALL], n_ctx=4096, logits_all=True) as with_logits,
    ):
        sampler = plain.chat_model(SMALL)
        scorer = with_logits.chat_model(SMALL)
        with out.open("w") as fh:
            for i, row in enumerate(rows):
                q = {
                    "question": row["question"],
                    "context": row["context"],
                    "answer": row["tiers"][0]["answer"],
                }
                shift = i % len(methods)
                order = methods[shift:] + methods[:shift]
                rec: dict[str, object] = {"id": row["id"]}
                for method in order:
                    start = time.perf_counter()
                    if method == "logprob":
                        res = await alogprob_verify(scorer, **q, seed=i)
                    else:
                        settings = VerifierSettings(k=args.k, seed=i, request_n=False)
                        cfg = {"max_concurrency": 1} if method == "k-sequential" else None
                        res = await averify(sampler, **q, settings=settings, config=cfg)
                    took = time.perf_counter() - start
                    results[method].append((took, res.confidence))
                    rec[method] = {
                        "s": round(took, 3),
                        "conf": res.confidence,
                        "valid": res.n_valid,
                    }
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                print(
                    f"[{i + 1}/{len(rows)}] "
                    + "  ".join(
                        f"{m}: {results[m][-1][0]:.1f}s conf={results[m][-1][1]:.2f}"
                        for m in methods
                    ),
                    flush=True,
                )
    s_small = np.array([r["tiers"][0]["score"] for r in rows], float)
    s_large = np.array([r["tiers"][-1]["score"] for r in rows], float)
    print(
        f"\n{len(rows)} questions, k={args.k}; small F1 {s_small.mean():.3f}, "
        f"large F1 {s_large.mean():.3f}"
    )
    correct = s_small >= 0.5

    def fmt_auroc(conf: np.ndarray) -> str:
        value = auroc(conf, correct)
        return "-" if value is None else f"{value:.3f}"

    print(f"{int(correct.sum())} of {len(rows)} small answers correct (F1 >= 0.5)")
    print(
        f"{'method':<14}{'s/question':>12}{'median s':>10}"
        f"{'ΔIBC (best thr, in-sample)':>30}{'AUROC':>8}"
    )
    for m in methods:
        t = np.array([x[0] for x in results[m]])
        conf = np.array([x[1] for x in results[m]])
        print(
            f"{m:<14}{t.mean():>12.2f}{np.median(t):>10.2f}"
            f"{best_delta_ibc(conf, s_small, s_large):>30.1f}{fmt_auroc(conf):>8}"
        )
    replay_conf = np.array([r["tiers"][0]["verifier_confidence"] for r in rows], float)
    print(
        f"{'replay (k=8)':<14}{'':>12}{'':>10}"
        f"{best_delta_ibc(replay_conf, s_small, s_large):>30.1f}{fmt_auroc(replay_conf):>8}"
    )


if __name__ == "__main__":
    asyncio.run(main())
