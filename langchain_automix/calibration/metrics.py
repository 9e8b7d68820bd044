"""Offline cost and quality metrics of a cascade (paper Eq. 1, RouteLLM, RouterBench).

Cost of one query that stops at tier ``j`` of an ``N``-tier cascade::

    C = sum(unit_costs[:j + 1]) + sum(verify_costs[:min(j, N - 2) + 1])

i.e. every tier reached is paid, and every non-final tier reached is also verified. For
two tiers that is the paper's ``C = C_small + C_verify + w * C_large``. The verification
cost of a tier defaults to that tier's unit cost (the paper's ``C_verify = C_small``).
A policy that skips tiers (small -> large directly) pays only the tiers it visits: pass
the ``visited`` mask (``MetaVerifier.route_paths``) to :func:`query_costs` and
:func:`routing_point`.

The baselines are the tiers called directly: always-small at ``(unit_costs[0], P_small)``
and always-large at ``(unit_costs[-1], P_large)``. The straight line between them is what
random mixing achieves, and ΔIBC (Eq. 1) measures the lift of a method's
incremental benefit per cost over that line, in percent. With more than two tiers the
reference is the upper hull of every always-tier-``i`` point (what random mixing of
fixed models achieves), and ΔIBC is taken against the hull segment of the method's cost
region (:func:`delta_ibc_tiers`, the paper's three-model evaluation); for two tiers the
two coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "CostSpec",
    "DEFAULT_UNIT_COSTS",
    "RoutingPoint",
    "aiq",
    "apgr",
    "auroc",
    "baselines",
    "cpt",
    "delta_ibc",
    "delta_ibc_regions",
    "delta_ibc_tiers",
    "ibc",
    "interpolate_frontier",
    "pareto_front",
    "pgr",
    "query_costs",
    "routing_point",
    "routing_points",
]

DEFAULT_UNIT_COSTS: tuple[float, ...] = (1.0, 50.0)
"""The paper's unit costs: small model 1, large model 50."""


@dataclass(frozen=True)
class CostSpec:
    """Unit cost of each tier and verification cost of each non-final tier.

    Example:
        >>> spec = CostSpec.make((1, 50))
        >>> spec.stop_costs.tolist()   # stop at tier 0 (verified) or tier 1
        [2.0, 52.0]
    """

    unit_costs: tuple[float, ...]
    verify_costs: tuple[float, ...]

    @classmethod
    def make(
        cls,
        unit_costs: Sequence[float] = DEFAULT_UNIT_COSTS,
        verify_costs: Sequence[float] | float | None = None,
        *,
        n_tiers: int | None = None,
    ) -> CostSpec:
        """Validate costs; ``verify_costs`` defaults to the unit cost of each verified tier."""
        units = tuple(float(c) for c in unit_costs)
        if n_tiers is not None and len(units) != n_tiers:
            raise ValueError(f"expected {n_tiers} unit costs (one per tier), got {len(units)}")
        if len(units) < 2:
            raise ValueError(f"need at least 2 unit costs, got {len(units)}")
        if any(not np.isfinite(c) or c < 0 for c in units):
            raise ValueError(f"unit costs must be finite and >= 0, got {units}")
        if units[-1] <= units[0]:
            raise ValueError(f"the last tier must cost more than the first, got {units}")
        if verify_costs is None:
            verify = units[:-1]
        elif isinstance(verify_costs, (int, float)):
            verify = (float(verify_costs),) * (len(units) - 1)
        else:
            verify = tuple(float(c) for c in verify_costs)
        if len(verify) != len(units) - 1:
            raise ValueError(f"expected {len(units) - 1} verification costs, got {len(verify)}")
        if any(not np.isfinite(c) or c < 0 for c in verify):
            raise ValueError(f"verification costs must be finite and >= 0, got {verify}")
        return cls(units, verify)

    @property
    def n_tiers(self) -> int:
        """Number of tiers."""
        return len(self.unit_costs)

    @property
    def stop_costs(self) -> np.ndarray:
        """Cost of a query that stops at each tier, shape ``(n_tiers,)``."""
        units = np.cumsum(self.unit_costs)
        ver = np.cumsum((*self.verify_costs, 0.0))
        return np.asarray(units + ver)

    @property
    def small_cost(self) -> float:
        """Cost of calling the first tier alone (the always-small baseline)."""
        return self.unit_costs[0]

    @property
    def large_cost(self) -> float:
        """Cost of calling the last tier alone (the always-large baseline)."""
        return self.unit_costs[-1]


