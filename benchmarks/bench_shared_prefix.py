"""Verification latency per prompt layout, measured as a query meets it: after its answer.

For each of the first ``--n`` shipped SQuAD 1.1 questions (``squad11_200``), and for each
layout below, the embedded small model (Qwen2.5-Coder 0.5B on ``llama-server``; one
server per layout, so each finds the prompt cache a deployment of that layout would)
answers the question and then verifies its fresh answer with k = 8 samples (one request
with ``n = 8``):

* ``paper``: the paper's few-shot prompt (``DEFAULT_VERIFY_PROMPT``), no grammar: what
  ``automix demo`` / ``automix serve`` use today;
* ``paper-decision``: the same prompt, each sample held to the decision line
  (``decision_grammar(0)``): the cheapest layout before this benchmark;
* ``shared-verdict``: ``SHARED_PREFIX_VERIFY_PROMPT`` (the answer call's own messages,
  the answer as the model's turn, one request for a one-word verdict) under
  ``VERDICT_GRAMMAR``; llama-server's prompt cache has read everything up to the answer.

The 1.5B model answers each question too (always-large). Printed: per layout the median
answer and verification seconds, the median per-question ratio verification / answer
(with a 95% bootstrap interval), the latency of a query the policy keeps (answer +
verification; median and interval) against always-large's median, and the prompt tokens
billed per verification. All in one run on one machine (2 cores). AUROC needs more rows
than this: see the 400-row replays in docs/verification.md.

``--routing`` instead compares the shipped replays that differ only in the verification
layout (same answers): the 400 SQuAD 1.1 rows (``replay_local_qwen_squad11.jsonl`` against
``replay_local_qwen_squad11_shared.jsonl``) and the 305 SQuAD 2.0 + BoolQ rows
(``replay_local_qwen.jsonl`` against ``replay_local_qwen_shared.jsonl``): the verifier's
AUROC per layout with the paired difference (one bootstrap over questions for both), and
test ΔIBC over 10 half/half splits (same seeds for both), costs 1/50, for the default fits
on the default signal (``auto``: verifier and free answer signals combined) and on the
verifier alone, with the paired difference shared - paper and its 95% interval.

``--fanout`` measures item 2 of issue #27, k samples for a backend that ignores ``n``:
the k = 8 shared-layout samples sent as one ``n = 8`` request, as 8 requests at once, as
one request and then 7 at once (the first leaves the prefix in the server's cache), and
as 8 in a row; each way on a small-model server of its own.

Usage:
    python benchmarks/bench_shared_prefix.py --n 30 [--out benchmarks/results/bench_shared_prefix]
    python benchmarks/bench_shared_prefix.py --routing
    python benchmarks/bench_shared_prefix.py --fanout --n 30
    python benchmarks/bench_shared_prefix.py --summarize   # the table again, from the records
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
from _results import write_results

from langchain_automix.collection.datasets import load_qa
from langchain_automix.local import DEFAULT_PAIR, LocalModelServer
from langchain_automix.prompts import (
    SHARED_PREFIX_VERIFY_PROMPT,
    VERDICT_GRAMMAR,
    decision_grammar,
)
from langchain_automix.runtime.solving import asolve
from langchain_automix.runtime.verification import VerifierSettings, averify

LAYOUTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "paper-decision": {"grammar": decision_grammar(0)},
    "shared-verdict": {"prompt": SHARED_PREFIX_VERIFY_PROMPT, "grammar": VERDICT_GRAMMAR},
}


def _input_tokens(usage: Any) -> int:
    return int((usage or {}).get("input_tokens", 0))


def _median_ci(values: list[float], rng: np.random.Generator) -> str:
    v = np.asarray(values, float)
    meds = np.median(v[rng.integers(0, v.size, size=(2000, v.size))], axis=1)
    return f"{np.median(v):.2f} [{np.percentile(meds, 2.5):.2f}, {np.percentile(meds, 97.5):.2f}]"


async def run(n: int, k: int, seed: int) -> list[dict[str, Any]]:
    """One record per question: per layout answer/verify seconds and tokens; the large answer."""
    small_id, large_id = DEFAULT_PAIR
    items = load_qa("squad11_200", limit=n)
    records: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(LocalModelServer([small_id])) for name in LAYOUTS}
        large_server = stack.enter_context(LocalModelServer([large_id]))
        large = large_server.chat_model(large_id, temperature=0, max_tokens=64)
        for i, item in enumerate(items, 1):
            q = {"question": item.question, "context": item.context}
            rec: dict[str, Any] = {"id": item.id}
            for name, layout in LAYOUTS.items():
                small = servers[name].chat_model(small_id, temperature=0, max_tokens=64)
                t = time.perf_counter()
                solved = await asolve(small, **q)
                answer_s = time.perf_counter() - t
                settings = VerifierSettings(k=k, seed=seed, **layout)
                t = time.perf_counter()
                ver = await averify(small, **q, answer=solved.answer, settings=settings)
                rec[name] = {
                    "answer_s": answer_s,
                    "verify_s": time.perf_counter() - t,
                    "answer_in": _input_tokens(solved.usage),
                    "verify_in": _input_tokens(ver.usage),
                    "conf": ver.confidence,
                    "valid": ver.n_valid,
                    "answer": solved.answer,
                }
            t = time.perf_counter()
            await asolve(large, **q)
            rec["large_s"] = time.perf_counter() - t
            records.append(rec)
            print(
                f"[{i}/{n}] "
                + "  ".join(
                    f"{m} {rec[m]['answer_s']:.2f}+{rec[m]['verify_s']:.2f}s" for m in LAYOUTS
                )
                + f"  large {rec['large_s']:.2f}s",
                flush=True,
            )
    return records


FANOUTS = ("n=8, one request", "8 requests at once", "1 request, then 7 at once", "8 in a row")
"""How ``--fanout`` sends the k = 8 shared-layout samples (see :func:`fanout`)."""


async def _fanout_verify(way: str, small: Any, q: dict[str, str], answer: str, seed: int) -> Any:
    """k = 8 shared-layout verdict samples of ``answer``, sent the ``way`` named."""
    from langchain_automix.runtime.verification import VerificationResult

    shared = {"prompt": SHARED_PREFIX_VERIFY_PROMPT, "grammar": VERDICT_GRAMMAR, "seed": seed}
    if way == FANOUTS[0]:
        return await averify(small, **q, answer=answer, settings=VerifierSettings(k=8, **shared))
    separate = VerifierSettings(k=8, request_n=False, **shared)
    if way == FANOUTS[1]:
        return await averify(small, **q, answer=answer, settings=separate)
    if way == FANOUTS[3]:
        config: Any = {"max_concurrency": 1}
        return await averify(small, **q, answer=answer, settings=separate, config=config)
    first = await averify(
        small, **q, answer=answer, settings=VerifierSettings(k=1, request_n=False, **shared)
    )
    rest = await averify(
        small, **q, answer=answer, settings=VerifierSettings(k=7, request_n=False, **shared)
    )
    return VerificationResult(
        samples=first.samples + rest.samples,
        verdicts=first.verdicts + rest.verdicts,
        confidence=(first.confidence * first.n_valid + rest.confidence * rest.n_valid)
        / max(1, first.n_valid + rest.n_valid),
        n_valid=first.n_valid + rest.n_valid,
        n_samples=8,
    )


async def fanout(n: int, seed: int) -> list[dict[str, Any]]:
    """Per question and per way of sending the k = 8 samples: the answer call, then its
    shared-layout verification; each way on a small-model server of its own (so each finds
    the prompt cache its way leaves), questions in the same order."""
    small_id = DEFAULT_PAIR[0]
    items = load_qa("squad11_200", limit=n)
    records: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        servers = {way: stack.enter_context(LocalModelServer([small_id])) for way in FANOUTS}
        for i, item in enumerate(items, 1):
            q = {"question": item.question, "context": item.context}
            rec: dict[str, Any] = {"id": item.id}
            for way in FANOUTS:
                small = servers[way].chat_model(small_id, temperature=0, max_tokens=64)
                t = time.perf_counter()
                solved = await asolve(small, **q)
                answer_s = time.perf_counter() - t
                t = time.perf_counter()
                ver = await _fanout_verify(way, small, q, solved.answer, seed)
                rec[way] = {
                    "answer_s": answer_s,
                    "verify_s": time.perf_counter() - t,
                    "conf": ver.confidence,
                    "valid": ver.n_valid,
                }
            records.append(rec)
            print(
                f"[{i}/{n}] "
                + "  ".join(
                    f"{w}: {rec[w]['answer_s']:.2f}+{rec[w]['verify_s']:.2f}s" for w in FANOUTS
                ),
                flush=True,
            )
    return records


def summarize_fanout(records: list[dict[str, Any]]) -> str:
    """Per way: median answer and verification seconds, and verification / answer."""
    rng = np.random.default_rng(0)
    lines = [
        f"llama-server (--parallel 8, unified KV cache), {len(records)} SQuAD 1.1 questions; "
        "shared-prefix layout, verdict grammar, k = 8; one small-model server per way; "
        "medians [95% bootstrap interval]",
        "",
        "| how the 8 samples are sent | answer s | verify s | verify / answer (per question) "
        "| valid samples |",
        "|---|---|---|---|---|",
    ]
    base = [r[FANOUTS[0]]["verify_s"] for r in records]
    for way in FANOUTS:
        rows = [r[way] for r in records]
        ratio = [x["verify_s"] / x["answer_s"] for x in rows]
        valid = sum(x["valid"] for x in rows) / (8 * len(rows))
        lines.append(
            f"| {way} | {statistics.median(x['answer_s'] for x in rows):.2f} | "
            f"{_median_ci([x['verify_s'] for x in rows], rng)} | {_median_ci(ratio, rng)} | "
            f"{valid:.0%} |"
        )
    lines.append("")
    for way in FANOUTS[1:]:
        diff = [r[way]["verify_s"] - b for r, b in zip(records, base, strict=True)]
        lines.append(
            f"{way} minus n=8 in one request, per question: median {_median_ci(diff, rng)} s"
        )
    return "\n".join(lines)


def summarize(records: list[dict[str, Any]], k: int) -> str:
    """The table: per layout medians, ratios and kept-query latency against always-large."""
    rng = np.random.default_rng(0)
    large = [r["large_s"] for r in records]
    lines = [
        f"llama-server, {len(records)} SQuAD 1.1 questions, k = {k}; one small-model server "
        "per layout; medians [95% bootstrap interval]",
        "",
        "| layout | answer s | verify s | verify / answer (per question) | kept query s "
        "(answer + verify) | prompt tokens billed per verification | valid samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in LAYOUTS:
        rows = [r[name] for r in records]
        ratio = [x["verify_s"] / x["answer_s"] for x in rows]
        kept = [x["answer_s"] + x["verify_s"] for x in rows]
        valid = sum(x["valid"] for x in rows) / (k * len(rows))
        lines.append(
            f"| {name} | {statistics.median(x['answer_s'] for x in rows):.2f} | "
            f"{statistics.median(x['verify_s'] for x in rows):.2f} | {_median_ci(ratio, rng)} | "
            f"{_median_ci(kept, rng)} | {statistics.median(x['verify_in'] for x in rows):.0f} | "
            f"{valid:.0%} |"
        )
    lines += ["", f"always-large (1.5B answers): median {_median_ci(large, rng)} s"]
    for name in LAYOUTS:
        diff = [r[name]["answer_s"] + r[name]["verify_s"] - r["large_s"] for r in records]
        lines.append(
            f"kept query under {name} minus always-large, per question: median "
            f"{_median_ci(diff, rng)} s"
        )
    escalated_rng = np.random.default_rng(1)  # its own draws: the intervals above stay put
    for name in LAYOUTS:
        escalated = [r[name]["answer_s"] + r[name]["verify_s"] + r["large_s"] for r in records]
        lines.append(
            f"escalated query under {name} (answer + verify + large answer), per question: "
            f"median {_median_ci(escalated, escalated_rng)} s"
        )
    shared = [r["shared-verdict"] for r in records]
    new = [x["verify_in"] - x["answer_in"] for x in shared]
    lines.append(
        "shared-verdict: tokens beyond the answer call's prompt (what a prefix cache still "
        f"reads; the answer and the request): median {statistics.median(new):.0f} of "
        f"{statistics.median(x['verify_in'] for x in shared):.0f}"
    )
    return "\n".join(lines)


PAIRS = {
    "SQuAD 1.1, 400 rows": (
        "replay_local_qwen_squad11.jsonl",
        "replay_local_qwen_squad11_shared.jsonl",
    ),
    "SQuAD 2.0 + BoolQ mix, 305 rows": (
        "replay_local_qwen.jsonl",
        "replay_local_qwen_shared.jsonl",
    ),
}
"""Shipped replays that hold the same answers verified two ways: (paper layout, shared)."""


def paired_auroc(
    paper: np.ndarray, shared: np.ndarray, correct: np.ndarray, draws: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Verifier AUROC of each layout on the same rows, and shared - paper, bootstrapped
    over questions (one resample of the rows for both layouts, so the difference is paired).
    """
    from langchain_automix.calibration.metrics import auroc

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"paper": auroc(paper, correct), "shared": auroc(shared, correct)}
    stats: list[tuple[float, float]] = []
    for idx in rng.integers(0, correct.size, size=(draws, correct.size)):
        a, b = auroc(paper[idx], correct[idx]), auroc(shared[idx], correct[idx])
        if a is not None and b is not None:
            stats.append((a, b))
    arr = np.array(stats, float)
    for j, key in enumerate(("paper", "shared")):
        out[key + "_ci"] = [float(x) for x in np.percentile(arr[:, j], [2.5, 97.5])]
    diff = arr[:, 1] - arr[:, 0]
    out["diff"] = float(out["shared"] - out["paper"])
    out["diff_ci"] = [float(x) for x in np.percentile(diff, [2.5, 97.5])]
    return out


