"""Benchmark: langchain-automix meta-verifiers vs automix-llm 1.0.3 on synthetic replay data.

Run from the repository root::

    python benchmarks/bench_meta_verifiers.py [--rows 20000] [--library-rows N]

Both libraries fit on the same training rows and are evaluated on the same test rows
(``--rows`` each; easy / needs-large / hopeless queries, k = 8 verifier samples).
automix-llm's evaluation is row by row; ``--library-rows`` times it on a subset and
extrapolates linearly (clearly labelled) when the full size would take too long.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import evaluate_policy
from langchain_automix.meta_verifiers import (
    POMDP,
    DoubleThreshold,
    GreedyPOMDP,
    MetaVerifier,
    Observation,
    SelfConsistency,
    Threshold,
)

BINS = 8


def frame(data: ReplayDataset) -> Any:
    import pandas as pd

    df = pd.DataFrame(
        {
            "llama13b_f1": data.scores[:, 0],
            "llama70b_f1": data.scores[:, 1],
            "p_ver_13b": data.confidences[:, 0],
        }
    )
    # categories used by automix-llm's POMDP heuristic (as in the paper's scripts)
    s, l_ = df["llama13b_f1"], df["llama70b_f1"]
    cat = np.full(len(df), "UNDEFINED", dtype=object)
    hopeless = (s <= s.quantile(0.1)) & (l_ <= l_.quantile(0.1))
    cat[hopeless.to_numpy()] = "HOPELESS"
    cat[((s == l_) & (s != 0)).to_numpy()] = "GOOD"
    cat[(s < l_).to_numpy()] = "NEEDY"
    df["category"] = cat
    return df


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_library(make: Callable[[], Any], train: Any, test: Any) -> dict[str, float]:
    import automix

    mixer = automix.Automix(make(), costs=[1, 50], verifier_cost=1)
    t_fit, _ = timed(lambda: mixer.train(train))
    t_eval, res = timed(lambda: mixer.evaluate(test, return_dict=True))
    return {
        "fit": t_fit,
        "eval": t_eval,
        "delta_ibc": res["ibc_lift"] * 100,
        "avg_cost": res["avg_cost"],
        "n_eval": len(test),
    }


def run_ours(
    make: Callable[[], MetaVerifier], train: ReplayDataset, test: ReplayDataset
) -> tuple[dict[str, float], MetaVerifier]:
    policy = make()
    t_fit, _ = timed(lambda: policy.fit(train))
    t_eval, res = timed(lambda: evaluate_policy(policy, test))
    return {
        "fit": t_fit,
        "eval": t_eval,
        "delta_ibc": float("nan") if res.delta_ibc is None else res.delta_ibc,
        "avg_cost": res.avg_cost,
    }, policy


def live_decide_us(policy: MetaVerifier, n_batches: int = 200, per_batch: int = 1000) -> float:
    rng = np.random.default_rng(0)
    obs = [Observation(0, 2, float(c), 8, 8) for c in rng.integers(0, 9, per_batch) / 8]
    decide = policy.decide
    times = []
    for _ in range(n_batches):
        t = time.perf_counter_ns()
        for o in obs:
            decide(o)
        times.append((time.perf_counter_ns() - t) / per_batch / 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--library-rows",
        type=int,
        default=None,
        help="evaluate automix-llm on this many test rows and extrapolate",
    )
    parser.add_argument("--skip-library", action="store_true")
    args = parser.parse_args()

    train = synthetic_replay(args.rows, seed=1)
    test = synthetic_replay(args.rows, seed=2)
    print(f"train rows {train.n_rows}, test rows {test.n_rows}, k = 8, costs 1/50, verify 1")

    import automix

    methods: list[tuple[str, Callable[[], MetaVerifier], Callable[[], Any]]] = [
        (
            "Threshold",
            lambda: Threshold(inclusive=True, grid=BINS),
            lambda: automix.Threshold(num_bins=BINS),
        ),
        ("SelfConsistency", SelfConsistency, lambda: automix.SelfConsistency(num_bins=BINS)),
        ("DoubleThreshold", DoubleThreshold, lambda: automix.DoubleThreshold(num_bins=BINS)),
        ("GreedyPOMDP", GreedyPOMDP, lambda: automix.GreedyPOMDP(num_bins=BINS)),
        ("POMDP", POMDP, lambda: automix.POMDP(num_bins=BINS)),
    ]
    df_train = frame(train)
    test_lib = test if args.library_rows is None else test.subset(np.arange(args.library_rows))
    df_test = frame(test_lib)
    header = (
        f"{'method':16} {'ours fit+eval s':>15} {'lib fit s':>10} {'lib eval s':>11} "
        f"{'lib total s':>12} {'speed-up':>9} {'ours ΔIBC':>10} {'lib ΔIBC':>9}"
    )
    print(header)
    print("-" * len(header))
    pomdp_policy: MetaVerifier | None = None
    for name, ours_make, lib_make in methods:
        ours, policy = run_ours(ours_make, train, test)
        if name == "POMDP":
            pomdp_policy = policy
        ours_total = ours["fit"] + ours["eval"]
        if args.skip_library:
            print(
                f"{name:16} {ours_total:15.4f} {'-':>10} {'-':>11} {'-':>12} {'-':>9} "
                f"{ours['delta_ibc']:10.2f} {'-':>9}"
            )
            continue
        lib = run_library(lib_make, df_train, df_test)
        scale = test.n_rows / lib["n_eval"]
        lib_total = lib["fit"] + lib["eval"] * scale
        note = (
            "" if scale == 1 else f"  (lib eval on {lib['n_eval']} rows, x{scale:g} extrapolated)"
        )
        print(
            f"{name:16} {ours_total:15.4f} {lib['fit']:10.3f} {lib['eval'] * scale:11.3f} "
            f"{lib_total:12.3f} {lib_total / ours_total:8.0f}x {ours['delta_ibc']:10.2f} "
            f"{lib['delta_ibc']:9.2f}{note}"
        )
    assert pomdp_policy is not None
    print(
        f"POMDP live decide: median {live_decide_us(pomdp_policy):.3f} µs per call "
        f"(200 batches x 1000 calls)"
    )


if __name__ == "__main__":
    main()
