"""What verification costs on the embedded pair, and what it buys, method by method.

For each of the first ``--n`` shipped replay questions (Qwen2.5-Coder 0.5B -> 1.5B,
``langchain_automix/data/replay_local_qwen.jsonl``) this runs, on one backend:

* ``solve-small``: the 0.5B model answers (greedy, answer logprobs requested);
* ``verify-k``: the paper's k sampled verifications of the replay's stored small answer
  (``averify``; on ``llama-server`` one request with ``n=k``, elsewhere k calls);
* ``verify-k-short``: the same k samples capped at 32 tokens instead of 128;
* ``verify-k-grammar``: the same k samples under ``DECISION_GRAMMAR`` (a one-sentence
  evaluation, then the decision line, then stop; ``llama-server`` only);
* ``verify-k-decision``: the same k samples under ``decision_grammar(0)`` (the decision
  line alone, no evaluation; ``llama-server`` only);
* ``verify-k-claims``: the k = 8 samples of ``verify-k`` on ``CLAIMS_VERIFY_PROMPT`` (worked
  examples for "unanswerable" and yes/no answers; the prompt is about twice as long);
* ``verify-logprob``: one greedy call, P(Correct) from the decision token's logprobs;
* ``solve-large``: the 1.5B model answers.

Each verification method runs on a small-model server of its own (``--shared-server``:
all on the answer's server), so that each finds the prompt cache a deployment would:
the few-shot block read on earlier questions, this question's context not yet read.
On one shared server a method that runs after another on the same question finds the
whole prompt cached and looks several seconds cheaper than it is.

It prints, per method: median wall seconds, the ratio to solve-small (median of the
per-question ratios, measured in this run), prompt and output tokens, the AUROC of the
confidence for "stored small answer correct" (F1 >= 0.5) with a 95% bootstrap interval,
and the test ΔIBC of the default fit (a cross-validated Threshold that falls back to a
fixed choice when routing does not pay) on half the questions, tested on the other half
(mean ± std over 20 splits; 30 test rows are few, see docs/results.md for 305). The replay's own
k = 8 confidences (collected earlier on the same answers) are the reference AUROC, and
``answer_min_prob`` (free: read from the solve call) is listed beside them.

Usage:
    PYTHONPATH=. python benchmarks/bench_verification.py --n 60 --backend llama-server
    PYTHONPATH=. python benchmarks/bench_verification.py --n 10 --backend llama-cpp-python
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from langchain_automix.calibration.metrics import auroc
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import compare_methods
from langchain_automix.local import DEFAULT_PAIR, LocalModelServer
from langchain_automix.prompts import CLAIMS_VERIFY_PROMPT, DECISION_GRAMMAR, decision_grammar
from langchain_automix.runtime.solving import asolve
from langchain_automix.runtime.verification import VerifierSettings, averify
from langchain_automix.runtime.verification_logprob import alogprob_verify

REPLAY = Path(__file__).resolve().parents[1] / "langchain_automix/data/replay_local_qwen.jsonl"
METHODS = (
    "solve-small",
    "verify-k",
    "verify-k-short",
    "verify-k-grammar",
    "verify-k-decision",
    "verify-k-claims",
    "verify-logprob",
    "solve-large",
)
SHORT_TOKENS = 32
"""``verify-k-short``: the same k samples capped at 32 tokens (today's cap is 128)."""


def _tokens(usage: Any) -> tuple[int, int]:
    if not usage:
        return 0, 0
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


async def _run_question(
    server: LocalModelServer,
    judges: dict[str, LocalModelServer],
    row: dict[str, Any],
    k: int,
    seed: int,
    methods: tuple[str, ...] = METHODS,
) -> dict[str, Any]:
    small_id, large_id = DEFAULT_PAIR
    small = server.chat_model(small_id, temperature=0, max_tokens=64)
    large = server.chat_model(large_id, temperature=0, max_tokens=64)
    q = {"question": row["question"], "context": row["context"]}
    stored = row["tiers"][0]["answer"] or ""
    rec: dict[str, Any] = {"id": row["id"]}

    t = time.perf_counter()
    solved = await asolve(small, **q, logprobs=True)
    rec["solve-small"] = {
        "s": time.perf_counter() - t,
        "tokens": _tokens(solved.usage),
        "answer": solved.answer,
        "answer_min_prob": solved.signals.get("answer_min_prob"),
    }

    cfg = None if server.supports_n else {"max_concurrency": 1}
    llama = server.backend == "llama-server"
    variants = (
        ("verify-k", 128, None),
        ("verify-k-short", SHORT_TOKENS, None),
        ("verify-k-grammar", 128, DECISION_GRAMMAR if llama else None),
        ("verify-k-decision", 128, decision_grammar(0) if llama else None),
        ("verify-k-claims", 128, None),
    )
    for method, cap, gbnf in variants:
        if method not in methods or (method.endswith(("grammar", "decision")) and gbnf is None):
            continue
        settings = VerifierSettings(
            k=k,
            seed=seed,
            request_n=server.supports_n,
            max_tokens=cap,
            grammar=gbnf,
            prompt=CLAIMS_VERIFY_PROMPT if method == "verify-k-claims" else None,
        )
        judge = judges.get(method, server).chat_model(small_id)
        t = time.perf_counter()
        ver = await averify(judge, **q, answer=stored, settings=settings, config=cfg)
        rec[method] = {
            "s": time.perf_counter() - t,
            "tokens": _tokens(ver.usage),
            "conf": ver.confidence,
            "valid": ver.n_valid,
            "errors": ver.errors,
            "samples_chars": [len(s) for s in ver.samples],
            "verdicts": ver.verdicts,
        }

    if "verify-logprob" in methods:
        t = time.perf_counter()
        judge = judges.get("verify-logprob", server).chat_model(small_id)
        lp = await alogprob_verify(judge, **q, answer=stored, seed=seed)
        rec["verify-logprob"] = {
            "s": time.perf_counter() - t,
            "tokens": _tokens(lp.usage),
            "conf": lp.confidence,
        }

    if "solve-large" in methods:
        t = time.perf_counter()
        big = await asolve(large, **q)
        rec["solve-large"] = {"s": time.perf_counter() - t, "tokens": _tokens(big.usage)}
    return rec


def _auroc_ci(conf: np.ndarray, correct: np.ndarray, seed: int = 0) -> str:
    value = auroc(conf, correct)
    if value is None:
        return "-"
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(1000):
        idx = rng.integers(0, len(conf), len(conf))
        d = auroc(conf[idx], correct[idx])
        if d is not None:
            draws.append(d)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return f"{value:.3f} [{lo:.2f},{hi:.2f}]"


def _test_delta_ibc(rows: list[dict[str, Any]], conf: np.ndarray, free_call: bool = False) -> str:
    """The default fit (Calibrated Threshold: cross-validated, falls back to a fixed choice
    when routing does not pay) on one half, tested on the other, over 20 splits; a free
    signal is charged no verification (``free_call``), every verifier one small call."""
    data = ReplayDataset.from_records(rows).with_confidences(conf)
    comp = compare_methods(
        data,
        methods=("threshold",),
        seeds=range(20),
        verify_costs=0.0 if free_call else None,
        robust=True,
    )
    s = comp.summary()["threshold"]
    return f"{s['delta_ibc']:+.1f} ± {s['delta_ibc_std']:.1f}"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replay", default=str(REPLAY))
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument(
        "--backend", default="auto", choices=("auto", "llama-server", "llama-cpp-python")
    )
    ap.add_argument("--out", default="automix-out/bench_verification.jsonl")
    ap.add_argument(
        "--shared-server",
        action="store_true",
        help="verify on the answer's server (methods then see each other's prompt cache: "
        "a method run after another on the same question finds its prompt already read)",
    )
    ap.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {', '.join(METHODS)} (solve-small always runs)",
    )
    ap.add_argument(
        "--summarize",
        metavar="JSONL",
        help="print the tables from the records of an earlier run (no model is called)",
    )
    args = ap.parse_args()
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        ap.error(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    methods = ("solve-small", *[m for m in METHODS if m in methods and m != "solve-small"])
    rows = [json.loads(line) for line in Path(args.replay).open() if line.strip()][: args.n]
    if args.summarize:
        done = [json.loads(line) for line in Path(args.summarize).open() if line.strip()]
        by_id = {r["id"]: r for r in rows}
        label = f"records of {args.summarize}"
        _summarize([by_id[r["id"]] for r in done], done, label, args.k, float("nan"))
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recs: list[dict[str, Any]] = []
    started = time.perf_counter()
    separate = not args.shared_server
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            LocalModelServer(
                DEFAULT_PAIR,
                backend=args.backend,
                parallel=max(8, args.k),
                process_per_model=True,
                logits_all=DEFAULT_PAIR[:1],
            )
        )
        # One small-model server per verification method: each sees the prompt cache a
        # deployment sees (the few-shot block warm from earlier questions, this
        # question's part cold), not the cache another method has just filled.
        judges = {
            m: stack.enter_context(
                LocalModelServer(DEFAULT_PAIR[:1], backend=args.backend, parallel=max(8, args.k))
            )
            for m in methods
            if separate and m.startswith("verify")
        }
        fh = stack.enter_context(out.open("w"))
        backend = server.backend
        print(
            f"backend: {backend}; {len(rows)} questions; k={args.k}; "
            + ("one small-model server per verification method" if separate else "one server"),
            flush=True,
        )
        await _run_question(server, judges, rows[0], args.k, 10_000, methods)  # warm-up
        for i, row in enumerate(rows):
            rec = await _run_question(server, judges, row, args.k, i, methods)
            recs.append(rec)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            print(
                f"[{i + 1}/{len(rows)}] "
                + "  ".join(f"{m} {rec[m]['s']:.2f}s" for m in METHODS if m in rec)
                + "  conf "
                + " ".join(
                    f"{m}={rec[m]['conf']:.2f}" for m in METHODS if "conf" in rec.get(m, {})
                ),
                flush=True,
            )
    took = time.perf_counter() - started
    _summarize(rows, recs, backend, args.k, took)


