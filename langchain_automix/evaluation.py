"""Fit and evaluate meta-verifiers on replay data; paper-style tables over seeds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from langchain_automix.calibration.metrics import (
    CostSpec,
    aiq,
    apgr,
    auroc,
    baselines,
    cpt,
    delta_ibc,
    delta_ibc_regions,
    delta_ibc_tiers,
    routing_point,
    routing_points,
)
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.meta_verifiers._fitting import Frontier
from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.meta_verifiers.registry import get_meta_verifier
from langchain_automix.signals import FREE_SIGNALS

__all__ = [
    "DEFAULT_METHODS",
    "Comparison",
    "MethodResult",
    "VerifierReport",
    "compare_methods",
    "default_methods",
    "evaluate_policy",
    "paired_interval",
    "verifier_report",
]

DEFAULT_METHODS: tuple[str, ...] = (
    "threshold",
    "double_threshold",
    "self_consistency",
    "greedy_pomdp",
    "pomdp",
    "automix_union",
)
"""Methods fitted by :func:`compare_methods` and ``automix evaluate --train``; with three
or more tiers ``chained`` (two-model AutoMix per pair of adjacent tiers) is added."""


def default_methods(n_tiers: int) -> tuple[str, ...]:
    """The methods compared by default on a cascade of ``n_tiers``."""
    return DEFAULT_METHODS if n_tiers <= 2 else (*DEFAULT_METHODS, "chained")


METRICS: tuple[str, ...] = (
    "delta_ibc",
    "avg_cost",
    "avg_performance",
    "llm_call_share",
    "apgr",
    "cpt50",
    "cpt80",
    "aiq",
)


def _clean(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


CI_LEVEL = 0.95
"""Coverage of the bootstrap intervals in tables and JSON."""


def _interval(draws: Sequence[np.ndarray | None]) -> tuple[float | None, float | None]:
    """Percentile interval of the seed-mean of a metric from per-seed bootstrap draws.

    Draw ``b`` of every seed is averaged over the seeds (each seed's test rows resampled
    independently), so the interval is that of the seed-averaged figure in the table.
    """
    arrs = [np.asarray(d, float) for d in draws if d is not None and np.size(d)]
    if not arrs or len(arrs) != len(draws):
        return None, None
    m = min(a.size for a in arrs)
    stacked = np.stack([a[:m] for a in arrs])
    means = stacked.mean(axis=0)
    means = means[np.isfinite(means)]
    if means.size < 10:
        return None, None
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def paired_interval(diff: np.ndarray, draws: int, rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of paired differences ``diff``.

    Each draw resamples the pairs (questions, or seeds) with replacement.

    Example:
        >>> lo, hi = paired_interval(np.array([1.0, 2.0, 3.0]), 200, np.random.default_rng(0))
        >>> 1.0 <= lo <= 2.0 <= hi <= 3.0
        True
    """
    boot = diff[rng.integers(0, diff.size, size=(draws, diff.size))].mean(axis=1)
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    lo, hi = np.percentile(boot, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass
class MethodResult:
    """Test metrics of one fitted policy (chosen point) and of its frontier."""

    name: str
    delta_ibc: float | None
    delta_ibc_regions: list[float | None]
    avg_cost: float
    avg_performance: float
    llm_call_share: float
    apgr: float | None
    cpt50: float | None
    cpt80: float | None
    aiq: float | None
    frontier: Frontier = field(repr=False)
    describe: str = ""
    bootstrap: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Metric values on bootstrap resamples of the test rows (``delta_ibc``,
    ``avg_cost``, ``avg_performance``, ``apgr``), when asked for."""
    tier_shares: list[float] = field(default_factory=list)
    """Share of test queries answered by each tier."""
    skip_share: float = 0.0
    """Share of test queries that skipped a tier (e.g. small -> large directly)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics (``None`` where undefined)."""
        return {
            "delta_ibc": self.delta_ibc,
            "delta_ibc_regions": self.delta_ibc_regions,
            "avg_cost": self.avg_cost,
            "avg_performance": self.avg_performance,
            "llm_call_share": self.llm_call_share,
            "apgr": self.apgr,
            "cpt50": self.cpt50,
            "cpt80": self.cpt80,
            "aiq": self.aiq,
            "tier_shares": self.tier_shares,
            "skip_share": self.skip_share,
        }


def _bootstrap(
    policy: MetaVerifier,
    test: ReplayDataset,
    final: np.ndarray,
    spec: CostSpec,
    n: int,
    seed: int,
    apgr_draws: int,
    visited: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """ΔIBC, cost, quality (``n`` draws) and APGR (``apgr_draws``) on resampled test rows."""
    rng = np.random.default_rng(seed)
    rows = test.resample_rows(n, rng)  # copies of one observation move together
    p = routing_points(
        test.scores[rows], final[rows], spec, None if visited is None else visited[rows]
    )
    small, large = p["small_performance"], p["large_performance"]
    out = {k: p[k] for k in ("delta_ibc", "avg_cost", "avg_performance")}
    apgrs = []
    for b in range(min(apgr_draws, n)):
        sub = test.subset(rows[b])
        front = policy._frontier(sub, spec, None)
        apgrs.append(apgr(front.llm_call_share, front.avg_performance, small[b], large[b]))
    out["apgr"] = np.asarray(apgrs, float)
    return out


def evaluate_policy(
    policy: MetaVerifier,
    test: ReplayDataset,
    *,
    costs: Sequence[float] = (1.0, 50.0),
    verify_costs: Sequence[float] | float | None = None,
    name: str | None = None,
    bootstrap: int = 0,
    bootstrap_seed: int = 0,
) -> MethodResult:
    """Metrics of a fitted policy on test rows.

    ΔIBC, cost, quality and share are those of the policy's decisions. APGR, CPT and
    AIQ and the five-region ΔIBC use the policy family's frontier on the test rows
    (its parameter sweep, plus never- and always-escalate), as RouteLLM and
    RouterBench evaluate routers over their thresholds. With ``bootstrap=B`` the
    result also holds ΔIBC, cost and quality on ``B`` resamples of the test rows
    (the policy's decisions kept; baselines recomputed on each resample) and APGR on
    up to 200 of them, for confidence intervals.
    """
    spec = policy.charged(CostSpec.make(costs, verify_costs, n_tiers=test.n_tiers))
    routing = policy.route_paths(test)
    final, visited = routing.final, routing.visited
    point = routing_point(test.scores, final, spec, visited)
    small = (spec.small_cost, float(test.scores[:, 0].mean()))
    large = (spec.large_cost, float(test.scores[:, -1].mean()))
    tier_perf = [float(v) for v in test.scores.mean(axis=0)]

    def dibc(cost: Any, perf: Any) -> Any:
        if test.n_tiers > 2:
            return delta_ibc_tiers(cost, perf, spec.unit_costs, tier_perf)
        return delta_ibc(cost, perf, small, large)

    stop = spec.stop_costs
    anchors = Frontier(
        np.array([stop[0], stop[-1]]), np.array([small[1], large[1]]), np.array([0.0, 1.0])
    )
    chosen = Frontier(
        np.array([point.avg_cost]),
        np.array([point.avg_performance]),
        np.array([point.llm_call_share]),
    )
    front = Frontier.concat([policy._frontier(test, spec, None), chosen, anchors])
    share_args = (front.llm_call_share, front.avg_performance, small[1], large[1])
    regions = delta_ibc_regions(
        front.avg_cost,
        front.avg_performance,
        small,
        large,
        cost_range=(float(stop[0]), float(stop[-1])),
    )
    return MethodResult(
        name=name or policy.name,
        delta_ibc=_clean(float(dibc(point.avg_cost, point.avg_performance))),
        delta_ibc_regions=[_clean(r) for r in regions],
        avg_cost=point.avg_cost,
        avg_performance=point.avg_performance,
        llm_call_share=point.llm_call_share,
        apgr=_clean(apgr(*share_args)),
        cpt50=_clean(cpt(*share_args, level=0.5)),
        cpt80=_clean(cpt(*share_args, level=0.8)),
        aiq=_clean(aiq(front.avg_cost, front.avg_performance)),
        frontier=front,
        describe=policy.describe(),
        bootstrap=(
            _bootstrap(policy, test, final, spec, bootstrap, bootstrap_seed, 200, visited)
            if bootstrap
            else {}
        ),
        tier_shares=[float(v) for v in np.bincount(final, minlength=test.n_tiers) / test.n_rows],
        skip_share=float(routing.skipped.mean()),
    )


@dataclass
class Comparison:
    """Results of every method over seeds, with baselines on the test rows (mean over seeds)."""

    results: dict[str, list[MethodResult]]
    baselines: dict[str, dict[str, float | None]]
    train_size: int
    test_size: int
    unsupported: dict[str, str] = field(default_factory=dict)
    """Methods left out because they do not support this cascade, with the reason."""

    def summary(self) -> dict[str, dict[str, Any]]:
        """Mean of each metric over seeds (``<metric>_std`` for the standard deviation)."""
        out: dict[str, dict[str, Any]] = {}
        for name, runs in self.results.items():
            row: dict[str, Any] = {"seeds": len(runs)}
            for metric in METRICS:
                vals = [getattr(r, metric) for r in runs]
                nums = np.array([v for v in vals if v is not None], float)
                row[metric] = _clean(float(nums.mean())) if nums.size else None
                row[f"{metric}_std"] = _clean(float(nums.std())) if nums.size else None
            regions = np.array(
                [[np.nan if v is None else v for v in r.delta_ibc_regions] for r in runs], float
            )
            with np.errstate(all="ignore"):
                reg_mean = np.nanmean(regions, axis=0) if regions.size else np.array([])
            for metric in ("delta_ibc", "avg_cost", "avg_performance", "apgr"):
                lo, hi = _interval([r.bootstrap.get(metric) for r in runs])
                row[f"{metric}_ci"] = None if lo is None else [lo, hi]
            shares = [r.tier_shares for r in runs if r.tier_shares]
            row["tier_shares"] = [float(v) for v in np.mean(shares, axis=0)] if shares else None
            row["skip_share"] = float(np.mean([r.skip_share for r in runs])) if runs else 0.0
            row["delta_ibc_regions"] = [_clean(float(v)) for v in reg_mean]
            finite = reg_mean[np.isfinite(reg_mean)]
            row["delta_ibc_regions_mean"] = _clean(float(finite.mean())) if finite.size else None
            out[name] = row
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """``{"methods": {...}, "baselines": {...}, "train_size": ..., "test_size": ...}``."""
        return {
            "methods": self.summary(),
            "baselines": self.baselines,
            "train_size": self.train_size,
            "test_size": self.test_size,
        }

    def format_table(self) -> str:
        """A plain-text table like the paper's (mean ± std over seeds)."""

        def num(v: float, digits: int) -> str:
            # rounding noise around 0 (a fallback's ΔIBC) prints as 0.0, not -0.0
            return f"{round(v, digits) + 0.0:.{digits}f}"

        def fmt(v: float | None, s: float | None, digits: int) -> str:
            if v is None:
                return "-"
            return num(v, digits) + ("" if s is None else f" ± {num(s, digits)}")

        def ci(v: list[float] | None, digits: int) -> str:
            return "" if v is None else f"[{num(v[0], digits)}, {num(v[1], digits)}]"

        summary = self.summary()
        with_ci = any(m.get("delta_ibc_ci") for m in summary.values())
        multi = any(len(m.get("tier_shares") or ()) > 2 for m in summary.values())
        head = ["method", "ΔIBC %", *(["95% CI"] if with_ci else []), "ΔIBC 5-reg", "cost"]
        head += ["quality", "LLM share", "APGR"]
        if multi:
            head += ["answered by tier %", "skip %"]
        rows = [head]
        spanning: list[str] = []
        below: list[str] = []
        for name, m in summary.items():
            interval = m.get("delta_ibc_ci")
            if interval is not None and interval[0] <= 0.0 <= interval[1]:
                spanning.append(name)
            elif interval is not None and interval[1] < 0.0:
                below.append(name)
            rows.append(
                [
                    name,
                    fmt(m["delta_ibc"], m["delta_ibc_std"], 1),
                    *([ci(interval, 1)] if with_ci else []),
                    fmt(m["delta_ibc_regions_mean"], None, 1),
                    fmt(m["avg_cost"], m["avg_cost_std"], 2),
                    fmt(m["avg_performance"], m["avg_performance_std"], 3),
                    fmt(m["llm_call_share"], m["llm_call_share_std"], 3),
                    fmt(m["apgr"], m["apgr_std"], 3),
                    *(
                        [
                            "/".join(f"{100 * v:.0f}" for v in m["tier_shares"] or ()),
                            f"{100 * m['skip_share']:.0f}",
                        ]
                        if multi
                        else []
                    ),
                ]
            )
        for name, b in self.baselines.items():
            rows.append(
                [
                    f"[{name}]",
                    fmt(b.get("delta_ibc"), None, 1),
                    *([""] if with_ci else []),
                    "",
                    fmt(b["avg_cost"], None, 2),
                    fmt(b["avg_performance"], None, 3),
                    fmt(b["llm_call_share"], None, 3),
                    fmt(b.get("apgr"), None, 3),
                    *(["", ""] if multi else []),
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in rows
        ]
        lines.insert(1, "-" * len(lines[0]))
        if with_ci:
            reference = (
                "the two fixed models of the cost region (upper hull of the always-tier-i points)"
                if multi
                else "the two baselines"
            )
            lines.append(
                "ΔIBC: mean ± std over seeds; 95% CI: bootstrap of the test rows "
                f"(seed-averaged). ΔIBC 0 = random mixing of {reference}."
            )
            if spanning:
                lines.append(
                    "interval spans 0 (no evidence of beating random mixing): "
                    + ", ".join(spanning)
                )
            if below:
                lines.append("interval below 0 (worse than random mixing): " + ", ".join(below))
        for name, reason in self.unsupported.items():
            lines.append(f"{name}: not run ({reason.split(';')[0]})")
        return "\n".join(lines)


def compare_methods(
    train: ReplayDataset,
    test: ReplayDataset | None = None,
    *,
    methods: Sequence[str] | Mapping[str, Callable[[], MetaVerifier]] | None = None,
    costs: Sequence[float] = (1.0, 50.0),
    verify_costs: Sequence[float] | float | None = None,
    seeds: Sequence[int] = (0,),
    train_size: int | None = None,
    test_fraction: float = 0.5,
    target_llm_share: float | None = None,
    budget: float | None = None,
    lam: float | None = None,
    signal: str | Sequence[str] = "verifier",
    robust: bool = False,
    bootstrap: int = 0,
    risk: str = "balanced",
    check: str = "agree",
    train_view: Callable[[ReplayDataset], ReplayDataset] | None = None,
    test_view: Callable[[ReplayDataset], ReplayDataset] | None = None,
) -> Comparison:
    """Fit every method on resampled training sets and evaluate on test rows.

    For each seed, ``train_size`` rows are drawn without replacement from ``train``
    (all of it when ``None``). Without ``test``, each seed first splits ``train`` into
    a test part (``test_fraction``) and a training pool. The baselines (always-small,
    always-large, random mixing, oracle) are averaged over the seeds' test rows, as
    the methods' metrics are.

    Methods named in ``methods`` are fitted on ``signal`` (default the paper's
    verifier confidence) and, with ``robust``, with the cross-validated fallback of
    :class:`~langchain_automix.meta_verifiers.Calibrated` (at ``risk`` and ``check``).
    ``bootstrap=B`` adds 95% intervals (``<metric>_ci`` in :meth:`Comparison.summary`)
    from ``B`` resamples of each seed's test rows.

    ``train_view`` / ``test_view`` transform each seed's training and test rows after
    the split (e.g. :func:`~langchain_automix.collection.labels.relabel`: fit on
    agreement labels, evaluate on gold ones, the same rows split the same way).
    """
    from langchain_automix.meta_verifiers.calibrated import Calibrated

    if methods is None:
        methods = default_methods(train.n_tiers)
    factories: dict[str, Callable[[], MetaVerifier]]
    if isinstance(methods, Mapping):
        factories = dict(methods)
    elif robust or signal != "verifier":

        def calibrated(m: str) -> Callable[[], MetaVerifier]:
            return lambda: Calibrated(
                get_meta_verifier(m), signal=signal, robust=robust, risk=risk, check=check
            )

        factories = {m: calibrated(m) for m in methods}
    else:
        factories = {m: (lambda m=m: get_meta_verifier(m)) for m in methods}  # type: ignore[misc]
    results: dict[str, list[MethodResult]] = {name: [] for name in factories}
    unsupported: dict[str, str] = {}
    test_sets: list[ReplayDataset] = []
    used_train = used_test = 0
    for seed in seeds:
        if test is None:
            n_test = max(1, round(train.n_rows * test_fraction))
            pool, test_s = train.split(train.n_rows - n_test, seed=seed)
        else:
            pool, test_s = train, test
        if test_view is not None:
            test_s = test_view(test_s)
        test_sets.append(test_s)
        train_s = pool if train_size is None else pool.sample(train_size, seed=seed)
        if train_view is not None:
            train_s = train_view(train_s)
        used_train, used_test = train_s.n_rows, test_s.n_rows
        for name, make in factories.items():
            if name in unsupported:
                continue
            try:
                policy = make().fit(
                    train_s,
                    costs=costs,
                    verify_costs=verify_costs,
                    target_llm_share=target_llm_share,
                    budget=budget,
                    lam=lam,
                )
            except NotImplementedError as exc:  # e.g. a 2-tier-only method on 3 tiers
                unsupported[name] = str(exc)
                continue
            results[name].append(
                evaluate_policy(
                    policy,
                    test_s,
                    costs=costs,
                    verify_costs=verify_costs,
                    name=name,
                    bootstrap=bootstrap,
                    bootstrap_seed=seed,
                )
            )
    if not test_sets:
        raise ValueError("seeds must not be empty")
    spec = CostSpec.make(costs, verify_costs, n_tiers=test_sets[0].n_tiers)
    per_seed = [baselines(t.scores, spec) for t in test_sets]
    if len(unsupported) == len(results):
        raise NotImplementedError("; ".join(unsupported.values()))
    for name in unsupported:
        results.pop(name, None)
    return Comparison(
        results, _mean_baselines(per_seed), used_train, used_test, unsupported=unsupported
    )


def _mean_baselines(
    per_seed: Sequence[dict[str, dict[str, float | None]]],
) -> dict[str, dict[str, float | None]]:
    """Average the baselines of each seed's test rows, like the methods' rows of the table.

    A value that is undefined in some seeds (``None``) is averaged over the others, and
    stays ``None`` when it is undefined in all of them.
    """
    out: dict[str, dict[str, float | None]] = {}
    for name, first in per_seed[0].items():
        row: dict[str, float | None] = {}
        for key in first:
            vals = [v for b in per_seed if (v := b[name][key]) is not None]
            row[key] = _clean(float(np.mean(vals))) if vals else None
        out[name] = row
    return out


@dataclass(frozen=True)
class VerifierReport:
    """How well one tier's self-verification separates its right answers from wrong ones.

    Routing can only be as good as this signal: with an AUROC near 0.5 no meta-verifier
    beats random mixing. Built by :func:`verifier_report`.

    Attributes:
        tier: Index of the verified (non-final) tier.
        model: Its model name when the rows agree on one.
        n_rows: Rows measured.
        correct_at: An answer counts as correct when its score is at least this.
        quality: Mean score of this tier's answers.
        next_quality: Mean score of the next tier's answers on the same rows.
        correct_share: Share of this tier's answers counted correct.
        mean_confidence_correct: Mean confidence on correct answers (``None`` if none).
        mean_confidence_incorrect: Mean confidence on incorrect answers (``None`` if none).
        auroc: Area under the ROC curve of confidence for "answer correct" (``None``
            when all answers are correct or all incorrect).
        correlation: Pearson correlation of confidence with the score (``None`` when
            either is constant).
        invalid_sample_share: Share of verifier samples without a decision, from the
            rows' ``verifier_samples`` / ``verifier_n_valid`` (``None`` when absent).
        rows_without_valid_sample: Rows whose samples held no decision at all.
        signals: AUROC for "answer correct" of every routing signal in the rows
            (``verifier`` first), each ``{"auroc", "ci", "n_rows"}``; ``ci`` is a 95%
            bootstrap interval (see :mod:`langchain_automix.signals`).
    """

    tier: int
    model: str | None
    n_rows: int
    correct_at: float
    quality: float
    next_quality: float
    correct_share: float
    mean_confidence_correct: float | None
    mean_confidence_incorrect: float | None
    auroc: float | None
    correlation: float | None
    invalid_sample_share: float | None
    rows_without_valid_sample: int | None
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def format(self) -> str:
        """A short plain-text block, with a warning when the signal is weak."""

        def f(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)

        name = f"tier {self.tier}" + (f" ({self.model})" if self.model else "")
        lines = [
            f"verifier signal of {name}: {self.n_rows} rows, "
            f'"correct" = score >= {self.correct_at:g}',
            f"  quality {self.quality:.3f} (next tier {self.next_quality:.3f}), "
            f"answers correct {self.correct_share:.1%}",
            f"  mean confidence: correct {f(self.mean_confidence_correct, '.3f')}, "
            f"incorrect {f(self.mean_confidence_incorrect, '.3f')}",
            f"  AUROC {f(self.auroc, '.3f')}, correlation with score {f(self.correlation, '.3f')}",
        ]
        if self.invalid_sample_share is not None:
            lines.append(
                f"  samples without a decision {self.invalid_sample_share:.1%}, "
                f"rows with no decision at all {self.rows_without_valid_sample}"
            )
        if len(self.signals) > 1:
            lines.append(
                "  by signal: AUROC (95% bootstrap CI), rows, and the cost of its call\n"
                "  (median seconds and tokens per answer as recorded; free = no call):"
            )
            for name, s in self.signals.items():
                ci = s.get("ci")
                span = "" if not ci else f" [{ci[0]:.3f}, {ci[1]:.3f}]"
                cost = ""
                if s.get("median_s") == 0.0 and s.get("median_tokens") == 0.0:
                    cost = "  free"
                elif "median_s" in s:
                    cost = f"  {s['median_s']:.2f} s"
                    if "median_tokens" in s:
                        cost += f", {s['median_tokens']:.0f} tokens"
                lines.append(
                    f"    {name:<18} {f(s.get('auroc'), '.3f')}{span}  ({s['n_rows']}){cost}"
                )
        if self.auroc is not None and self.auroc < 0.6:
            lines.append(
                "  note: with AUROC below 0.6 the verifier barely tells right answers from\n"
                "  wrong ones, so routing on it can do little better than random mixing"
            )
        return "\n".join(lines)

    def to_json_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def verifier_report(data: ReplayDataset, *, correct_at: float = 0.5) -> list[VerifierReport]:
    """Measure the verifier signal of every non-final tier of ``data``.

    Args:
        data: Replay rows (scores and verifier confidences; sample counts are read from
            the raw records when present).
        correct_at: Score from which an answer counts as correct (F1 scores are
            fractional; 0.5 by default).

    Returns:
        One :class:`VerifierReport` per non-final tier.

    Example:
        >>> data = ReplayDataset.from_arrays(
        ...     scores=[[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        ...     confidences=[[0.9], [0.2], [0.6], [0.4]])
        >>> report = verifier_report(data)[0]
        >>> report.auroc, report.correct_share
        (1.0, 0.5)
    """
    if not 0.0 < correct_at <= 1.0:
        raise ValueError(f"correct_at must be in (0, 1], got {correct_at!r}")
    reports = []
    for t in range(data.n_tiers - 1):
        conf = data.confidences[:, t]
        score = data.scores[:, t]
        correct = score >= correct_at
        with np.errstate(all="ignore"):
            corr = (
                float(np.corrcoef(conf, score)[0, 1])
                if conf.std() > 0 and score.std() > 0
                else None
            )
        invalid: float | None = None
        empty: int | None = None
        counts = [
            (len(tier["verifier_samples"]), int(tier["verifier_n_valid"]))
            for rec in data.records
            for tier in [rec["tiers"][t]]
            if isinstance(tier.get("verifier_samples"), list)
            and tier.get("verifier_n_valid") is not None
        ]
        if data.records and len(counts) == data.n_rows:
            total = sum(n for n, _ in counts)
            invalid = 1.0 - sum(v for _, v in counts) / total if total else None
            empty = sum(1 for _, v in counts if v == 0)
        reports.append(
            VerifierReport(
                tier=t,
                model=data.models[t] if data.models else None,
                n_rows=data.n_rows,
                correct_at=correct_at,
                quality=float(score.mean()),
                next_quality=float(data.scores[:, t + 1].mean()),
                correct_share=float(correct.mean()),
                mean_confidence_correct=float(conf[correct].mean()) if correct.any() else None,
                mean_confidence_incorrect=(
                    float(conf[~correct].mean()) if (~correct).any() else None
                ),
                auroc=auroc(conf, correct),
                correlation=_clean(corr) if corr is not None else None,
                invalid_sample_share=invalid,
                rows_without_valid_sample=empty,
                signals={
                    name: {
                        **_signal_auroc(data.signal(name)[:, t], correct),
                        **_signal_cost(data.records, t, name),
                    }
                    for name in data.signal_names
                },
            )
        )
    return reports


_COST_FIELDS = {
    "verifier": ("verify_latency_s", "verify_usage"),
    "logprob_verifier": ("logprob_verify_latency_s", "logprob_verify_usage"),
}
"""Where ``automix collect`` rows record what each verification call cost."""


def _signal_cost(records: Sequence[Mapping[str, Any]], tier: int, name: str) -> dict[str, Any]:
    """Median seconds and tokens of the call behind a signal, as recorded in the rows.

    Free signals cost no call (0 s, 0 tokens); a verifier signal's cost is read from the
    rows ``automix collect`` wrote (``verify_latency_s``, ``verify_usage``, ...), and is
    absent when the rows do not record it.
    """
    if name in FREE_SIGNALS:
        return {"median_s": 0.0, "median_tokens": 0.0}
    fields = _COST_FIELDS.get(name)
    if fields is None or not records:
        return {}
    secs, toks = [], []
    for rec in records:
        tiers = rec.get("tiers") or []
        entry = tiers[tier] if tier < len(tiers) and isinstance(tiers[tier], Mapping) else {}
        sec, usage = entry.get(fields[0]), entry.get(fields[1])
        if isinstance(sec, (int, float)):
            secs.append(float(sec))
        if isinstance(usage, Mapping) and usage:
            toks.append(float(usage.get("input_tokens", 0)) + float(usage.get("output_tokens", 0)))
    out: dict[str, Any] = {}
    if secs:
        out["median_s"] = float(np.median(secs))
    if toks:
        out["median_tokens"] = float(np.median(toks))
    return out


def _signal_auroc(values: np.ndarray, correct: np.ndarray, draws: int = 500) -> dict[str, Any]:
    """AUROC of one signal on the rows that have it, with a 95% bootstrap interval."""
    have = ~np.isnan(values)
    v, y = values[have], correct[have]
    out: dict[str, Any] = {"auroc": auroc(v, y), "ci": None, "n_rows": int(have.sum())}
    if out["auroc"] is None or v.size < 10:
        return out
    rng = np.random.default_rng(0)
    stats = [auroc(v[i], y[i]) for i in rng.integers(0, v.size, size=(draws, v.size))]
    arr = np.array([s for s in stats if s is not None], float)
    if arr.size >= 10:
        tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
        out["ci"] = [float(x) for x in np.percentile(arr, [tail, 100.0 - tail])]
    return out
