"""Benchmark: the default fit against automix-llm, on a synthetic grid and every real replay.

Run from the repository root::

    python benchmarks/bench_default_fit.py [--seeds 10] [--first-seed 0]
        [--risks strict,balanced,off]
        [--oracle]
        [--json benchmarks/results/bench_default_fit.jsonl]

Each *cell* is a way to draw training and test rows, repeated over seeds:

* ``synthetic s=<strength> n=<rows>``: ``n`` training rows and 4,000 test rows of
  :func:`~langchain_automix.calibration.synthetic.synthetic_replay` with that verifier
  strength (0.15, 0.3, 0.55: verifier AUROC about 0.61, 0.71 and 0.84), a fresh draw
  per seed;
* every shipped real replay: half the rows train, the other half test (the split drawn
  by the seed), costs 1/50 (three tiers: 1/10/50).

On the same rows it fits our default (``Calibrated(POMDP())``: signal ``auto``,
``check="agree"``, at each ``--risks`` setting), the same with ``check="held_out"`` (the
cross-validated share and fallback alone, the default before) and with ``check="model"``
(share and fallback decided under a smoothed model of the gain per signal level alone),
the default ``Calibrated(Threshold())``, the paper's fit
``POMDP().fit`` (ΔIBC maximised on
the training rows, verifier confidence), and automix-llm 1.0.3's Threshold,
DoubleThreshold and POMDP (``num_bins=8``, verifier confidence; two tiers only). It
prints the mean test ΔIBC ± sd over seeds with a 95% interval of the mean (resampling
the seeds), how often a fit fell back, and the per-seed difference of each default to
automix-llm's best method in that cell (the best by mean, chosen after the fact, so the
comparison favours the library).

``--oracle`` prints, per two-tier cell and candidate share, the cross-validated gain
the default chooses by (mean and lower 5% bound) beside the test ΔIBC of that share
refitted on all training rows: where the two disagree, the choice, not the candidates,
costs the gain (benchmarks/results/bench_default_fit_oracle.txt).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from bench_meta_verifiers import frame

from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import evaluate_policy, paired_interval
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    Calibrated,
    MetaVerifier,
    Threshold,
)
from langchain_automix.meta_verifiers.calibrated import CV_SHARES

DATA = Path("langchain_automix/data")
REPLAYS = {
    "mix 305 (chat verifier)": ("replay_local_qwen.jsonl", (1.0, 50.0)),
    "squad1.1 400 (chat verifier)": ("replay_local_qwen_squad11.jsonl", (1.0, 50.0)),
    "squad1.1 400 (completion verifier)": (
        "replay_local_qwen_squad11_completion.jsonl",
        (1.0, 50.0),
    ),
    "mix 305 (shared-prefix verifier)": ("replay_local_qwen_shared.jsonl", (1.0, 50.0)),
    "squad1.1 400 (shared-prefix verifier)": (
        "replay_local_qwen_squad11_shared.jsonl",
        (1.0, 50.0),
    ),
    "three tiers 305": ("replay_local_three.jsonl", (1.0, 10.0, 50.0)),
}
STRENGTHS = (0.15, 0.3, 0.55)
TRAIN_SIZES = (50, 100, 200)
LIBRARY = ("Threshold", "DoubleThreshold", "POMDP")


def library_delta_ibc(name: str, train: ReplayDataset, test: ReplayDataset) -> float:
    """automix-llm's test ΔIBC (percent) of one method, on the verifier confidence."""
    import automix

    mixer = automix.Automix(getattr(automix, name)(num_bins=8), costs=[1, 50], verifier_cost=1)
    mixer.train(frame(train))
    return float(mixer.evaluate(frame(test), return_dict=True)["ibc_lift"] * 100)


DEFAULT, HELD, MODEL, PAPER = (
    "default POMDP [balanced]",
    "held-out check POMDP [balanced]",
    "model-check POMDP [balanced]",
    "paper-fit POMDP",
)
MAIN = (DEFAULT, HELD, MODEL, "default POMDP [strict]", PAPER)
"""The fits of the summary table."""


def _mean_ci(v: np.ndarray, rng: np.random.Generator) -> str:
    v = v[np.isfinite(v)]
    lo, hi = paired_interval(v, 2000, rng)
    return f"{v.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]"


