"""Benchmark: the drift alarm's false alarms on unchanged traffic and its detection of shifts.

Run from the repository root::

    python benchmarks/bench_drift.py [--windows 400] [--streams 100] \\
        [--out benchmarks/results/bench_drift]

Each *reference* is a shipped replay: every window draws a fresh random half of its rows
(seeded by the window's number) and builds the :class:`SignalReference` of the small
tier's signals on it, as a fit on those rows would record it. Then

* **same distribution**: the window's live values are drawn from the other half of the
  same replay (without replacement; with replacement, a bootstrap, where the window is
  larger than that half, which adds variance and so overstates the false alarms);
* **shifted traffic**: drawn from another replay's small tier, never a question of the
  training half (a replay of the same questions is thus restricted to the held-out
  half; the drawing is as above): another small model
  (SmolLM2-135M, ``replay_local_three.jsonl`` tier 0), another verification mode
  (completion instead of chat, ``replay_local_qwen_squad11_completion.jsonl``: the same
  answers, only the verifier differs), other questions (SQuAD 1.1 against the SQuAD 2.0
  + BoolQ mix, same models).

A :class:`DriftMonitor` (its default threshold: the critical value at ``alpha`` over
the keys) judges each full window once. Two sets of keys: ``verifier`` (what the
paper's policies read) and ``all`` (the six small-tier signals a ``combined`` policy
reads; Bonferroni over them). A question set change (SQuAD 1.1 against the mix) moves
the answer signals but not the verifier's distribution (see the distance table): with
the ``verifier`` keys it is not a shift to detect. Printed: the share of windows that
raised the alarm with a 95% Wilson interval, per method (ks, psi), window size and
alpha; the distance between the full replays per signal (KS D, PSI); the share of long
streams of unchanged traffic that ever raised the alarm, the detection delay after a
switch; and the cost of one ``observe``. ``--out`` writes ``<out>.txt`` and ``<out>.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from langchain_automix.calibration.drift import (
    DriftMonitor,
    SignalReference,
    ks_two_sample,
    population_stability_index,
    psi_edges,
)
from langchain_automix.calibration.replay import ReplayDataset

DATA = Path("langchain_automix/data")
ALL = (
    "verifier",
    "answer_min_prob",
    "answer_mean_prob",
    "answer_first_prob",
    "answer_abstains",
    "answer_yes_no",
)
KEYSETS = {"verifier": ("verifier",), "all": ALL}


@dataclass(frozen=True)
class Traffic:
    name: str
    file: str
    tier: int = 0


REFERENCES = {
    "squad1.1 chat (400 rows)": (
        Traffic("squad1.1 chat", "replay_local_qwen_squad11.jsonl"),
        [
            Traffic("completion verifier", "replay_local_qwen_squad11_completion.jsonl"),
            Traffic("mix questions", "replay_local_qwen.jsonl"),
            Traffic("SmolLM2 small", "replay_local_three.jsonl", 0),
        ],
    ),
    "mix chat (305 rows)": (
        Traffic("mix chat", "replay_local_qwen.jsonl"),
        [
            Traffic("SmolLM2 small", "replay_local_three.jsonl", 0),
            Traffic("squad1.1 questions", "replay_local_qwen_squad11.jsonl"),
            Traffic("squad1.1 completion", "replay_local_qwen_squad11_completion.jsonl"),
        ],
    ),
}


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


_CACHE: dict[str, ReplayDataset] = {}


def load(file: str) -> ReplayDataset:
    if file not in _CACHE:
        _CACHE[file] = ReplayDataset.from_jsonl(DATA / file)
    return _CACHE[file]


def rows_of(traffic: Traffic, keys: tuple[str, ...], exclude: set[Any]) -> list[dict]:
    """The tier's signals of each row whose id is not in ``exclude``, NaN left out."""
    data = load(traffic.file)
    cols = {s: data.signal(s)[:, traffic.tier] for s in keys}
    out = []
    for i, qid in enumerate(data.ids.tolist()):
        if qid in exclude:
            continue
        out.append({s: float(c[i]) for s, c in cols.items() if np.isfinite(c[i])})
    return out


def split(ref: Traffic, seed: int) -> tuple[ReplayDataset, set[Any]]:
    """A random half of the reference replay, and the ids of those rows."""
    train, _ = load(ref.file).split(0.5, seed=seed)
    return train, set(train.ids.tolist())


def draw(pool: list[dict], size: int, rng: np.random.Generator) -> tuple[list[dict], bool]:
    boot = size > len(pool)
    idx = rng.choice(len(pool), size=size, replace=boot)
    return [pool[i] for i in idx], boot


def verdict(reference: SignalReference, window: list[dict], method: str, alpha: float) -> bool:
    """The monitor's verdict once its window is full (evaluated once: min_samples=window)."""
    w = len(window)
    monitor = DriftMonitor(
        reference,
        window=w,
        method=method,  # type: ignore[arg-type]
        alpha=alpha,
        min_samples=w,
        log=_QUIET,
    )
    for row in window:
        monitor.observe(0, row)
    return bool(monitor.status()["drifted"])


