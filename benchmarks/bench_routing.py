"""Benchmark: does routing pay? Every signal and fit against automix-llm on the same splits.

Run from the repository root::

    python benchmarks/bench_routing.py --replay langchain_automix/data/replay_local_qwen.jsonl \\
        [--seeds 20] [--train-size 50] [--bootstrap 1000]

For each seed the replay rows are split in half (test half fixed by the seed); the
training rows are the other half, or ``--train-size`` rows drawn from it. On those
same rows it fits and tests:

* the paper's methods as the paper fits them (``raw``: maximise ΔIBC on the training
  rows, on the k-sample ``verifier`` confidence);
* the same methods through :class:`~langchain_automix.meta_verifiers.Calibrated`
  (``robust``: cross-validated fallback) on each routing signal in the rows;
* automix-llm 1.0.3's Threshold and POMDP (``num_bins=8``) on the same splits and the
  same signal (its ``p_ver_13b`` column gets the signal).

It prints test ΔIBC (mean ± std over seeds, and a 95% bootstrap interval of the
seed-averaged value for ours), the share sent to the large model, and the AUROC of
each signal; ΔIBC 0 is random mixing between always-small and always-large.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_meta_verifiers import frame

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import (
    _interval,
    evaluate_policy,
    paired_interval,
    verifier_report,
)
from langchain_automix.meta_verifiers import Calibrated, MetaVerifier, get_meta_verifier
from langchain_automix.signals import has_answer_probs

METHODS = ("threshold", "self_consistency", "pomdp")
LIBRARY = {"threshold": "Threshold", "pomdp": "POMDP"}


def library_delta_ibc(name: str, train: ReplayDataset, test: ReplayDataset) -> tuple[float, float]:
    """automix-llm's test ΔIBC (percent) and large-model share for one method."""
    import automix

    mixer = automix.Automix(getattr(automix, name)(num_bins=8), costs=[1, 50], verifier_cost=1)
    mixer.train(frame(train))
    res = mixer.evaluate(frame(test), return_dict=True, return_decisions=True)
    return float(res["ibc_lift"] * 100), float(np.mean(res["route_to_llm"]))


