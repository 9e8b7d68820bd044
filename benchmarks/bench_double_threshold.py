"""Benchmark: DoubleThreshold's band convention (half-open or inclusive), fitted the paper's way.

Run from the repository root::

    python benchmarks/bench_double_threshold.py [--seeds 30] [--no-library]

On every two-tier cell of ``bench_default_fit.py`` (the synthetic grid: verifier
strength x training rows, 4,000 test rows per seed; each shipped two-tier real replay,
half/half splits; costs 1/50) it fits ``DoubleThreshold`` by ΔIBC on the training rows,
as the paper's library does, under two conventions:

* half-open ``[low, high)`` (``inclusive=False``, the default before 2026-12-07): a
  band may hold one confidence value alone;
* inclusive ``[low, high]`` (``inclusive=True``, today's default and the library's): every
  band spans at least two candidate values;

plus the inclusive band on the library's candidate grid ``i / 8`` (``grid=8``),
``AutomixUnion()`` (whose members include the default ``DoubleThreshold``) and
automix-llm 1.0.3's ``DoubleThreshold(num_bins=8)`` on the same splits. It prints each
fit's mean test ΔIBC with a 95% interval over seeds and the paired difference inclusive
minus half-open (benchmarks/results/bench_double_threshold.txt).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from _results import write_results
from bench_default_fit import cells, library_delta_ibc

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import evaluate_policy, paired_interval
from langchain_automix.meta_verifiers import AutomixUnion, DoubleThreshold, MetaVerifier

FITS: dict[str, Callable[[], MetaVerifier]] = {
    "half-open [low, high)": lambda: DoubleThreshold(inclusive=False),
    "inclusive [low, high] (default)": DoubleThreshold,
    "inclusive, grid 8": lambda: DoubleThreshold(grid=8),
    "AutomixUnion()": AutomixUnion,
}


def fit_delta_ibc(
    make: Callable[[], MetaVerifier], train: ReplayDataset, test: ReplayDataset
) -> float:
    """Test ΔIBC (percent) of a policy fitted by ΔIBC on the training rows, costs 1/50."""
    return evaluate_policy(make().fit(train, costs=(1.0, 50.0)), test, costs=(1.0, 50.0)).delta_ibc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--no-library", action="store_true", help="skip automix-llm")
    ap.add_argument("--out", default="benchmarks/results/bench_double_threshold.txt")
    args = ap.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    lines = [
        f"# python benchmarks/bench_double_threshold.py --seeds {args.seeds}: DoubleThreshold "
        "fitted by training ΔIBC (the paper's way), test ΔIBC %, costs 1/50",
    ]
    records = []
    wins = 0
    n_cells = 0
    for cell, costs, splits in cells(args.seeds, None):
        if len(costs) != 2:
            continue
        results: dict[str, list[float]] = {k: [] for k in FITS}
        if not args.no_library:
            results["automix-llm DoubleThreshold"] = []
        for train, test in splits:
            for label, make in FITS.items():
                results[label].append(fit_delta_ibc(make, train, test))
            if not args.no_library:
                results["automix-llm DoubleThreshold"].append(
                    library_delta_ibc("DoubleThreshold", train, test)
                )
        lines.append(f"\n## {cell} ({len(splits)} seeds)")
        for label, vals in results.items():
            v = np.asarray(vals, float)
            lo, hi = paired_interval(v, 2000, rng)
            lines.append(f"{label:<34}{v.mean():+8.1f}  [{lo:+7.1f}, {hi:+7.1f}]")
            records.append({"cell": cell, "fit": label, "delta_ibc": vals})
        diff = np.asarray(results["inclusive [low, high] (default)"]) - np.asarray(
            results["half-open [low, high)"]
        )
        lo, hi = paired_interval(diff, 2000, rng)
        lines.append(
            f"{'inclusive - half-open, paired':<34}{diff.mean():+8.1f}  [{lo:+7.1f}, {hi:+7.1f}]"
        )
        n_cells += 1
        wins += int(diff.mean() > 0)
        print(f"{cell} done ({time.perf_counter() - started:.0f} s)", flush=True)
    took = time.perf_counter() - started
    lines.append(f"\ninclusive ahead on {wins} of {n_cells} cells ({took:.0f} s)")
    write_results(args.out, "\n".join(lines), records)


if __name__ == "__main__":
    main()