_QUIET = logging.getLogger("bench_drift.quiet")
_QUIET.disabled = True


def windows_table(args: argparse.Namespace, results: list[dict]) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    alphas = [float(a) for a in args.alphas.split(",")]
    methods = args.methods.split(",")
    for ref_name, (ref, shifts) in REFERENCES.items():
        for keyset, keys in KEYSETS.items():
            traffics = [(ref.name + " (same)", ref, True), *[(s.name, s, False) for s in shifts]]
            hits: dict[tuple[str, str, float, int], int] = {}
            boots: dict[tuple[str, str, float, int], int] = {}
            for i in range(args.windows):
                train, seen = split(ref, seed=i)
                reference = SignalReference.from_replay(train, keys)
                for label, traffic, _ in traffics:
                    pool = rows_of(traffic, keys, seen)
                    for size in sizes:
                        rng = np.random.default_rng([i, size])
                        window, boot = draw(pool, size, rng)
                        for method in methods:
                            for alpha in alphas:
                                cell = (label, method, alpha, size)
                                boots[cell] = boots.get(cell, 0) + boot
                                hits[cell] = hits.get(cell, 0) + verdict(
                                    reference, window, method, alpha
                                )
            print(f"\n## reference {ref_name}, half the rows; keys: {keyset} ({len(keys)})")
            print(
                f"{'traffic':<22}{'method':>6}{'alpha':>7}{'window':>7}"
                f"{'alarms':>10}{'rate':>8}  95% Wilson"
            )
            for label, _, same in traffics:
                for method in methods:
                    for alpha in alphas:
                        for size in sizes:
                            cell = (label, method, alpha, size)
                            k = hits[cell]
                            lo, hi = wilson(k, args.windows)
                            rate = k / args.windows
                            note = " (bootstrap)" if boots[cell] else ""
                            print(
                                f"{label:<22}{method:>6}{alpha:>7g}{size:>7}"
                                f"{k:>5}/{args.windows:<4}{rate:>8.1%}  "
                                f"[{lo:.1%}, {hi:.1%}]{note}"
                            )
                            results.append(
                                {
                                    "kind": "windows",
                                    "reference": ref_name,
                                    "keys": keyset,
                                    "traffic": label,
                                    "same_distribution": same,
                                    "method": method,
                                    "alpha": alpha,
                                    "window": size,
                                    "windows": args.windows,
                                    "alarms": k,
                                    "rate": rate,
                                    "wilson95": [lo, hi],
                                    "bootstrap": bool(boots[cell]),
                                }
                            )
            sys.stdout.flush()


def distances(results: list[dict]) -> None:
    print("\n## distance between the full replays (small tier), per signal")
    print(f"{'reference':<22}{'traffic':<22}{'signal':<19}{'mean':>13}{'KS D':>7}{'PSI':>7}")
    for ref_name, (ref, shifts) in REFERENCES.items():
        for traffic in shifts:
            a, b = load(ref.file), load(traffic.file)
            for s in ALL:
                x = a.signal(s)[:, ref.tier]
                y = b.signal(s)[:, traffic.tier]
                x, y = x[np.isfinite(x)], y[np.isfinite(y)]
                edges = psi_edges(x)
                count = lambda v, e=edges: np.bincount(  # noqa: E731
                    np.searchsorted(e, v, side="left"), minlength=e.size + 1
                )
                d = ks_two_sample(x, y).statistic
                psi = population_stability_index(count(x), count(y))
                means = f"{x.mean():.3f}>{y.mean():.3f}"
                print(f"{ref.name:<22}{traffic.name:<22}{s:<19}{means:>13}{d:>7.3f}{psi:>7.3f}")
                results.append(
                    {
                        "kind": "distance",
                        "reference": ref_name,
                        "traffic": traffic.name,
                        "signal": s,
                        "mean_reference": float(x.mean()),
                        "mean_traffic": float(y.mean()),
                        "ks_d": d,
                        "psi": psi,
                    }
                )