def main() -> None:
    """Print the routing table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replay", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument(
        "--signals", default=None, help="comma-separated (default: all, combined, free)"
    )
    ap.add_argument("--no-library", action="store_true", help="skip automix-llm")
    args = ap.parse_args()

    data = ReplayDataset.from_jsonl(args.replay)
    default = [*data.signal_names, "combined"]
    if has_answer_probs(data.signal_names):
        default.append("free")  # no verifier call: charged no verification
    signals = args.signals.split(",") if args.signals else default
    print(f"{args.replay}: {data.n_rows} rows; signals {list(data.signal_names)}")
    for rep in verifier_report(data):
        for name, s in rep.signals.items():
            ci = s["ci"]
            span = "" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]"
            print(f"  AUROC {name:<18} {s['auroc']:.3f}{span} ({s['n_rows']} rows)")
    train = (
        "the other half" if args.train_size is None else f"{args.train_size} rows of the other half"
    )
    print(f"test: half the rows (drawn per seed); train: {train}; seeds {args.seeds}\n")

    rows: dict[str, list[tuple[float, float, dict[str, np.ndarray]]]] = {}
    fallbacks: dict[str, int] = {}
    lib: dict[str, list[tuple[float, float]]] = {}
    started = time.perf_counter()
    for seed in range(args.seeds):
        pool, test = data.split(data.n_rows - data.n_rows // 2, seed=seed)
        train = pool if args.train_size is None else pool.sample(args.train_size, seed=seed)
        makers: dict[str, Callable[[], MetaVerifier]] = {}
        for m in METHODS:
            makers[f"{m} raw [verifier]"] = lambda m=m: get_meta_verifier(m)  # type: ignore[misc]
            for s in signals:
                makers[f"{m} robust [{s}]"] = lambda m=m, s=s: Calibrated(m, signal=s)  # type: ignore[misc]
        for label, make in makers.items():
            policy = make().fit(train)
            res = evaluate_policy(policy, test, bootstrap=args.bootstrap, bootstrap_seed=seed)
            rows.setdefault(label, []).append(
                (
                    float("nan") if res.delta_ibc is None else res.delta_ibc,
                    res.llm_call_share,
                    res.bootstrap,
                )
            )
            if isinstance(policy, Calibrated) and policy.fallback:
                fallbacks[label] = fallbacks.get(label, 0) + 1
        if args.no_library:
            continue
        for s in signals:
            if s in ("combined", "free"):
                continue
            tr = train.with_confidences(np.nan_to_num(train.signal(s), nan=0.0))
            te = test.with_confidences(np.nan_to_num(test.signal(s), nan=0.0))
            for m, lib_name in LIBRARY.items():
                lib.setdefault(f"automix-llm {m} [{s}]", []).append(
                    library_delta_ibc(lib_name, tr, te)
                )

    def line(label: str, vals: list[Any], ci: tuple[float | None, float | None]) -> str:
        d = np.array([v[0] for v in vals], float)
        share = np.mean([v[1] for v in vals])
        span = "" if ci[0] is None else f"[{ci[0]:+6.1f}, {ci[1]:+6.1f}]"
        fb = f"{fallbacks.get(label, 0)}/{len(vals)}" if "robust" in label else ""
        mean = f"{np.nanmean(d):+8.1f} ± {np.nanstd(d):5.1f}"
        return f"{label:<44}{mean}  {span:>17}  {share:6.0%}  {fb:>6}"

    print(
        f"{'method [signal]':<44}{'test ΔIBC %':>16}  {'95% CI':>17}  {'large':>6}  {'fallbk':>6}"
    )
    for label, vals in rows.items():
        print(line(label, vals, _interval([v[2]["delta_ibc"] for v in vals])))
    for label, vals in lib.items():
        print(line(label, vals, (None, None)))
    if lib:
        print_paired(rows, lib, signals, args.bootstrap)
    print(f"\n({time.perf_counter() - started:.0f} s)")


def print_paired(
    ours: dict[str, list[tuple[float, float, dict[str, np.ndarray]]]],
    lib: dict[str, list[tuple[float, float]]],
    signals: list[str],
    draws: int,
) -> None:
    """Our POMDP against automix-llm's on the same splits: per-seed differences.

    The two columns above are each noisy (ΔIBC on half the rows swings by tens of
    points between splits); on the same split both see the same test rows, so the
    per-seed difference is the fair comparison. Its 95% interval resamples the seeds.
    """
    pairs = [("pomdp raw [verifier]", "automix-llm pomdp [verifier]")]
    pairs += [(f"pomdp robust [{s}]", f"automix-llm pomdp [{s}]") for s in signals]
    pairs += [
        (f"pomdp robust [{s}]", "automix-llm pomdp [verifier]")
        for s in ("combined", "free")
        if s in signals
    ]
    print("\nPOMDP, ours - automix-llm's, same splits (per-seed difference of test ΔIBC %)")
    print(
        f"{'ours':<34}{'automix-llm':<38}{'mean diff':>16}  {'95% CI (seeds)':>17}  "
        f"{'ours >=':>7}  {'std ours/lib':>12}"
    )
    rng = np.random.default_rng(0)
    for mine, theirs in pairs:
        if mine not in ours or theirs not in lib:
            continue
        a = np.array([v[0] for v in ours[mine]], float)
        b = np.array([v[0] for v in lib[theirs]], float)
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        if a.size == 0:
            continue
        diff = a - b
        lo, hi = paired_interval(diff, draws, rng)
        ratio = np.std(a) / np.std(b) if np.std(b) > 0 else float("inf")
        print(
            f"{mine:<34}{theirs:<38}{diff.mean():+8.1f} ± {diff.std():5.1f}  "
            f"[{lo:+6.1f}, {hi:+6.1f}]  {int((diff >= 0).sum()):>3}/{diff.size:<3}  "
            f"{ratio:12.2f}"
        )


if __name__ == "__main__":
    main()
