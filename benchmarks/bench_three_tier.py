"""Benchmark: three models. The N-tier POMDP against chained AutoMix, union and every pair.

Run from the repository root::

    python benchmarks/bench_three_tier.py \\
        --replay langchain_automix/data/replay_local_three.jsonl [--seeds 10] [--costs 1,10,50]

For each seed the replay rows are split in half (train / test, fixed by the seed). On
the same splits it fits and tests:

* ``pomdp``: the N-tier POMDP (may skip the medium model);
* ``chained``: the paper's chained AutoMix, two-model POMDP per adjacent pair;
* ``chained_threshold``: the same with a threshold per pair;
* ``union``: :class:`AutomixUnion` (the best member on the training rows);
* ``threshold``: one threshold at every tier;
* every two-tier pair ``i->j`` (POMDP on those two columns alone), and automix-llm's
  POMDP (``num_bins=8``) on the same pair, where the library is installed.

ΔIBC of three-tier methods is against the upper hull of the always-tier-i points (the
paper's per-region reference); a pair's ΔIBC is against its own two models. Printed:
test ΔIBC mean ± std over seeds, the 95% bootstrap interval of the seed-averaged ΔIBC,
cost, quality, the share answered by each tier and the share that skipped a tier.

Then the same on synthetic replays (2,000 rows) where the medium model adds nothing,
or fixes 60% of the small model's misses: the POMDP must skip the useless one and beat
chained AutoMix there.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_meta_verifiers import frame

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.evaluation import _interval, evaluate_policy
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    Chained,
    MetaVerifier,
    Threshold,
)

METHODS: dict[str, Callable[[], MetaVerifier]] = {
    "pomdp": POMDP,
    "chained": lambda: Chained(POMDP()),
    "chained_threshold": lambda: Chained(Threshold()),
    "union": AutomixUnion,
    "threshold": Threshold,
}


def synthetic(n: int, *, medium_helps: bool, seed: int) -> ReplayDataset:
    """Small right 40%; the medium fixes 60% of its misses (or none); the large 85%."""
    rng = np.random.default_rng(seed)
    s0 = rng.random(n) < 0.4
    s1 = s0 | (rng.random(n) < 0.6) if medium_helps else s0.copy()
    s2 = s1 | (rng.random(n) < 0.85)
    c0 = np.clip(np.where(s0, 0.75, 0.3) + rng.normal(0, 0.15, n), 0, 1)
    c1 = np.clip(np.where(s1, 0.75, 0.3) + rng.normal(0, 0.15, n), 0, 1)
    return ReplayDataset.from_arrays(
        np.column_stack([s0, s1, s2]).astype(float),
        np.column_stack([np.round(c0 * 8) / 8, np.round(c1 * 8) / 8]),
    )


def library_pair(train: ReplayDataset, test: ReplayDataset, costs: tuple[float, float]) -> float:
    """automix-llm's POMDP test ΔIBC (percent) on a two-tier pair (same frames as
    bench_meta_verifiers)."""
    import automix

    mixer = automix.Automix(automix.POMDP(num_bins=8), costs=list(costs), verifier_cost=costs[0])
    mixer.train(frame(train))
    res = mixer.evaluate(frame(test), return_dict=True)
    return float(res["ibc_lift"] * 100)


def run(
    data: ReplayDataset, seeds: int, costs: tuple[float, ...], bootstrap: int, pairs: bool
) -> list[str]:
    rows: dict[str, list[Any]] = {}
    lib: dict[str, list[float]] = {}
    for seed in range(seeds):
        train, test = data.split(data.n_rows // 2, seed=seed)
        for name, make in METHODS.items():
            res = evaluate_policy(
                make().fit(train, costs=costs),
                test,
                costs=costs,
                name=name,
                bootstrap=bootstrap,
                bootstrap_seed=seed,
            )
            rows.setdefault(name, []).append(res)
        if not pairs:
            continue
        for i in range(data.n_tiers):
            for j in range(i + 1, data.n_tiers):
                sub_tr, sub_te = train.select_tiers([i, j]), test.select_tiers([i, j])
                pc = (costs[i], costs[j])
                name = f"pair {i}->{j}"
                res = evaluate_policy(
                    POMDP().fit(sub_tr, costs=pc),
                    sub_te,
                    costs=pc,
                    name=name,
                    bootstrap=bootstrap,
                    bootstrap_seed=seed,
                )
                rows.setdefault(name, []).append(res)
                try:
                    lib.setdefault(name, []).append(library_pair(sub_tr, sub_te, pc))
                except ImportError:
                    pass
    out = [
        f"{'method':<20} {'test ΔIBC %':>16} {'95% CI':>18} {'cost':>7} {'quality':>8} "
        f"{'answered by tier %':>20} {'skip %':>7}"
    ]
    for name, runs in rows.items():
        d = np.array([np.nan if r.delta_ibc is None else r.delta_ibc for r in runs])
        lo, hi = _interval([r.bootstrap.get("delta_ibc") for r in runs])
        ci = "-" if lo is None else f"[{lo:.1f}, {hi:.1f}]"
        shares = np.mean([r.tier_shares for r in runs], axis=0)
        out.append(
            f"{name:<20} {np.nanmean(d):>8.1f} ± {np.nanstd(d):<5.1f} {ci:>18} "
            f"{np.mean([r.avg_cost for r in runs]):>7.2f} "
            f"{np.mean([r.avg_performance for r in runs]):>8.3f} "
            f"{'/'.join(f'{100 * v:.0f}' for v in shares):>20} "
            f"{100 * np.mean([r.skip_share for r in runs]):>7.0f}"
        )
        if name in lib:
            v = np.array(lib[name])
            out.append(f"{'  automix-llm POMDP':<20} {v.mean():>8.1f} ± {v.std():<5.1f}")
    perf = data.scores.mean(axis=0)
    out.append(
        "always tier i: quality "
        + ", ".join(f"{p:.3f} (cost {c:g})" for p, c in zip(perf, costs, strict=True))
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replay", default="langchain_automix/data/replay_local_three.jsonl")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--costs", default="1,10,50")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--synthetic-seeds", type=int, default=10)
    args = parser.parse_args()
    costs = tuple(float(c) for c in args.costs.split(","))
    start = time.perf_counter()
    data = ReplayDataset.from_jsonl(args.replay)
    print(f"# {args.replay}: {data.n_rows} rows, tiers {data.models}, costs {costs}")
    print(f"# {args.seeds} seeds, half/half splits, bootstrap {args.bootstrap}")
    for line in run(data, args.seeds, costs, args.bootstrap, pairs=True):
        print(line)
    for helps in (False, True):
        label = "helps" if helps else "adds nothing"
        print(f"\n# synthetic, medium model {label}: 2000 rows, costs {costs}")
        pomdp, chained = [], []
        for seed in range(args.synthetic_seeds):
            train = synthetic(1000, medium_helps=helps, seed=seed)
            test = synthetic(1000, medium_helps=helps, seed=1000 + seed)
            p = evaluate_policy(POMDP().fit(train, costs=costs), test, costs=costs)
            c = evaluate_policy(Chained(POMDP()).fit(train, costs=costs), test, costs=costs)
            pomdp.append((p.delta_ibc, p.skip_share, p.tier_shares[1]))
            chained.append((c.delta_ibc, c.skip_share, c.tier_shares[1]))
        for name, vals in (("pomdp", pomdp), ("chained", chained)):
            a = np.array(vals, dtype=float)
            print(
                f"{name:<10} test ΔIBC {a[:, 0].mean():6.1f} ± {a[:, 0].std():4.1f}  "
                f"skip {100 * a[:, 1].mean():3.0f}%  answered by the medium "
                f"{100 * a[:, 2].mean():3.0f}%"
            )
        diff = np.array(pomdp)[:, 0] - np.array(chained)[:, 0]
        print(f"pomdp - chained: {diff.mean():.1f} ± {diff.std():.1f} over seeds")
    print(f"\n# {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