def streams(args: argparse.Namespace, results: list[dict]) -> None:
    """Long runs through one default monitor: ever alarmed, and delay after a switch.

    A replay has too few rows for a long stream of fresh traffic, and resampling the
    held-out half would repeat its chance deviation from the training half in every
    window. So the replay's rows are taken as the population: the reference is a fit on
    half as many rows drawn from it (with replacement), the stream further draws from it,
    i.i.d. like real traffic from an unchanged source.
    """
    ref_name = next(iter(REFERENCES))
    ref, shifts = REFERENCES[ref_name]
    print(
        f"\n## streams through one default monitor (population: the rows of {ref_name}; "
        f"reference: {load(ref.file).n_rows // 2} draws; window {args.stream_window}; "
        f"{args.streams} streams each)"
    )
    data = load(ref.file)
    for keyset, keys in KEYSETS.items():
        population = rows_of(ref, keys, set())
        pools = {s.name: rows_of(s, keys, set()) for s in shifts}
        for method in args.methods.split(","):
            ever = 0
            alarmed_share = []
            delays: dict[str, list[int]] = {s.name: [] for s in shifts}
            for i in range(args.streams):
                rng = np.random.default_rng(20_000 + i)
                train = data.subset(rng.integers(0, data.n_rows, data.n_rows // 2))
                reference = SignalReference.from_replay(train, keys)
                monitor = DriftMonitor(
                    reference,
                    window=args.stream_window,
                    method=method,  # type: ignore[arg-type]
                    log=_QUIET,
                )
                flags = []
                for j in rng.integers(0, len(population), args.stream_length):
                    monitor.observe(0, population[j])
                    flags.append(monitor.status()["drifted"])
                ever += any(flags)
                alarmed_share.append(float(np.mean(flags)))
                for shift in shifts:
                    pool = pools[shift.name]
                    m = DriftMonitor(
                        reference,
                        window=args.stream_window,
                        method=method,  # type: ignore[arg-type]
                        log=_QUIET,
                    )
                    for j in rng.integers(0, len(population), args.stream_window):
                        m.observe(0, population[j])
                    delay = -1
                    for step, j in enumerate(rng.integers(0, len(pool), 3 * args.stream_window)):
                        m.observe(0, pool[j])
                        if m.status()["drifted"]:
                            delay = step + 1
                            break
                    delays[shift.name].append(delay)
            lo, hi = wilson(ever, args.streams)
            print(
                f"keys {keyset:<9}{method:>4}: unchanged traffic, {args.stream_length} "
                f"observations: {ever}/{args.streams} streams ever alarmed "
                f"[{lo:.0%}, {hi:.0%}], alarm on {np.mean(alarmed_share):.2%} of observations"
            )
            entry: dict[str, Any] = {
                "kind": "stream",
                "reference": ref_name,
                "keys": keyset,
                "method": method,
                "window": args.stream_window,
                "length": args.stream_length,
                "streams": args.streams,
                "ever_alarmed": ever,
                "ever_wilson95": [lo, hi],
                "alarmed_share": float(np.mean(alarmed_share)),
                "delays": {},
            }
            for name, ds in delays.items():
                found = [d for d in ds if d > 0]
                q = np.percentile(found, [50, 90]) if found else [math.nan, math.nan]
                print(
                    f"    switch to {name:<22} detected in {len(found)}/{len(ds)} streams, "
                    f"after {q[0]:.0f} (median), {q[1]:.0f} (90%) observations"
                )
                entry["delays"][name] = {
                    "detected": len(found),
                    "median": float(q[0]) if found else None,
                    "p90": float(q[1]) if found else None,
                }
            results.append(entry)
            sys.stdout.flush()


def overhead(results: list[dict]) -> None:
    ref, _ = next(iter(REFERENCES.values()))
    train, seen = split(ref, seed=0)
    print("\n## cost of one observe (full window, every key re-judged)")
    for keyset, keys in KEYSETS.items():
        pool = rows_of(ref, keys, seen)
        for method in ("ks", "psi"):
            monitor = DriftMonitor(
                SignalReference.from_replay(train, keys),
                method=method,  # type: ignore[arg-type]
                log=_QUIET,
            )
            for row in pool:
                monitor.observe(0, row)
            n = 2000
            start = time.perf_counter()
            for i in range(n):
                monitor.observe(0, pool[i % len(pool)])
            us = (time.perf_counter() - start) / n * 1e6
            print(f"keys {keyset:<9}{method:>4}: {us:.0f} us per observe ({len(keys)} keys)")
            results.append(
                {"kind": "overhead", "keys": keyset, "method": method, "us_per_observe": us}
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=400, help="windows per cell")
    ap.add_argument("--sizes", default="50,100,200")
    ap.add_argument("--alphas", default="0.01,0.05")
    ap.add_argument("--methods", default="ks,psi")
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--stream-length", type=int, default=1000)
    ap.add_argument("--stream-window", type=int, default=200)
    ap.add_argument("--out", default=None, help="write <out>.txt and <out>.json")
    args = ap.parse_args()
    results: list[dict] = []
    buffer = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            buffer.write(s)
            return len(s)

        def flush(self) -> None:
            sys.__stdout__.flush()

    started = time.perf_counter()
    with redirect_stdout(Tee()):
        print(f"# bench_drift: {' '.join(sys.argv[1:]) or '(defaults)'}")
        distances(results)
        windows_table(args, results)
        if args.streams:
            streams(args, results)
        overhead(results)
        print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.out:
        Path(f"{args.out}.txt").write_text(buffer.getvalue(), encoding="utf-8")
        Path(f"{args.out}.json").write_text(
            json.dumps({"args": vars(args), "results": results}, indent=1) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