@dataclass(frozen=True)
class RoutingPoint:
    """Average cost, quality and share escalated of one routing of a dataset."""

    avg_cost: float
    avg_performance: float
    llm_call_share: float
    """Share of queries answered by the last tier."""

    def to_dict(self) -> dict[str, float]:
        """Plain-dict view."""
        return {k: float(v) for k, v in asdict(self).items()}


def query_costs(final_tier: Any, costs: CostSpec, visited: Any = None) -> np.ndarray:
    """Per-query cost when each query stops at ``final_tier`` (int array).

    ``visited`` (boolean, ``(..., n, tiers)``) marks the tiers each query reached; without
    it every tier up to ``final_tier`` is reached. Each visited tier is paid and, unless
    it is the last tier, verified.

    Example:
        >>> spec = CostSpec.make((1, 10, 50))
        >>> query_costs([2, 2], spec, visited=[[1, 1, 1], [1, 0, 1]]).tolist()
        [72.0, 52.0]
    """
    if visited is None:
        return np.asarray(costs.stop_costs[np.asarray(final_tier, dtype=np.intp)])
    v = np.asarray(visited, dtype=float)
    per_tier = np.asarray(costs.unit_costs) + np.asarray((*costs.verify_costs, 0.0))
    return np.asarray(v @ per_tier)


def routing_point(
    scores: Any, final_tier: Any, costs: CostSpec, visited: Any = None
) -> RoutingPoint:
    """Average cost, quality and last-tier share of a routing (``scores`` is ``(n, tiers)``).

    ``visited`` marks the tiers each query reached when a policy skips tiers (see
    :func:`query_costs`).

    Example:
        >>> p = routing_point([[0.0, 1.0], [1.0, 1.0]], [1, 0], CostSpec.make((1, 50)))
        >>> p.avg_cost, p.avg_performance, p.llm_call_share
        (27.0, 1.0, 0.5)
    """
    s = np.asarray(scores, dtype=float)
    f = np.asarray(final_tier, dtype=np.intp)
    perf = s[np.arange(s.shape[0]), f]
    return RoutingPoint(
        avg_cost=float(query_costs(f, costs, visited).mean()),
        avg_performance=float(perf.mean()),
        llm_call_share=float((f == s.shape[1] - 1).mean()),
    )


def routing_points(
    scores: Any, final_tier: Any, costs: CostSpec, visited: Any = None
) -> dict[str, np.ndarray]:
    """Vectorised :func:`routing_point` with ΔIBC, over leading axes (bootstrap, repeats).

    ``scores`` is ``(..., n, tiers)`` and ``final_tier`` ``(..., n)``; they broadcast
    (and ``visited``, ``(..., n, tiers)``, when a policy skips tiers).
    Returns arrays over the leading axes: ``avg_cost``, ``avg_performance``,
    ``small_performance``, ``large_performance`` (the rows' own baselines) and
    ``delta_ibc`` (percent; NaN where undefined; against the tiers' upper hull when
    there are more than two, see :func:`delta_ibc_tiers`).

    Example:
        >>> p = routing_points([[[0.0, 1.0], [1.0, 1.0]]], [[1, 0]], CostSpec.make((1, 50)))
        >>> p["avg_cost"].tolist(), p["avg_performance"].tolist()
        ([27.0], [1.0])
    """
    s = np.asarray(scores, dtype=float)
    f = np.asarray(final_tier, dtype=np.intp)
    shape = np.broadcast_shapes(f.shape, s.shape[:-1])
    s = np.broadcast_to(s, (*shape, s.shape[-1]))
    f = np.broadcast_to(f, shape)
    perf = np.take_along_axis(s, f[..., None], axis=-1)[..., 0].mean(axis=-1)
    if visited is None:
        cost = costs.stop_costs[f].mean(axis=-1)
    else:
        v = np.broadcast_to(np.asarray(visited, bool), (*shape, s.shape[-1]))
        cost = query_costs(f, costs, v).mean(axis=-1)
    small, large = s[..., 0].mean(axis=-1), s[..., -1].mean(axis=-1)
    if s.shape[-1] > 2:
        d = np.asarray(delta_ibc_tiers(cost, perf, costs.unit_costs, s.mean(axis=-2)), float)
    else:
        base = (large - small) / (costs.large_cost - costs.small_cost)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = ((perf - small) / (cost - costs.small_cost) - base) / base * 100.0
    return {
        "avg_cost": np.asarray(cost),
        "avg_performance": np.asarray(perf),
        "small_performance": np.asarray(small),
        "large_performance": np.asarray(large),
        "delta_ibc": np.where(np.isfinite(d), d, np.nan),
    }


