"""Drift alarm: does live traffic still look like the rows the policy was fitted on?

A fitted policy's operating point (a threshold, a POMDP's belief table) is only right
for the distribution of routing signals it was fitted on. A new small model, another
prompt or verification mode, or another kind of question moves that distribution, and
the policy then escalates more or fewer queries than it was chosen for, silently.

:class:`SignalReference` summarises the training distribution of each signal a policy
reads, per non-final tier (key ``"tier0/verifier"``): a sorted sample of at most
``max_values`` values (a deterministic quantile subsample above that), JSON-ready, which
policy files keep in their provenance. :class:`DriftMonitor` keeps a rolling window of
the live values of each key and compares it with the reference by a two-sample
Kolmogorov-Smirnov test (``method="ks"``, the default) or the population stability
index (``method="psi"``); it logs one warning (logger ``langchain_automix.drift``) when
a key drifts and an info when it recovers.

By default a key drifts when its statistic exceeds the critical value at level
``alpha / number of keys`` for the current window and reference sizes (Bonferroni over
the keys), so the chance that a window of unchanged traffic raises the alarm on any key
stays at most about ``alpha``. Signal values are compared at 6 decimals (both sides are
rounded), so a verifier share such as 1/3 matches however it was computed. Verifier
confidences lie on a grid (shares of ``k`` samples): the PSI bins cut only between
distinct reference values, and the KS p-value, exact for continuous data, is
conservative on such ties (it raises fewer alarms than ``alpha``, never more).

The defaults (KS, a window of 200, ``alpha`` 0.01, verdicts from 50 values on) were
chosen on the shipped replays (``benchmarks/bench_drift.py``, 400 windows a cell): at
most 1.8% of windows of unchanged traffic raised the alarm, and every window of another
small model or another verification mode did; windows of 50 miss up to 9% of those.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reference = SignalReference.from_samples(
    ...     {"tier0/verifier": rng.integers(0, 9, 300) / 8})
    >>> monitor = DriftMonitor(reference, window=100)
    >>> for x in rng.integers(0, 9, 100) / 8:  # the same distribution
    ...     monitor.observe(0, {"verifier": x})
    >>> monitor.status()["drifted"]
    False
    >>> for x in rng.integers(0, 3, 100) / 8:  # the verifier now says "wrong" far more
    ...     monitor.observe(0, {"verifier": x})
    >>> status = monitor.status()
    >>> status["drifted"], status["signals"]["tier0/verifier"]["n"]
    (True, 100)
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from langchain_automix._checks import as_int, as_mapping, only_keys, require

if TYPE_CHECKING:
    from langchain_automix.calibration.replay import ReplayDataset

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_WINDOW",
    "DriftMonitor",
    "KSResult",
    "ReferenceSample",
    "SignalReference",
    "chi2_quantile",
    "ks_critical_value",
    "ks_p_value",
    "ks_two_sample",
    "population_stability_index",
    "psi_edges",
    "reference_key",
]

logger = logging.getLogger("langchain_automix.drift")

DEFAULT_WINDOW = 200
"""Live values per key the monitor compares with the reference (see
``benchmarks/results/bench_drift.txt``)."""

DEFAULT_ALPHA = 0.01
"""Chance that a window of unchanged traffic raises the alarm, split over the keys."""

DECIMALS = 6
"""Signal values are compared rounded to this many decimals (reference and live)."""

PSI_PSEUDO_COUNT = 0.5
"""Counts the monitor adds to every PSI bin, reference and live (an empty bin of a small
window would otherwise dominate the index)."""

REFERENCE_VERSION = 1
"""Version of :meth:`SignalReference.to_dict`'s layout."""

Method = Literal["ks", "psi"]


# ---------------------------------------------------------------------------- statistics
class KSResult(NamedTuple):
    """A two-sample Kolmogorov-Smirnov test."""

    statistic: float
    """The largest gap between the two empirical distribution functions."""
    p_value: float
    """Asymptotic p-value (conservative when the values have ties)."""


