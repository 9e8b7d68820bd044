"""Cost-quality plots of meta-verifiers (needs the optional ``plot`` extra: matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langchain_automix.calibration.metrics import interpolate_frontier
from langchain_automix.evaluation import MethodResult

__all__ = ["plot_cost_quality"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib: pip install 'langchain-automix[plot]'"
        ) from exc
    return plt


def _runs(
    results: Sequence[MethodResult] | Mapping[str, Sequence[MethodResult]],
) -> list[tuple[str, list[MethodResult]]]:
    if isinstance(results, Mapping):
        return [(name, list(runs)) for name, runs in results.items() if runs]
    return [(r.name, [r]) for r in results]


def plot_cost_quality(
    results: Sequence[MethodResult] | Mapping[str, Sequence[MethodResult]],
    baselines: Mapping[str, Mapping[str, float | None]],
    path: str | Path,
    *,
    title: str = "AutoMix: cost vs quality",
) -> Path:
    """Write a PNG of the cost-quality plane.

    Shows always-small, always-large, the random-mixing line between them, and for
    each method its frontier (Pareto front of its operating points) and its chosen
    point. ``results`` is one result per method, or a mapping from method name to its
    results over seeds (``Comparison.results``): then the frontier drawn is the mean
    over seeds of each seed's frontier, and the chosen point is the seed mean with
    error bars of one standard deviation, the same averaging as the baselines and
    the table. Every curve and point is labelled.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    small, large = baselines["always_small"], baselines["always_large"]
    xs = [float(small["avg_cost"] or 0), float(large["avg_cost"] or 0)]
    ys = [float(small["avg_performance"] or 0), float(large["avg_performance"] or 0)]
    ax.plot(xs, ys, "k--", lw=1, label="random mixing")
    ax.scatter(xs[:1], ys[:1], marker="s", c="k", zorder=5, label="always small")
    ax.scatter(xs[1:], ys[1:], marker="^", c="k", zorder=5, label="always large")
    runs_by_method = _runs(results)
    right = xs[1]
    for name, runs in runs_by_method:
        lo = min(float(r.frontier.avg_cost.min()) for r in runs)
        hi = max(float(r.frontier.avg_cost.max()) for r in runs)
        right = max(right, hi)
        grid = np.linspace(lo, hi, 200)
        curve = np.mean(
            [
                interpolate_frontier(r.frontier.avg_cost, r.frontier.avg_performance, grid)
                for r in runs
            ],
            axis=0,
        )
        seeds = "" if len(runs) == 1 else f", mean of {len(runs)} seeds"
        line = ax.plot(grid, curve, "-", lw=1.2, alpha=0.8, label=f"{name} frontier{seeds}")[0]
        cost = np.array([r.avg_cost for r in runs])
        perf = np.array([r.avg_performance for r in runs])
        d = np.array([r.delta_ibc for r in runs if r.delta_ibc is not None], float)
        dibc = f"{d.mean():+.0f}" + ("" if d.size < 2 else f" ± {d.std():.0f}") if d.size else "-"
        ax.errorbar(
            [cost.mean()],
            [perf.mean()],
            xerr=[cost.std()] if len(runs) > 1 else None,
            yerr=[perf.std()] if len(runs) > 1 else None,
            fmt="o",
            color=line.get_color(),
            markeredgecolor="k",
            markersize=7,
            zorder=6,
            label=f"{name} chosen point (ΔIBC {dibc}%)",
        )
    ax.set_xlabel("average cost per query")
    ax.set_ylabel("average quality")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(left=0, right=right * 1.05)
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