def ibc(performance: Any, cost: Any, ref_performance: float, ref_cost: float) -> Any:
    """Incremental benefit per cost: ``(P - P_ref) / (C - C_ref)`` (vectorised)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(performance, float) - ref_performance) / (
            np.asarray(cost, float) - ref_cost
        )


def delta_ibc(
    cost: Any,
    performance: Any,
    small: tuple[float, float],
    large: tuple[float, float],
) -> Any:
    """ΔIBC of Eq. 1 in percent, against the line from ``small`` to ``large``.

    ``small`` and ``large`` are ``(cost, performance)`` of the baselines. Vectorised over
    ``cost``/``performance``; a point on the random-mixing line scores 0.

    Example:
        >>> float(delta_ibc(25.5, 0.75, small=(1, 0.5), large=(50, 1.0)))
        0.0
        >>> round(float(delta_ibc(11.0, 0.75, small=(1, 0.5), large=(50, 1.0))), 6)
        145.0
    """
    base = (large[1] - small[1]) / (large[0] - small[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (ibc(performance, cost, small[1], small[0]) - base) / base * 100.0
    return out if np.ndim(out) else float(out)


def delta_ibc_tiers(
    cost: Any, performance: Any, tier_costs: Sequence[float], tier_performances: Any
) -> Any:
    """ΔIBC in percent against the upper hull of the always-tier-``i`` points.

    The reference at a cost is the best random mixing of two fixed models (the upper
    hull of the points ``(tier_costs[i], tier_performances[i])``); a method is compared
    with the hull segment ``(i, j)`` of its cost region: ``(IBC from point i - slope of
    the segment) / slope``, the paper's three-model evaluation. With two tiers this is
    :func:`delta_ibc`. Costs outside the tiers' range use the nearest end segment. NaN
    where the segment does not rise (no benefit to measure against).

    Vectorised: ``cost``/``performance`` have shape ``(...)`` and ``tier_performances``
    ``(..., tiers)`` (one set of baselines per leading index, e.g. bootstrap draws).

    Example:
        >>> round(float(delta_ibc_tiers(5.5, 0.8, (1, 10, 50), (0.5, 0.8, 1.0))), 6)
        100.0
        >>> round(float(delta_ibc_tiers(30.0, 0.9, (1, 10, 50), (0.5, 0.8, 1.0))), 6)
        0.0
    """
    c = np.asarray(cost, float)
    p = np.asarray(performance, float)
    tc = np.asarray(tier_costs, float)
    tp = np.asarray(tier_performances, float)
    shape = np.broadcast_shapes(c.shape, p.shape, tp.shape[:-1])
    c, p = np.broadcast_to(c, shape), np.broadcast_to(p, shape)
    tp = np.broadcast_to(tp, (*shape, tc.size))
    lo_c, hi_c = float(tc.min()), float(tc.max())
    eps = (hi_c - lo_c) * 1e-9
    at = np.clip(c, lo_c + eps, hi_c - eps)
    best = np.full(shape, -np.inf)
    ref_i = np.zeros(shape, dtype=np.intp)
    slope = np.full(shape, np.nan)
    for i in range(tc.size):
        for j in range(tc.size):
            if not tc[i] < tc[j]:
                continue
            s_ij = (tp[..., j] - tp[..., i]) / (tc[j] - tc[i])
            chord = tp[..., i] + s_ij * (at - tc[i])
            inside = (at >= tc[i]) & (at <= tc[j]) & (chord > best + 1e-15)
            best = np.where(inside, chord, best)
            ref_i = np.where(inside, i, ref_i)
            slope = np.where(inside, s_ij, slope)
    ref_c = tc[ref_i]
    ref_p = np.take_along_axis(tp, ref_i[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ((p - ref_p) / (c - ref_c) - slope) / slope * 100.0
    out = np.where(np.isfinite(out) & (slope > 0), out, np.nan)
    return out if np.ndim(out) else float(out)


def pareto_front(costs: Any, performances: Any) -> np.ndarray:
    """Indices of the points no other point beats (lower-or-equal cost, higher quality).

    Returned in increasing cost (and quality) order; duplicates keep one point.
    """
    c = np.asarray(costs, float)
    p = np.asarray(performances, float)
    order = np.lexsort((-p, c))
    keep: list[int] = []
    best = -np.inf
    for i in order:
        if p[i] > best:
            keep.append(int(i))
            best = p[i]
    return np.asarray(keep, dtype=np.intp)


def interpolate_frontier(costs: Any, performances: Any, at: Any) -> np.ndarray:
    """Quality of the Pareto frontier at costs ``at`` (linear between operating points).

    Linear interpolation is achievable by mixing two policies at random. Outside the
    frontier's cost range the nearest end is used.
    """
    idx = pareto_front(costs, performances)
    c = np.asarray(costs, float)[idx]
    p = np.asarray(performances, float)[idx]
    return np.asarray(np.interp(np.asarray(at, float), c, p))


def delta_ibc_regions(
    costs: Any,
    performances: Any,
    small: tuple[float, float],
    large: tuple[float, float],
    *,
    cost_range: tuple[float, float],
    n_regions: int = 5,
) -> list[float]:
    """ΔIBC of a method's frontier at the centre of ``n_regions`` equal cost regions.

    The frontier is the Pareto front of the method's operating points (its parameter
    sweep), linearly interpolated; ``cost_range`` is split into equal regions (the paper's
    Table 1 protocol uses five between the cheapest and the dearest cascade cost).
    """
    lo, hi = cost_range
    width = (hi - lo) / n_regions
    centres = lo + width * (np.arange(n_regions) + 0.5)
    perf = interpolate_frontier(costs, performances, centres)
    return [float(v) for v in np.atleast_1d(delta_ibc(centres, perf, small, large))]


def pgr(performance: Any, small_performance: float, large_performance: float) -> Any:
    """Performance gap recovered: ``(P - P_small) / (P_large - P_small)`` (RouteLLM)."""
    gap = large_performance - small_performance
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(performance, float) - small_performance) / gap


def _pgr_curve(
    shares: Any, performances: Any, small_performance: float, large_performance: float
) -> tuple[np.ndarray, np.ndarray]:
    s = np.concatenate([[0.0], np.asarray(shares, float), [1.0]])
    p = np.concatenate([[small_performance], np.asarray(performances, float), [large_performance]])
    idx = pareto_front(s, p)
    return s[idx], np.asarray(pgr(p[idx], small_performance, large_performance))


def apgr(
    shares: Any, performances: Any, small_performance: float, large_performance: float
) -> float:
    """Average performance gap recovered over the share of large-model calls (RouteLLM).

    The PGR curve runs through ``(0, 0)``, the method's Pareto-efficient
    ``(share, PGR)`` points and ``(1, 1)``, linearly interpolated; APGR is its area.
    Random mixing scores 0.5, a perfect router close to 1.

    Example:
        >>> apgr([0.5], [0.75], 0.5, 1.0)
        0.5
    """
    s, g = _pgr_curve(shares, performances, small_performance, large_performance)
    if s[-1] < 1.0:  # the best point is above P_large before share 1: flat afterwards
        s, g = np.append(s, 1.0), np.append(g, g[-1])
    return float(np.sum((s[1:] - s[:-1]) * (g[1:] + g[:-1]) / 2.0))


def cpt(
    shares: Any,
    performances: Any,
    small_performance: float,
    large_performance: float,
    level: float = 0.5,
) -> float:
    """Call-performance threshold: least share of large-model calls (percent) to reach PGR.

    ``level`` is the PGR to reach (0.5 for CPT(50%), 0.8 for CPT(80%)).

    Example:
        >>> cpt([0.5], [0.75], 0.5, 1.0, level=0.8)
        80.0
    """
    s, g = _pgr_curve(shares, performances, small_performance, large_performance)
    for i in range(len(s)):
        if g[i] >= level:
            if i == 0:
                return float(s[0] * 100.0)
            frac = (level - g[i - 1]) / (g[i] - g[i - 1])
            return float((s[i - 1] + frac * (s[i] - s[i - 1])) * 100.0)
    return float("nan")


def aiq(costs: Any, performances: Any, cost_range: tuple[float, float] | None = None) -> float:
    """Average improvement in quality (RouterBench): mean height of the hull over cost.

    The non-decreasing convex hull of the ``(cost, quality)`` points is integrated over
    ``cost_range`` (default: the points' cost range) and divided by its width. Before
    the cheapest point the curve is undefined and counts as that point's quality.

    Example:
        >>> aiq([0, 1, 2], [0.0, 1.0, 1.0])
        0.75
    """
    c = np.asarray(costs, float)
    p = np.asarray(performances, float)
    order = np.lexsort((p, c))
    c, p = c[order], p[order]
    # one point per cost, the best: a worse point at the same cost is dominated, and
    # keeping it lets the hull's cross product underflow to 0 for a next point a
    # subnormal cost away and drop the better one
    last = np.append(c[1:] != c[:-1], True)
    c, p = c[last], p[last]
    hull: list[int] = []
    for i in range(len(c)):  # upper hull (monotone chain)
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (c[b] - c[a]) * (p[i] - p[a]) - (p[b] - p[a]) * (c[i] - c[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    hc, hp = c[hull], p[hull]
    top = int(np.argmax(hp))
    hc, hp = hc[: top + 1], hp[: top + 1]
    lo, hi = cost_range if cost_range is not None else (float(c.min()), float(c.max()))
    if hi <= lo:
        return float(hp.max())
    grid = np.unique(np.concatenate([[lo, hi], hc[(hc > lo) & (hc < hi)]]))
    vals = np.interp(grid, hc, hp)
    area = np.sum((grid[1:] - grid[:-1]) * (vals[1:] + vals[:-1]) / 2.0)
    return float(area / (hi - lo))


def auroc(scores: Any, labels: Any) -> float | None:
    """Area under the ROC curve of ``scores`` for predicting boolean ``labels``.

    The probability that a random positive scores higher than a random negative, ties
    counting one half (the Mann-Whitney statistic), so a constant score gives 0.5.
    ``None`` when either class is empty.

    Example:
        >>> auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False])
        1.0
        >>> auroc([0.5, 0.5, 0.5], [True, False, True])
        0.5
        >>> auroc([0.2, 0.4], [True, True]) is None
        True
    """
    s = np.asarray(scores, float).reshape(-1)
    y = np.asarray(labels, bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.size} != {y.size}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    # average ranks (1-based) with ties sharing the mean rank
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.size, float)
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], s.size]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def baselines(scores: Any, costs: CostSpec) -> dict[str, dict[str, float | None]]:
    """Always-small, always-large, random mixing (halfway) and the oracle cascade.

    The oracle is a perfect meta-verifier inside the cascade: it stops at the first tier
    whose score is the row's best (so it pays verification like any method). ΔIBC of
    always-small is undefined (``None``); always-large and random mixing score 0.
    """
    s = np.asarray(scores, float)
    small = (costs.small_cost, float(s[:, 0].mean()))
    large = (costs.large_cost, float(s[:, -1].mean()))
    oracle_tier = np.argmax(s >= s.max(axis=1, keepdims=True), axis=1)
    oracle = routing_point(s, oracle_tier, costs)
    tier_perf = s.mean(axis=0)

    def dibc(cost: float, perf: float) -> float | None:
        if s.shape[1] > 2:
            v = float(delta_ibc_tiers(cost, perf, costs.unit_costs, tier_perf))
        else:
            v = float(delta_ibc(cost, perf, small, large))
        return v if np.isfinite(v) else None

    middle = {
        f"always_tier_{t}": {
            "avg_cost": costs.unit_costs[t],
            "avg_performance": float(tier_perf[t]),
            "llm_call_share": 0.0,
            "delta_ibc": dibc(costs.unit_costs[t], float(tier_perf[t])),
        }
        for t in range(1, s.shape[1] - 1)
    }
    return {
        "always_small": {
            "avg_cost": small[0],
            "avg_performance": small[1],
            "llm_call_share": 0.0,
            "delta_ibc": None,
        },
        "always_large": {
            "avg_cost": large[0],
            "avg_performance": large[1],
            "llm_call_share": 1.0,
            "delta_ibc": dibc(*large),
        },
        "random_mixing": {
            "avg_cost": (small[0] + large[0]) / 2,
            "avg_performance": (small[1] + large[1]) / 2,
            "llm_call_share": 0.5,
            "delta_ibc": 0.0,
            "apgr": 0.5,
        },
        **middle,
        "oracle": {**oracle.to_dict(), "delta_ibc": dibc(oracle.avg_cost, oracle.avg_performance)},
    }