def _kolmogorov_sf(lam: float) -> float:
    """P(K > lam) of the Kolmogorov distribution: 2 sum (-1)^(j-1) exp(-2 j^2 lam^2)."""
    if lam < 0.2:  # the series converges slowly here and the sum is 1 to 1e-15
        return 1.0
    total = 0.0
    for j in range(1, 101):
        term = math.exp(-2.0 * j * j * lam * lam)
        total += term if j % 2 else -term
        if term < 1e-16:
            break
    return min(1.0, max(0.0, 2.0 * total))


def _effective_n(n: int, m: int) -> float:
    en = math.sqrt(n * m / (n + m))
    return en + 0.12 + 0.11 / en  # Stephens' small-sample correction (Numerical Recipes)


def ks_p_value(statistic: float, n: int, m: int) -> float:
    """Asymptotic p-value of a two-sample KS statistic for samples of sizes ``n``, ``m``.

    The Kolmogorov distribution at ``(sqrt(nm/(n+m)) + 0.12 + 0.11/sqrt(nm/(n+m))) * D``
    (Stephens' correction, as in Numerical Recipes' ``kstwo``). Exact in the limit for
    continuous data; on discrete data (ties) the true p-value is smaller, so this one is
    conservative.

    Example:
        >>> round(ks_p_value(0.2, 100, 100), 4)
        0.0314
        >>> ks_p_value(0.0, 50, 50)
        1.0
    """
    if n < 1 or m < 1:
        raise ValueError(f"sample sizes must be >= 1, got {n} and {m}")
    return _kolmogorov_sf(_effective_n(n, m) * float(statistic))


@lru_cache(maxsize=64)
def _kolmogorov_isf(alpha: float) -> float:
    lo, hi = 0.2, 10.0  # _kolmogorov_sf falls from 1 to ~0 over this range
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if _kolmogorov_sf(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def ks_critical_value(alpha: float, n: int, m: int) -> float:
    """The KS statistic whose :func:`ks_p_value` is ``alpha`` (larger ones reject).

    Example:
        >>> d = ks_critical_value(0.05, 100, 100)
        >>> round(d, 4), round(ks_p_value(d, 100, 100), 4)
        (0.1885, 0.05)
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if n < 1 or m < 1:
        raise ValueError(f"sample sizes must be >= 1, got {n} and {m}")
    return _kolmogorov_isf(float(alpha)) / _effective_n(n, m)


def ks_two_sample(a: Any, b: Any) -> KSResult:
    """Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value.

    The statistic is the largest gap between the two empirical distribution functions,
    evaluated at every value of either sample (ties counted on both sides at once, so
    discrete data such as shares of ``k`` samples are handled exactly); the p-value is
    :func:`ks_p_value`'s, conservative on such ties.

    Example:
        >>> ks_two_sample([0.0, 0.25, 0.5, 0.5], [0.5, 0.5, 0.75, 1.0]).statistic
        0.5
        >>> ks_two_sample([0.125] * 5, [0.125] * 3)
        KSResult(statistic=0.0, p_value=1.0)
    """
    x = np.sort(np.asarray(a, dtype=float).ravel())
    y = np.sort(np.asarray(b, dtype=float).ravel())
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples need at least one value")
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / x.size
    fy = np.searchsorted(y, grid, side="right") / y.size
    d = float(np.max(np.abs(fx - fy)))
    return KSResult(d, ks_p_value(d, x.size, y.size))


def psi_edges(values: Any, bins: int = 10) -> np.ndarray:
    """Inner bin edges for the PSI of a signal, from its reference values.

    Cuts near the ``j / bins`` quantiles, but only *between* distinct values (at the
    midpoint), so a value that many rows share (0 confidence, a grid of ``k``-sample
    shares, a 0/1 indicator) falls in one bin whole and no bin is empty in the
    reference. A bin holding less than half a ``1 / bins`` share is merged into its
    smaller neighbour while more than two bins remain. A constant reference gives no
    edges (one bin: PSI cannot see a change of it; KS can).

    Example:
        >>> psi_edges([0.0] * 4 + [0.25] * 2 + [0.5] * 2 + [1.0] * 2, bins=4).tolist()
        [0.125, 0.375, 0.75]
        >>> psi_edges([0.0] * 6 + [0.25, 0.5, 0.5, 1.0], bins=4).tolist()  # 10% merged
        [0.125]
        >>> psi_edges([0, 0, 0, 1], bins=10).tolist()
        [0.5]
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite reference values")
    uniq, counts = np.unique(x, return_counts=True)
    cum = np.cumsum(counts) / x.size
    # cut after the first distinct value whose cumulative share reaches j / bins
    cuts = sorted(
        {int(np.searchsorted(cum, j / bins - 1e-12, side="left")) for j in range(1, bins)}
    )
    cuts = [c for c in cuts if c < uniq.size - 1]
    shares = np.diff(np.concatenate([[0.0], cum[cuts], [1.0]])).tolist()
    while len(shares) > 2 and min(shares) < 0.5 / bins:
        i = int(np.argmin(shares))
        if i == 0:
            j = 1
        elif i == len(shares) - 1:
            j = i - 1
        else:
            j = i - 1 if shares[i - 1] <= shares[i + 1] else i + 1
        lo = min(i, j)
        shares[lo : lo + 2] = [shares[i] + shares[j]]
        del cuts[lo]
    return np.array([(uniq[c] + uniq[c + 1]) / 2.0 for c in cuts], dtype=float)


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)