def summary_row(
    cell: str,
    results: dict[str, list[float]],
    fallbacks: dict[str, int],
    lib: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, str]:
    """One line of the summary: each main fit's mean [95% CI], the library's best, the gap."""
    row = {"cell": cell}
    if DEFAULT in results and HELD in results:
        diff = np.array(results[DEFAULT], float) - np.array(results[HELD], float)
        row["default - held-out check"] = _mean_ci(diff, rng)
    for label in MAIN:
        if label in results:
            v = np.array(results[label], float)
            fb = (
                f" ({fallbacks.get(label, 0)}/{v.size} fb)"
                if label.startswith(("default", "model-check", "held-out"))
                else ""
            )
            row[label] = _mean_ci(v, rng) + fb
    if lib:
        best = max(lib, key=lambda k: float(np.nanmean(lib[k])))
        row["automix-llm best"] = f"{best.split()[-1]} {_mean_ci(lib[best], rng)}"
        if DEFAULT in results:
            row["default - best"] = _mean_ci(np.array(results[DEFAULT], float) - lib[best], rng)
        if "automix-llm POMDP" in lib and PAPER in results:
            diff = np.array(results[PAPER], float) - lib["automix-llm POMDP"]
            row["paper POMDP - lib POMDP"] = _mean_ci(diff, rng)
    return row


