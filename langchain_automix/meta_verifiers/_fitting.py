"""Shared machinery for fitting meta-verifiers on replay data (private)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from langchain_automix.calibration.metrics import CostSpec, delta_ibc, delta_ibc_tiers

__all__ = [
    "Frontier",
    "Objective",
    "band_frontier",
    "band_frontier_tiers",
    "choose_point",
    "nearest_index",
    "observation_table",
    "table_frontier",
]

ObjectiveKind = Literal["max_delta_ibc", "target_share", "budget", "lam"]


@dataclass(frozen=True)
class Objective:
    """What fitting optimises on the training rows."""

    kind: ObjectiveKind = "max_delta_ibc"
    value: float | None = None

    @classmethod
    def from_args(
        cls,
        *,
        target_llm_share: float | None = None,
        budget: float | None = None,
        lam: float | None = None,
    ) -> Objective:
        """At most one of the arguments; none means maximise ΔIBC."""
        given = [
            (k, v)
            for k, v in (("target_share", target_llm_share), ("budget", budget), ("lam", lam))
            if v is not None
        ]
        if len(given) > 1:
            names = ", ".join(k for k, _ in given)
            raise ValueError(f"give at most one fitting objective, got {names}")
        if not given:
            return cls()
        kind, value = given[0]
        value = float(value)
        if kind == "target_share" and not 0.0 <= value <= 1.0:
            raise ValueError(f"target_llm_share must be in [0, 1], got {value}")
        if kind == "budget" and not value > 0:
            raise ValueError(f"budget must be positive, got {value}")
        if kind == "lam" and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"lam must be finite and >= 0, got {value}")
        return cls(kind, value)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True)
class Frontier:
    """Operating points (one per candidate parameter) of a policy family on a dataset."""

    avg_cost: np.ndarray
    avg_performance: np.ndarray
    llm_call_share: np.ndarray

    @classmethod
    def concat(cls, parts: list[Frontier]) -> Frontier:
        """Points of several frontiers together."""
        return cls(
            np.concatenate([p.avg_cost for p in parts]),
            np.concatenate([p.avg_performance for p in parts]),
            np.concatenate([p.llm_call_share for p in parts]),
        )

    def __len__(self) -> int:
        return int(self.avg_cost.shape[0])

    def choose(
        self,
        objective: Objective,
        small: tuple[float, float],
        large: tuple[float, float],
        tiers: tuple[Sequence[float], Sequence[float]] | None = None,
    ) -> int:
        """Index of the point the objective prefers (first one on ties).

        ``tiers`` (every tier's unit cost and mean quality) makes ΔIBC use the tiers'
        upper hull (:func:`~langchain_automix.calibration.metrics.delta_ibc_tiers`), for three or
        more tiers.
        """
        cost, perf, share = self.avg_cost, self.avg_performance, self.llm_call_share
        if objective.kind == "max_delta_ibc":
            if tiers is not None and len(tiers[0]) > 2:
                d = np.asarray(delta_ibc_tiers(cost, perf, tiers[0], tiers[1]), float)
            else:
                d = np.asarray(delta_ibc(cost, perf, small, large), float)
            d = np.where(np.isnan(d), -np.inf, d)
            return int(np.argmax(d))
        if objective.value is None:
            raise ValueError(f"objective {objective.kind!r} needs a value")
        if objective.kind == "target_share":
            dist = np.abs(share - objective.value)
            best = np.flatnonzero(dist <= dist.min() + 1e-12)
            return int(best[np.argmin(cost[best])])
        if objective.kind == "budget":
            ok = np.flatnonzero(cost <= objective.value + 1e-9)
            if ok.size == 0:
                raise ValueError(
                    f"budget {objective.value:g} is below the cheapest policy's average cost "
                    f"{cost.min():g} on the training rows"
                )
            top = perf[ok].max()
            best = ok[perf[ok] >= top - 1e-12]
            return int(best[np.argmin(cost[best])])
        util = perf - objective.value * cost
        best = np.flatnonzero(util >= util.max() - 1e-12)
        return int(best[np.argmin(cost[best])])


def choose_point(front: Frontier, objective: Objective, data: Any, costs: CostSpec) -> int:
    """:meth:`Frontier.choose` with the baselines of ``data`` (a ``ReplayDataset``)."""
    means = data.scores.mean(axis=0)
    return front.choose(
        objective,
        (costs.small_cost, float(means[0])),
        (costs.large_cost, float(means[-1])),
        (costs.unit_costs, [float(v) for v in means]),
    )


def observation_table(conf: np.ndarray, max_values: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Distinct observation values (or quantiles when too many) and each row's index.

    Rows are mapped to the nearest table value.
    """
    values = np.unique(conf)
    if values.size > max_values:
        values = np.unique(np.quantile(conf, np.linspace(0.0, 1.0, max_values)))
    return values, nearest_index(values, conf)


MAX_SHARE_DENOMINATOR = 32
"""The largest ``k`` for which :func:`snap_to_share_grid` recognises ``k``-sample shares."""


def share_grid(conf: np.ndarray) -> int | None:
    """The ``k`` of k-sample verifier shares, if ``conf`` looks like them, else None.

    A verifier confidence is the share of *valid* samples that say Correct: ``j / m``
    with ``m <= k`` valid samples, so with invalid samples it lies off the ``1/k`` grid.
    ``conf`` looks like shares when every value is such a fraction with a denominator of
    at most :data:`MAX_SHARE_DENOMINATOR`; ``k`` is the largest denominator seen (that of
    the rows with every sample valid). A continuous signal (a probability) gives None.

    Example:
        >>> share_grid(np.array([0.0, 0.125, 5 / 7, 0.5, 1.0]))
        8
        >>> share_grid(np.array([0.1234, 0.5])) is None
        True
    """
    from fractions import Fraction

    values = np.unique(conf[np.isfinite(conf)])
    if values.size < 2:
        return None
    grid = 1
    for v in values:
        f = Fraction(float(v)).limit_denominator(MAX_SHARE_DENOMINATOR)
        if abs(float(f) - float(v)) > 1e-9:
            return None
        grid = max(grid, f.denominator)
    return grid if grid > 1 else None


def snap_to_share_grid(conf: np.ndarray) -> np.ndarray:
    """``conf`` moved to the nearest multiple of ``1/k`` when it holds k-sample shares.

    The paper's observation is the number of Correct samples out of ``k``; a share
    ``j/m`` of fewer valid samples is read as the nearest ``i/k``. Without it, the rare
    off-grid values (5/7, 1/6, ...) become observations of their own, each seen on a
    few training rows, and a policy fitted to them does not carry over (measured in
    docs/meta-verifiers.md). Other signals are returned as they are.

    Example:
        >>> snap_to_share_grid(np.array([0.0, 0.125, 5 / 7, 1 / 6, 1.0])).tolist()
        [0.0, 0.125, 0.75, 0.125, 1.0]
    """
    k = share_grid(conf)
    return conf if k is None else np.round(conf * k) / k


def nearest_index(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the nearest entry of sorted ``values`` for each ``x`` (lower on ties)."""
    if values.size == 1:
        return np.zeros(np.shape(x), dtype=np.intp)
    mids = (values[1:] + values[:-1]) / 2.0
    return np.asarray(np.searchsorted(mids, x, side="right"), dtype=np.intp)


def table_frontier(
    index: np.ndarray,
    n_values: int,
    scores: np.ndarray,
    masks: np.ndarray,
    costs: CostSpec,
    forced: np.ndarray | None = None,
) -> Frontier:
    """Points of 2-tier policies that escalate the observation values in each mask row.

    ``index`` maps rows to observation values, ``masks`` is ``(m, n_values)`` boolean;
    rows in ``forced`` escalate whatever the mask says.
    """
    n = scores.shape[0]
    gain = scores[:, 1] - scores[:, 0]
    free = np.ones(n, bool) if forced is None else ~forced
    cnt = np.bincount(index[free], minlength=n_values).astype(float)
    gsum = np.bincount(index[free], weights=gain[free], minlength=n_values)
    m = masks.astype(float)
    n_forced = 0.0 if forced is None else float(forced.sum())
    g_forced = 0.0 if forced is None else float(gain[forced].sum())
    share = (m @ cnt + n_forced) / n
    perf = scores[:, 0].mean() + (m @ gsum + g_forced) / n
    stop = costs.stop_costs
    cost = stop[0] + share * (stop[1] - stop[0])
    return Frontier(np.asarray(cost), np.asarray(perf), np.asarray(share))


def band_frontier(
    conf: np.ndarray,
    scores: np.ndarray,
    lows: np.ndarray | None,
    highs: np.ndarray,
    *,
    inclusive: bool,
    costs: CostSpec,
    forced: np.ndarray | None = None,
) -> Frontier:
    """Points of 2-tier policies escalating ``low <= conf < high`` (``<=`` if inclusive).

    ``lows=None`` means no lower end (a single threshold). Exact for any number of
    distinct confidences (sorted prefix sums, no binning).
    """
    n = scores.shape[0]
    gain = scores[:, 1] - scores[:, 0]
    free = np.ones(n, bool) if forced is None else ~forced
    order = np.argsort(conf[free], kind="stable")
    c = conf[free][order]
    csum = np.concatenate([[0.0], np.cumsum(gain[free][order])])
    hi_idx = np.searchsorted(c, highs, side="right" if inclusive else "left")
    lo_idx = np.zeros_like(hi_idx) if lows is None else np.searchsorted(c, lows, side="left")
    count = np.maximum(hi_idx - lo_idx, 0).astype(float)
    gsum = np.where(hi_idx > lo_idx, csum[hi_idx] - csum[np.minimum(lo_idx, hi_idx)], 0.0)
    n_forced = 0.0 if forced is None else float(forced.sum())
    g_forced = 0.0 if forced is None else float(gain[forced].sum())
    share = (count + n_forced) / n
    perf = scores[:, 0].mean() + (gsum + g_forced) / n
    stop = costs.stop_costs
    cost = stop[0] + share * (stop[1] - stop[0])
    return Frontier(np.asarray(cost), np.asarray(perf), np.asarray(share))


def band_frontier_tiers(
    conf: np.ndarray,
    scores: np.ndarray,
    lows: np.ndarray | None,
    highs: np.ndarray,
    *,
    inclusive: bool,
    costs: CostSpec,
    forced: np.ndarray | None = None,
    chunk: int = 2048,
) -> Frontier:
    """:func:`band_frontier` for N tiers: the same band applied at every non-final tier.

    ``conf`` is ``(n, tiers - 1)``; a row stops at the first tier whose confidence is
    outside the band (the last tier if none). Vectorised over the candidates (in chunks).
    """
    n, t = scores.shape
    rows = np.arange(n)[None, :]
    stop = costs.stop_costs
    cost_out, perf_out, share_out = [], [], []
    for a in range(0, highs.size, chunk):
        hi = highs[a : a + chunk, None, None]
        esc = conf[None] <= hi if inclusive else conf[None] < hi
        if lows is not None:
            esc &= conf[None] >= lows[a : a + chunk, None, None]
        # first tier that does not escalate; the last tier when all of them do
        stays = ~esc
        final = np.where(stays.any(axis=2), stays.argmax(axis=2), t - 1)
        if forced is not None:
            final = np.where(forced[None, :], t - 1, final)
        cost_out.append(stop[final].mean(axis=1))
        perf_out.append(scores[rows, final].mean(axis=1))
        share_out.append((final == t - 1).mean(axis=1))
    return Frontier(np.concatenate(cost_out), np.concatenate(perf_out), np.concatenate(share_out))