def population_stability_index(expected: Any, actual: Any, *, eps: float = 1e-4) -> float:
    """PSI of two binned distributions: ``sum((a - e) * ln(a / e))``.

    ``expected`` (the reference) and ``actual`` are counts or shares per bin, each
    normalised to sum to 1; a share below ``eps`` counts as ``eps`` so that an empty
    bin gives a large but finite term. The rule of thumb (0.1: some shift, 0.25: a
    major one) is for large samples; on a window of ``n`` values against ``m``
    reference values, unchanged traffic gives about ``(bins - 1) * (1/n + 1/m)`` on
    average (see :class:`DriftMonitor`'s default threshold).

    Example:
        >>> round(population_stability_index([50, 50], [25, 75]), 4)
        0.2747
        >>> round(population_stability_index([1, 0], [1, 1]), 4)
        4.6043
    """
    e = np.asarray(expected, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    if e.shape != a.shape or e.size == 0:
        raise ValueError(f"expected and actual need the same bins, got {e.size} and {a.size}")
    if (e < 0).any() or (a < 0).any() or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("bin counts must be >= 0 with a positive total")
    p = np.maximum(e / e.sum(), eps)
    q = np.maximum(a / a.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def chi2_quantile(q: float, dof: int) -> float:
    """The ``q`` quantile of a chi-square distribution (Wilson-Hilferty approximation).

    Example:
        >>> round(chi2_quantile(0.99, 9), 1)  # exact: 21.67
        21.7
    """
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    z = NormalDist().inv_cdf(q)
    c = 2.0 / (9.0 * dof)
    return dof * max(0.0, 1.0 - c + z * math.sqrt(c)) ** 3


# ---------------------------------------------------------------------------- reference
def _rounded(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return np.round(x[np.isfinite(x)], DECIMALS) + 0.0  # + 0.0: no -0.0


@dataclass(frozen=True)
class ReferenceSample:
    """The training values of one signal at one tier: distinct values and their counts.

    Example:
        >>> s = ReferenceSample.from_values([0.5, 0.0, 0.5, float("nan")])
        >>> s
        ReferenceSample(values=(0.0, 0.5), counts=(1, 2), n=3)
        >>> s.sample().tolist()
        [0.0, 0.5, 0.5]
        >>> ReferenceSample.from_values(np.arange(1000) / 999, max_values=4).values
        (0.125125, 0.375375, 0.625626, 0.875876)
    """

    values: tuple[float, ...]
    """Distinct values, increasing (rounded to :data:`DECIMALS`)."""
    counts: tuple[int, ...]
    """How many of the kept values equal each."""
    n: int
    """Finite training values summarised (more than ``sum(counts)`` when subsampled)."""

    def __post_init__(self) -> None:
        if not self.values or len(self.values) != len(self.counts):
            raise ValueError("values and counts must be non-empty and of the same length")
        if any(b <= a for a, b in pairwise(self.values)):
            raise ValueError("values must be strictly increasing")
        if any(c < 1 for c in self.counts):
            raise ValueError("counts must be >= 1")
        if self.n < sum(self.counts):
            raise ValueError(f"n ({self.n}) is less than the values kept ({sum(self.counts)})")

    @classmethod
    def from_values(cls, values: Any, *, max_values: int = 500) -> ReferenceSample:
        """Summarise raw values (NaN dropped): all of them, or ``max_values`` quantiles.

        Above ``max_values`` values it keeps the sorted values at the ``(i + 0.5) /
        max_values`` quantiles: deterministic, and shared values keep their share.

        Raises:
            ValueError: no finite value, or ``max_values < 1``.
        """
        if max_values < 1:
            raise ValueError(f"max_values must be >= 1, got {max_values}")
        x = np.sort(np.asarray(values, dtype=float).ravel())
        x = x[np.isfinite(x)]
        if x.size == 0:
            raise ValueError("no finite value to summarise")
        n = int(x.size)
        if n > max_values:
            x = x[((np.arange(max_values) + 0.5) * n / max_values).astype(int)]
        uniq, counts = np.unique(_rounded(x), return_counts=True)
        return cls(values=tuple(float(v) for v in uniq), counts=tuple(int(c) for c in counts), n=n)

    @property
    def size(self) -> int:
        """Number of values kept (the KS test's reference sample size)."""
        return sum(self.counts)

    def sample(self) -> np.ndarray:
        """The kept values, sorted, each repeated by its count."""
        return np.repeat(np.asarray(self.values, dtype=float), self.counts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"n": 3, "sample": "0.0 0.5*2"}``, one line in a policy file.

        ``sample`` lists the distinct values, each followed by ``*count`` when the
        count is above 1 (a list would take a line per value in an indented file).
        """
        pairs = zip(self.values, self.counts, strict=True)
        tokens = (repr(v) if c == 1 else f"{v!r}*{c}" for v, c in pairs)
        return {"n": self.n, "sample": " ".join(tokens)}

    @classmethod
    def from_dict(cls, payload: Any, where: str = "sample") -> ReferenceSample:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` names the bad field.

        Example:
            >>> ReferenceSample.from_dict({"n": 3, "sample": "0.0 0.5*2"}).counts
            (1, 2)
            >>> ReferenceSample.from_dict({"n": 3, "sample": "0.0 half*2"})
            Traceback (most recent call last):
            ...
            ValueError: sample.sample: 'half*2' is not a value or value*count
        """
        d = as_mapping(payload, where)
        only_keys(d, ("n", "sample"), f"{where}.")
        n = as_int(require(d, "n", f"{where}."), f"{where}.n")
        text = require(d, "sample", f"{where}.")
        if not isinstance(text, str):
            raise ValueError(f"{where}.sample must be a string, got {type(text).__name__}")
        values: list[float] = []
        counts: list[int] = []
        for token in text.split():
            value, _, count = token.partition("*")
            try:
                x, c = float(value), int(count) if count else 1
            except ValueError:
                raise ValueError(
                    f"{where}.sample: {token!r} is not a value or value*count"
                ) from None
            if not math.isfinite(x):
                raise ValueError(f"{where}.sample: {token!r} is not a finite value")
            values.append(x)
            counts.append(c)
        try:
            return cls(values=tuple(values), counts=tuple(counts), n=n)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def reference_key(tier: int, signal: str) -> str:
    """The key of a signal at a tier, e.g. ``tier0/verifier``."""
    return f"tier{int(tier)}/{signal}"


def _check_key(key: str) -> None:
    tier, sep, name = key.partition("/")
    if not sep or not name or not tier.startswith("tier") or not tier[4:].isdigit():
        raise ValueError(f"reference keys look like 'tier0/verifier', got {key!r}")


@dataclass(frozen=True)
class SignalReference:
    """Training distribution of each routing signal, per non-final tier.

    Keys are ``"tier<t>/<signal>"``; each holds a :class:`ReferenceSample`. Policies
    record one when fitted (``policy.provenance.signal_reference``, for the signals they
    read, on the rows that reach each tier) and policy files keep it.

    Example:
        >>> from langchain_automix.calibration.replay import ReplayDataset
        >>> data = ReplayDataset.from_arrays(
        ...     scores=[[1, 1], [0, 1], [0, 1]], confidences=[[0.875], [0.25], [0.25]])
        >>> ref = SignalReference.from_replay(data, ["verifier"])
        >>> ref
        SignalReference(tier0/verifier: 3 values)
        >>> ref.samples["tier0/verifier"].counts
        (2, 1)
        >>> SignalReference.from_dict(ref.to_dict()) == ref
        True
    """

    samples: Mapping[str, ReferenceSample] = field(hash=False)
    """The summary of each key, e.g. ``"tier0/verifier"``."""
    bins: int = 10
    """PSI bins to aim for (:func:`psi_edges`; ties and small bins give fewer)."""

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise ValueError(f"bins must be >= 2, got {self.bins}")
        for key in self.samples:
            _check_key(key)
        object.__setattr__(self, "samples", dict(sorted(self.samples.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {s.n} values" for k, s in self.samples.items())
        return f"SignalReference({inner})"

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys, sorted."""
        return tuple(self.samples)

    @classmethod
    def from_samples(
        cls, samples: Mapping[str, Any], *, max_values: int = 500, bins: int = 10
    ) -> SignalReference:
        """Build from raw values per key (NaN dropped; keys without a value skipped)."""
        out = {}
        for key, values in samples.items():
            x = np.asarray(values, dtype=float).ravel()
            if np.isfinite(x).any():
                out[str(key)] = ReferenceSample.from_values(x, max_values=max_values)
        return cls(out, bins=bins)

    @classmethod
    def from_replay(
        cls,
        data: ReplayDataset,
        signals: Sequence[str] | None = None,
        *,
        visited: Any = None,
        max_values: int = 500,
        bins: int = 10,
    ) -> SignalReference:
        """The reference of replay rows: each signal at each non-final tier.

        Args:
            data: training rows.
            signals: signal names (``verifier`` is the verifier confidence); default
                every signal in the rows (:attr:`ReplayDataset.signal_names`).
            visited: optional ``(n, tiers)`` mask of the tiers each row calls under the
                fitted policy (``policy.route_paths(data).visited``): live, a tier's
                signals are only seen on the queries that reach it, so its reference is
                taken on those rows. Default: every row at every tier.
            max_values: values kept per key (a quantile subsample above it).
            bins: PSI bins to aim for.

        Raises:
            ReplayError: a signal the rows do not carry.
        """
        names = list(data.signal_names if signals is None else signals)
        mask = (
            np.ones((data.n_rows, data.n_tiers), dtype=bool)
            if visited is None
            else np.asarray(visited, dtype=bool)
        )
        if mask.shape != (data.n_rows, data.n_tiers):
            raise ValueError(f"visited must have shape {(data.n_rows, data.n_tiers)}")
        raw = {
            reference_key(t, name): data.signal(name)[mask[:, t], t]
            for name in names
            for t in range(data.n_tiers - 1)
        }
        return cls.from_samples(raw, max_values=max_values, bins=bins)

    def edges(self, key: str) -> np.ndarray:
        """The PSI bin edges of a key (:func:`psi_edges` of its kept values)."""
        return psi_edges(self.samples[key].sample(), self.bins)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"version": 1, "bins": 10, "signals": {key: sample}}``."""
        return {
            "version": REFERENCE_VERSION,
            "bins": self.bins,
            "signals": {k: s.to_dict() for k, s in self.samples.items()},
        }

    @classmethod
    def from_dict(cls, payload: Any, where: str = "signal_reference") -> SignalReference:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError: naming the field that is missing, of the wrong type or invalid.
        """
        d = as_mapping(payload, where)
        only_keys(d, ("version", "bins", "signals"), f"{where}.")
        version = as_int(require(d, "version", f"{where}."), f"{where}.version")
        if version > REFERENCE_VERSION:
            raise ValueError(
                f"{where}.version {version} is newer than this package reads "
                f"({REFERENCE_VERSION}): upgrade langchain-automix"
            )
        bins = as_int(d.get("bins", 10), f"{where}.bins")
        signals = as_mapping(require(d, "signals", f"{where}."), f"{where}.signals")
        samples = {
            str(k): ReferenceSample.from_dict(v, f"{where}.signals[{k!r}]")
            for k, v in signals.items()
        }
        try:
            return cls(samples, bins=bins)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------- monitor
@dataclass
class _Track:
    """One key's reference, live window and last verdict."""

    reference: np.ndarray
    edges: np.ndarray
    reference_bins: np.ndarray
    window: deque[float]
    seen: int = 0
    drifted: bool = False
    statistic: float | None = None
    threshold: float | None = None
    p_value: float | None = None


class DriftMonitor:
    """A rolling check of live routing signals against a :class:`SignalReference`.

    Feed it each tier attempt's signals (:meth:`observe`); :meth:`status` tells, per
    key, the statistic over the last ``window`` values, its threshold and whether the
    key has drifted, and whether any has. The first time a key drifts it logs one
    ``WARNING`` on logger ``langchain_automix.drift``; when it comes back under the
    threshold an ``INFO``, and it may warn again later. Thread-safe: one lock guards
    the windows. Each :meth:`observe` re-judges the keys it feeds, about 40 us a key
    with a full window of 200 (``benchmarks/bench_drift.py``).

    A tier above the first only sees the queries escalated to it, so its reference is
    taken on the training rows the policy sends there (:meth:`SignalReference.from_replay`
    with ``visited``); a refitted policy with another escalation share needs its own.

    Args:
        reference: the training distribution (``policy.provenance.signal_reference``).
        window: live values kept per key (the last ones).
        method: ``"ks"`` (two-sample Kolmogorov-Smirnov statistic) or ``"psi"``
            (population stability index over :func:`psi_edges` bins, each count plus
            :data:`PSI_PSEUDO_COUNT`).
        threshold: a fixed statistic above which a key drifts, for every key and window
            size. Default (``None``): the critical value at level ``alpha / keys`` for
            the key's current window and reference sizes: for KS the statistic whose
            p-value is that level, for PSI the chi-square quantile
            ``chi2(1 - level, bins - 1) * (1/n + 1/m)`` (PSI's distribution on unchanged
            traffic, approximately).
        alpha: the chance that a window of unchanged traffic raises the alarm (any key),
            when ``threshold`` is ``None``.
        min_samples: no verdict on a key before its window holds this many values
            (default: a quarter of the window, at least 2).
        check_every: judge a key on every ``check_every``-th value it receives (and when
            its window first reaches ``min_samples``); 1 judges on every value. A server
            uses 10: a tenth of the cost, an alarm at most 9 queries later.
        log: the logger (default ``langchain_automix.drift``).

    Example:
        >>> ref = SignalReference.from_samples({"tier0/verifier": [0.0, 0.25, 0.5, 0.75] * 25})
        >>> monitor = DriftMonitor(ref, window=40, method="psi")
        >>> for _ in range(40):
        ...     monitor.observe(0, {"verifier": 0.0, "answer_min_prob": 0.3})
        >>> s = monitor.status()["signals"]["tier0/verifier"]
        >>> s["drifted"], s["n"], round(s["statistic"], 2), round(s["threshold"], 2)
        (True, 40, 3.14, 0.4)
    """

    def __init__(
        self,
        reference: SignalReference,
        *,
        window: int = DEFAULT_WINDOW,
        method: Method = "ks",
        threshold: float | None = None,
        alpha: float = DEFAULT_ALPHA,
        min_samples: int | None = None,
        check_every: int = 1,
        log: logging.Logger | None = None,
    ) -> None:
        if not reference.samples:
            raise ValueError("the reference holds no signal to compare with")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an integer >= 2, got {window!r}")
        if method not in ("ks", "psi"):
            raise ValueError(f"method must be 'ks' or 'psi', got {method!r}")
        if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold must be a positive number, got {threshold!r}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if min_samples is None:
            min_samples = max(2, window // 4)
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"check_every must be an integer >= 1, got {check_every!r}")
        if not 1 <= min_samples <= window:
            raise ValueError(f"min_samples must be in [1, window={window}], got {min_samples}")
        self.reference = reference
        self.window = window
        self.method: Method = method
        self.threshold = threshold
        self.alpha = alpha
        self.min_samples = min_samples
        self.check_every = check_every
        self._log = log or logger
        self._level = alpha / len(reference.samples)  # Bonferroni over the keys
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        for key, sample in reference.samples.items():
            values = sample.sample()
            edges = psi_edges(values, reference.bins)
            self._tracks[key] = _Track(
                reference=values,
                edges=edges,
                reference_bins=_bin_counts(values, edges),
                window=deque(maxlen=window),
            )

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys watched (the reference's)."""
        return tuple(self._tracks)

    def observe(self, tier: int, signals: Mapping[str, float | None]) -> None:
        """Add one tier attempt's signals (e.g. ``{"verifier": 0.625, ...}``).

        Signals the reference does not hold for that tier, ``None`` and NaN are ignored.
        """
        events: list[tuple[int, str]] = []
        with self._lock:
            for name, value in signals.items():
                track = self._tracks.get(reference_key(tier, name))
                if track is None or value is None:
                    continue
                x = float(value)
                if not math.isfinite(x):
                    continue
                track.window.append(round(x, DECIMALS) + 0.0)
                track.seen += 1
                if track.seen % self.check_every and len(track.window) != self.min_samples:
                    continue  # judged every check_every values (and as soon as it may be)
                event = self._update(reference_key(tier, name), track)
                if event is not None:
                    events.append(event)
        for level, message in events:  # outside the lock: handlers may be slow
            self._log.log(level, message)

    def _update(self, key: str, track: _Track) -> tuple[int, str] | None:
        n, m = len(track.window), track.reference.size
        if n < self.min_samples:
            track.statistic = track.threshold = track.p_value = None
            return None
        live = np.fromiter(track.window, dtype=float, count=n)
        if self.method == "ks":
            result = ks_two_sample(track.reference, live)
            stat, p_value = result.statistic, result.p_value
            limit = self.threshold or ks_critical_value(self._level, n, m)
        else:
            stat = population_stability_index(
                track.reference_bins + PSI_PSEUDO_COUNT,
                _bin_counts(live, track.edges) + PSI_PSEUDO_COUNT,
            )
            p_value = None
            dof = max(1, track.edges.size)
            limit = self.threshold or chi2_quantile(1.0 - self._level, dof) * (1 / n + 1 / m)
        track.statistic, track.threshold, track.p_value = stat, limit, p_value
        drifted = stat > limit
        if drifted == track.drifted:
            return None
        track.drifted = drifted
        what = f"{self.method.upper()} {stat:.3g}"
        if drifted:
            return logging.WARNING, (
                f"signal drift on {key}: {what} > threshold {limit:.3g} over the last {n} "
                f"live values against {m} training values; the policy's operating point "
                "was chosen for traffic that looked different (check the models, prompts, "
                "verification mode and query mix; refit on fresh rows if it persists)"
            )
        return logging.INFO, (
            f"signal drift on {key} is over: {what} <= threshold {limit:.3g} over the "
            f"last {n} live values"
        )

    def status(self) -> dict[str, Any]:
        """The verdicts, JSON-ready.

        ``{"drifted": any key drifted, "drifted_signals": [...], "method", "window",
        "alpha", "min_samples", "signals": {key: {"statistic", "threshold", "p_value"
        (KS only), "n", "reference_n", "drifted"}}}``; ``statistic`` and ``threshold``
        are ``None`` until a key's window holds ``min_samples`` values.
        """
        with self._lock:
            per_key = {
                key: {
                    "statistic": t.statistic,
                    "threshold": t.threshold,
                    "p_value": t.p_value,
                    "n": len(t.window),
                    "reference_n": int(t.reference.size),
                    "drifted": t.drifted,
                }
                for key, t in self._tracks.items()
            }
        drifted = [k for k, v in per_key.items() if v["drifted"]]
        return {
            "drifted": bool(drifted),
            "drifted_signals": drifted,
            "method": self.method,
            "window": self.window,
            "alpha": None if self.threshold is not None else self.alpha,
            "min_samples": self.min_samples,
            "check_every": self.check_every,
            "signals": per_key,
        }

    def reset(self) -> None:
        """Forget every live value and verdict (e.g. after refitting the policy)."""
        with self._lock:
            for track in self._tracks.values():
                track.window.clear()
                track.seen = 0
                track.drifted = False
                track.statistic = track.threshold = track.p_value = None