def _summarize(
    rows: list[dict[str, Any]], recs: list[dict[str, Any]], backend: str, k: int, took: float
) -> None:
    correct = np.array([r["tiers"][0]["score"] >= 0.5 for r in rows])
    solve_s = np.array([r["solve-small"]["s"] for r in recs])
    print(
        f"\n{backend}, {len(rows)} shipped questions, k={k}, {took:.0f} s in all; "
        f"{int(correct.sum())} stored small answers correct (F1 >= 0.5)"
    )
    head = (
        f"{'method':<16}{'median s':>9}{'x solve-small':>14}{'prompt tok':>11}"
        f"{'output tok':>11}{'AUROC [95% CI]':>22}{'test ΔIBC (thr)':>18}"
    )
    print(head)
    print("-" * len(head))
    methods = [m for m in METHODS if m in recs[0]]
    sampled = [m for m in methods if m.startswith("verify-k")]
    confs: dict[str, np.ndarray] = {
        m: np.array([r[m]["conf"] for r in recs]) for m in methods if m.startswith("verify")
    }
    for m in methods:
        s = np.array([r[m]["s"] for r in recs])
        ratio = statistics.median(s / solve_s)
        pin = statistics.median(r[m]["tokens"][0] for r in recs)
        pout = statistics.median(r[m]["tokens"][1] for r in recs)
        au = _auroc_ci(confs[m], correct) if m in confs else ""
        dibc = _test_delta_ibc(rows, confs[m]) if m in confs else ""
        print(
            f"{m:<16}{np.median(s):>9.2f}{ratio:>14.2f}{pin:>11.0f}{pout:>11.0f}{au:>22}{dibc:>18}"
        )
    replay_conf = np.array([r["tiers"][0]["verifier_confidence"] for r in rows], float)
    print(
        f"{'replay k=8':<16}{'':>9}{'':>14}{'':>11}{'':>11}"
        f"{_auroc_ci(replay_conf, correct):>22}{_test_delta_ibc(rows, replay_conf):>18}"
    )
    free = np.array(
        [(r["tiers"][0].get("signals") or {}).get("answer_min_prob", np.nan) for r in rows], float
    )
    have = np.isfinite(free)
    if have.any():  # rows whose stored answer differed when re-asked carry none: scored 0
        print(
            f"{'answer_min_prob':<16}{'(free)':>9}{'':>14}{'':>11}{'':>11}"
            f"{_auroc_ci(free[have], correct[have]):>22}"
            f"{_test_delta_ibc(rows, np.nan_to_num(free), free_call=True):>18}"
            f"   ({int(have.sum())} rows with it)"
        )
    print()
    for m in sampled:
        diff = (auroc(confs[m], correct) or 0) - (auroc(replay_conf, correct) or 0)
        same_run = ""
        if m != "verify-k" and "verify-k" in confs:
            d = (auroc(confs[m], correct) or 0) - (auroc(confs["verify-k"], correct) or 0)
            same_run = f"; - verify-k (this run): {d:+.3f}"
        took_s = np.array([r[m]["s"] for r in recs])
        print(
            f"{m} / solve-small: {statistics.median(took_s / solve_s):.2f}x (median per "
            f"question); AUROC {m} - replay k=8: {diff:+.3f}{same_run}; "
            "samples without a decision: "
            f"{1 - sum(r[m]['valid'] for r in recs) / (k * len(recs)):.1%}; "
            f"errors: {sum(len(r[m]['errors']) for r in recs)}"
        )
    if "solve-large" not in recs[0]:
        return
    large_s = np.array([r["solve-large"]["s"] for r in recs])
    for m in [m for m in (*sampled, "verify-logprob") if m in recs[0]]:
        kept = solve_s + np.array([r[m]["s"] for r in recs])
        print(
            f"a query kept after {m}: median {np.median(kept):.2f} s; always-large "
            f"{np.median(large_s):.2f} s; kept without a verifier call (answer signals): "
            f"{np.median(solve_s):.2f} s"
        )


if __name__ == "__main__":
    asyncio.run(main())
