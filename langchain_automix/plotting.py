"""Cost-quality plots of meta-verifiers (needs the optional ``plot`` extra: matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langchain_automix.evaluation import MethodResult
from langchain_automix.metrics import pareto_front

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


def plot_cost_quality(
    results: Sequence[MethodResult],
    baselines: Mapping[str, Mapping[str, float | None]],
    path: str | Path,
    *,
    title: str = "AutoMix: cost vs quality",
) -> Path:
    """Write a PNG of the cost-quality plane.

    Shows always-small, always-large, the random-mixing line between them, each
    method's frontier (Pareto front of its operating points) and its chosen point.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    small, large = baselines["always_small"], baselines["always_large"]
    xs = [float(small["avg_cost"] or 0), float(large["avg_cost"] or 0)]
    ys = [float(small["avg_performance"] or 0), float(large["avg_performance"] or 0)]
    ax.plot(xs, ys, "k--", lw=1, label="random mixing")
    ax.scatter(xs[:1], ys[:1], marker="s", c="k", zorder=5, label="always small")
    ax.scatter(xs[1:], ys[1:], marker="^", c="k", zorder=5, label="always large")
    for res in results:
        f = res.frontier
        idx = pareto_front(f.avg_cost, f.avg_performance)
        line = ax.plot(f.avg_cost[idx], f.avg_performance[idx], "-", lw=1.2, alpha=0.8)[0]
        ax.scatter(
            [res.avg_cost],
            [res.avg_performance],
            color=line.get_color(),
            s=50,
            edgecolor="k",
            zorder=6,
            label=f"{res.name} (ΔIBC {res.delta_ibc or 0:.0f}%)",
        )
    ax.set_xlabel("average cost per query")
    ax.set_ylabel("average quality")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(
        left=0, right=float(np.max([xs[1], *[r.frontier.avg_cost.max() for r in results]])) * 1.05
    )
    out = Path(path)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