def routing(seeds: int = 10) -> str:
    """Verifier AUROC and test ΔIBC of each shipped replay pair that differs only in the
    verification layout (same answers): paper layout against shared layout."""
    import warnings

    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.evaluation import evaluate_policy, paired_interval
    from langchain_automix.meta_verifiers import POMDP, Calibrated, Threshold

    data = Path(__file__).resolve().parents[1] / "langchain_automix" / "data"
    fits = {
        "default Calibrated(POMDP), signal auto": lambda: Calibrated(POMDP()),
        "Calibrated(Threshold), signal auto": lambda: Calibrated(Threshold()),
        "Calibrated(POMDP), verifier only": lambda: Calibrated(POMDP(), signal="verifier"),
        "paper-fit POMDP (verifier)": POMDP,
    }
    rng = np.random.default_rng(0)
    lines: list[str] = []
    for title, (paper_file, shared_file) in PAIRS.items():
        replays = {
            "paper": ReplayDataset.from_jsonl(data / paper_file),
            "shared": ReplayDataset.from_jsonl(data / shared_file),
        }
        paper, shared = replays["paper"], replays["shared"]
        if [str(i) for i in paper.ids] != [str(i) for i in shared.ids]:
            raise ValueError(f"{paper_file} and {shared_file} do not hold the same rows in order")
        correct = paper.scores[:, 0] >= 0.5
        a = paired_auroc(paper.confidences[:, 0], shared.confidences[:, 0], correct)
        lines += [
            f"## {title}: {paper_file} (paper layout) vs {shared_file} (shared layout)",
            "",
            f"verifier AUROC for 'small answer correct' (F1 >= 0.5; {int(correct.sum())} of "
            f"{correct.size} correct), 2,000 paired bootstrap draws over questions:",
            f"  paper  {a['paper']:.3f} [{a['paper_ci'][0]:.3f}, {a['paper_ci'][1]:.3f}]",
            f"  shared {a['shared']:.3f} [{a['shared_ci'][0]:.3f}, {a['shared_ci'][1]:.3f}]",
            f"  shared - paper {a['diff']:+.3f} [{a['diff_ci'][0]:+.3f}, {a['diff_ci'][1]:+.3f}]",
            "",
            f"test ΔIBC %, {seeds} half/half splits (same seeds), costs 1/50; mean ± sd "
            "[95% interval of the mean]",
            "",
            "| fit | paper layout | shared layout | shared - paper (paired) |",
            "|---|---|---|---|",
        ]
        for label, make in fits.items():
            got: dict[str, np.ndarray] = {}
            for name, replay in replays.items():
                values = []
                for seed in range(seeds):
                    train, test = replay.split(replay.n_rows - replay.n_rows // 2, seed=seed)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = evaluate_policy(make().fit(train, costs=(1.0, 50.0)), test)
                    values.append(result.delta_ibc if result.delta_ibc is not None else np.nan)
                got[name] = np.array(values)
            cells = []
            for v in (got["paper"], got["shared"], got["shared"] - got["paper"]):
                lo, hi = paired_interval(v, 2000, rng)
                cells.append(f"{v.mean():+.1f} ± {v.std():.1f} [{lo:+.1f}, {hi:+.1f}]")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()


def main() -> None:
    """Run and write the table and the records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/bench_shared_prefix")
    parser.add_argument("--routing", action="store_true", help="offline: routing on the replays")
    parser.add_argument(
        "--fanout", action="store_true", help="k samples in one n = 8 request or as 8 requests"
    )
    parser.add_argument(
        "--summarize", action="store_true", help="rewrite the table from the saved records"
    )
    args = parser.parse_args()
    if args.summarize:
        saved = Path(args.out).with_suffix(".jsonl").read_text().splitlines()
        text = summarize([json.loads(line) for line in saved], args.k)
        old = Path(args.out).with_suffix(".txt").read_text().splitlines()
        total = [line for line in old if line.endswith(" s in all)")]
        print(text)
        Path(args.out).with_suffix(".txt").write_text("\n".join([text, *total]) + "\n")
        return
    if args.fanout:
        t0 = time.perf_counter()
        records = asyncio.run(fanout(args.n, args.seed))
        text = summarize_fanout(records) + f"\n({time.perf_counter() - t0:.0f} s in all)"
        write_results(args.out + "_fanout", text, records)
        return
    if args.routing:
        text = routing()
        print(text)
        Path(args.out + "_routing.txt").write_text(text + "\n")
        return
    t0 = time.perf_counter()
    records = asyncio.run(run(args.n, args.k, args.seed))
    text = summarize(records, args.k) + f"\n({time.perf_counter() - t0:.0f} s in all)"
    write_results(args.out, text, records)


if __name__ == "__main__":
    main()