def markdown(rows: list[dict[str, str]]) -> str:
    """The summary as a Markdown table (test ΔIBC %, mean [95% interval over seeds])."""
    cols = [
        "cell",
        *MAIN,
        "automix-llm best",
        "default - best",
        "default - held-out check",
        "paper POMDP - lib POMDP",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r.get(c, "n/a") for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def choice_of(policy: Calibrated) -> str:
    """What a robust fit chose on one split: a fallback, or the share and why it routes."""
    if policy.fallback:
        return f"always-{policy.fallback}"
    rep = policy.report
    why = " (rank check)" if rep.get("cv_routes_because") else ""
    share = rep.get("cv_share")
    return (f"share {share:.2f}" if share is not None else str(rep.get("cv_choice"))) + why


def cells(
    seeds: int, only: str | None, first: int = 0
) -> Iterator[tuple[str, tuple[float, ...], list[Any]]]:
    """(cell name, costs, [(train, test) per seed]) for every cell, seeds ``first`` on."""
    for strength in STRENGTHS:
        for n in TRAIN_SIZES:
            name = f"synthetic s={strength} n={n}"
            if only and only not in name:
                continue
            splits = [
                (
                    synthetic_replay(n, seed=seed, verifier_strength=strength),
                    synthetic_replay(4000, seed=10_000 + seed, verifier_strength=strength),
                )
                for seed in range(first, first + seeds)
            ]
            yield name, (1.0, 50.0), splits
    for name, (file, costs) in REPLAYS.items():
        if only and only not in name:
            continue
        path = DATA / file
        if not path.exists():
            print(f"({name}: {path} not found, skipped)")
            continue
        data = ReplayDataset.from_jsonl(path)
        splits = [
            data.split(data.n_rows - data.n_rows // 2, seed=seed)
            for seed in range(first, first + seeds)
        ]
        yield f"{name}", costs, splits


class Variant(Calibrated):
    """A selection rule under study: which candidates the cross-validation compares, and
    how it picks one (``lower``: best lower bootstrap bound; ``mean``: best mean)."""

    def __init__(self, *args: Any, cands: str = "shares", select: str = "lower", **kw: Any):
        super().__init__(*args, **kw)
        self.cands, self.select = cands, select

    def _candidates(self, objective: Any) -> list[Any]:
        from langchain_automix.meta_verifiers._fitting import Objective

        shares = (0.05, *CV_SHARES) if "5" in self.cands else CV_SHARES
        out = [Objective("target_share", s) for s in shares]
        return [Objective("max_delta_ibc"), *out] if "paper" in self.cands else out

    def _select(self, lowers: Any, means: Any) -> int:
        return int(np.argmax(means if self.select == "mean" else lowers))


class _Recorded(Calibrated):
    """The default fit, keeping each candidate share's cross-validated gain (mean, lower)."""

    def _select(self, lowers: Any, means: Any) -> int:
        self.cv_means, self.cv_lowers = list(means), list(lowers)
        return super()._select(lowers, means)


class _OneShare(Calibrated):
    """The default fit's refit at one fixed share, never falling back."""

    def __init__(self, share: float) -> None:
        super().__init__(POMDP(), min_gain=-np.inf, risk="off")
        self.share = share

    def _candidates(self, objective: Any) -> list[Any]:
        from langchain_automix.meta_verifiers._fitting import Objective

        return [Objective("target_share", self.share)]


def oracle(seeds: int, only: str | None, first: int = 0) -> None:
    """Why the default trails where the verifier is strong: per candidate share, the
    cross-validated gain the default chooses by (mean and lower bound over bootstrap
    draws, averaged over seeds) beside the test ΔIBC of that share refitted on all
    training rows, and how often the default chose it."""
    for cell, costs, splits in cells(seeds, only, first):
        if len(costs) != 2:
            continue
        means, lowers, tests, chosen = [], [], [], []
        for train, test in splits:
            rec = _Recorded(POMDP()).fit(train, costs=costs)
            means.append(rec.cv_means)
            lowers.append(rec.cv_lowers)
            chosen.append(-1 if rec.fallback else CV_SHARES.index(rec.report["cv_share"]))
            row = []
            for share in CV_SHARES:
                res = evaluate_policy(_OneShare(share).fit(train, costs=costs), test, costs=costs)
                row.append(np.nan if res.delta_ibc is None else float(res.delta_ibc))
            tests.append(row)
        m, lo, t = (np.nanmean(np.array(x, float), axis=0) for x in (means, lowers, tests))
        print(f"\n## {cell} ({len(splits)} seeds): per candidate share, mean over seeds")
        print(f"{'share':>6}{'CV mean':>10}{'CV lower':>10}{'refit test':>12}{'chosen':>8}")
        for i, share in enumerate(CV_SHARES):
            print(f"{share:6.1f}{m[i]:+10.1f}{lo[i]:+10.1f}{t[i]:+12.1f}{chosen.count(i):8d}")
        print(f"{'fallback':>6}{'':>32}{chosen.count(-1):8d}")


def summary_from(paths: list[Path]) -> str:
    """The summary table of earlier runs, from their per-seed JSON lines (``--json``)."""
    rng = np.random.default_rng(0)
    by_cell: dict[str, dict[str, list[float]]] = {}
    falls: dict[str, dict[str, int]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            by_cell.setdefault(row["cell"], {})[row["fit"]] = row["delta_ibc"]
            if "choices" in row:
                n = sum(c.startswith("always-") for c in row["choices"])
                falls.setdefault(row["cell"], {})[row["fit"]] = n
    rows = []
    for cell, results in by_cell.items():
        lib = {k: np.array(v, float) for k, v in results.items() if k.startswith("automix")}
        rows.append(summary_row(cell, results, falls.get(cell, {}), lib, rng))
    return markdown(rows)


def variant(spec: str) -> dict[str, Any]:
    """``c0.8,mean,shares5+paper`` -> Variant keyword arguments."""
    kw: dict[str, Any] = {}
    for part in spec.split(","):
        if part.startswith("c"):
            kw["confidence"] = float(part[1:])
        elif part == "nofb":
            kw["min_gain"] = -np.inf
        elif part in ("mean", "lower"):
            kw["select"] = part
        else:
            kw["cands"] = part
    return kw


def fits(
    risks: list[str], variants: list[str], unions: bool = False
) -> dict[str, Callable[[], MetaVerifier]]:
    """Our fits by label."""
    out: dict[str, Callable[[], MetaVerifier]] = {}
    for risk in risks:
        out[f"default POMDP [{risk}]"] = lambda r=risk: Calibrated(POMDP(), risk=r)  # type: ignore[misc]
        out[f"default Threshold [{risk}]"] = lambda r=risk: Calibrated(Threshold(), risk=r)  # type: ignore[misc]
    out[HELD] = lambda: Calibrated(POMDP(), check="held_out")
    out[MODEL] = lambda: Calibrated(POMDP(), check="model")
    for spec in variants:
        out[f"default POMDP <{spec}>"] = lambda s=spec: Variant(POMDP(), **variant(s))  # type: ignore[misc]
    if unions:
        for risk in risks:
            out[f"default Union [{risk}]"] = lambda r=risk: Calibrated(AutomixUnion(), risk=r)  # type: ignore[misc]
    out["paper-fit POMDP"] = POMDP
    out["paper-fit Union"] = AutomixUnion
    return out


def main() -> None:
    """Print the table (and write one JSON line per cell and fit with ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="the first seed (a confirmation run on seeds no rule was chosen on)",
    )
    ap.add_argument("--risks", default="strict,balanced,off")
    ap.add_argument(
        "--variants",
        default="",
        help="selection rules under study, ';'-separated, e.g. 'c0.8,mean,shares5+paper'",
    )
    ap.add_argument(
        "--library-cache",
        default=None,
        help="JSON file that keeps automix-llm's results between runs (they do not change)",
    )
    ap.add_argument("--only", default=None, help="only cells whose name contains this")
    ap.add_argument("--json", default=None, help="append per-seed results to this JSONL file")
    ap.add_argument("--no-library", action="store_true")
    ap.add_argument(
        "--oracle",
        action="store_true",
        help="instead: per candidate share, the cross-validated gain beside the test "
        "ΔIBC of that share refitted on all training rows (why a cell trails)",
    )
    ap.add_argument(
        "--union",
        action="store_true",
        help="also the default fit around AutomixUnion (POMDP, GreedyPOMDP, DoubleThreshold "
        "and Threshold, the members of automix-llm's 'POMDP')",
    )
    ap.add_argument(
        "--summary-from",
        default=None,
        help="instead: print the summary table again from the per-seed results of earlier "
        "runs (--json files, comma-separated), nothing refitted",
    )
    args = ap.parse_args()
    if args.summary_from:
        print(summary_from([Path(p) for p in args.summary_from.split(",")]))
        return
    if args.oracle:
        oracle(args.seeds, args.only, args.first_seed)
        return
    risks = [r for r in args.risks.split(",") if r]
    ours = fits(risks, [v for v in args.variants.split(";") if v], args.union)
    cache_path = Path(args.library_cache) if args.library_cache else None
    cache: dict[str, float] = (
        json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    )
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    worst: dict[str, float] = {}
    summary: list[dict[str, str]] = []
    for cell, costs, splits in cells(args.seeds, args.only, args.first_seed):
        results: dict[str, list[float]] = {}
        fallbacks: dict[str, int] = {}
        choices: dict[str, list[str]] = {}
        for seed, (train, test) in enumerate(splits, start=args.first_seed):
            for label, make in ours.items():
                if label in (MODEL, HELD) and train.n_tiers != 2:
                    continue  # two-tier rules (on three tiers the default is the held-out rule)
                policy = make().fit(train, costs=costs)
                res = evaluate_policy(policy, test, costs=costs)
                results.setdefault(label, []).append(
                    float("nan") if res.delta_ibc is None else float(res.delta_ibc)
                )
                if isinstance(policy, Calibrated):
                    choices.setdefault(label, []).append(choice_of(policy))
                    if policy.fallback:
                        fallbacks[label] = fallbacks.get(label, 0) + 1
            if args.no_library or train.n_tiers != 2:
                continue
            for name in LIBRARY:
                key = f"{cell}|{seed}|{name}"
                if key not in cache:
                    cache[key] = library_delta_ibc(name, train, test)
                results.setdefault(f"automix-llm {name}", []).append(cache[key])
        if cache_path:
            cache_path.write_text(json.dumps(cache))
        print(f"\n## {cell} ({len(splits)} seeds, costs {'/'.join(f'{c:g}' for c in costs)})")
        print(f"{'fit':<30}{'test ΔIBC %':>16}  {'95% CI of mean':>16}  {'fallbk':>6}")
        for label, vals in results.items():
            v = np.array(vals, float)
            lo, hi = paired_interval(v[np.isfinite(v)], 2000, rng)
            fb = (
                f"{fallbacks.get(label, 0)}/{len(v)}"
                if label.startswith(("default", "model-check", "held-out"))
                else ""
            )
            print(
                f"{label:<30}{np.nanmean(v):+8.1f} ± {np.nanstd(v):5.1f}  "
                f"[{lo:+6.1f}, {hi:+6.1f}]  {fb:>6}"
            )
        for label, picked in choices.items():
            if label.startswith(("default POMDP", "model-check", "held-out")):
                print(f"  per split, {label}: {'; '.join(picked)}")
        lib = {k: np.array(v, float) for k, v in results.items() if k.startswith("automix")}
        summary.append(summary_row(cell, results, fallbacks, lib, rng))
        if lib:
            best = max(lib, key=lambda k: float(np.nanmean(lib[k])))
            print(f"default - {best} (best automix-llm method here), same seeds:")
            for label in [
                k for k in ours if k.startswith(("default", "model-check", "held-out", "paper"))
            ]:
                diff = np.array(results[label], float) - lib[best]
                diff = diff[np.isfinite(diff)]
                lo, hi = paired_interval(diff, 2000, rng)
                worst[label] = min(worst.get(label, np.inf), float(diff.mean()))
                print(f"  {label:<28}{diff.mean():+8.1f}  [{lo:+6.1f}, {hi:+6.1f}]")
        for label in [k for k in ours if k in results]:
            worst[f"{label} mean"] = min(
                worst.get(f"{label} mean", np.inf), float(np.nanmean(results[label]))
            )
        if args.json:
            with open(args.json, "a", encoding="utf-8") as fh:
                for label, vals in results.items():
                    row = {"cell": cell, "fit": label, "delta_ibc": vals}
                    if label in choices:
                        row["choices"] = choices[label]
                    fh.write(json.dumps(row) + "\n")
    print("\n" + markdown(summary))
    print("\nworst cell: lowest mean (fit mean) and lowest mean difference to the library's best")
    for label, value in sorted(worst.items()):
        print(f"  {label:<40}{value:+8.1f}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
