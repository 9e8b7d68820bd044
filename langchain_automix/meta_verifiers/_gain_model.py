"""A smoothed model of what escalating gains at each level of a routing signal.

:class:`~langchain_automix.meta_verifiers.Calibrated` uses it, with ``check="model"``, to
choose an escalation share and to decide whether routing pays on two-tier rows (an
opt-in: on real replays it lost the held-out check's protection, see
docs/meta-verifiers.md "Which rule the default uses"). The gain of escalating a row is
the last tier's score minus the first tier's; the ΔIBC of any routing depends on the
rows' gains alone. On 100-200 rows the mean gain of each signal level (9 levels for
k = 8 verifier samples) is noisy, so the model smooths it, empirical-Bayes style:

* the level means are pulled toward a quadratic trend in the signal value (weighted
  least squares; a strong verifier's gain is hump-shaped: hopeless queries at the
  lowest confidence gain nothing, easy ones at the top neither);
* how far each level moves toward the trend depends on its rows and on the spread of
  the level means around the trend beyond their sampling noise (the one-way
  random-effects moment estimate ``tau2``): no spread beyond the noise, the trend alone;
* :meth:`GainModel.draws` samples the smoothed gains from their approximate posterior
  (trend coefficients and level deviations), so a routing's ΔIBC gets an interval.

A continuous signal (a combined P(correct)) is cut into up to 10 quantile bins of about
15 rows each.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 9, 400) / 8
    >>> gain = (rng.random(400) < 0.8 * x * (1 - x) * 4).astype(float)  # a hump
    >>> model = GainModel.fit(x, gain)
    >>> bool(model.mean[x == 0.5].mean() > model.mean[x == 0].mean())
    True
    >>> model.draws(50, rng).shape
    (50, 400)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GainModel", "signal_levels"]

_MAX_DISCRETE = 12
"""A signal with at most this many distinct values is taken level by level."""


def signal_levels(x: np.ndarray) -> np.ndarray:
    """The level (``0 ..``) of every row's signal value.

    Each distinct value is a level when there are at most 12 (a verifier confidence:
    ``k + 1``); else quantile bins of about 15 rows, between 3 and 10 of them.
    """
    x = np.asarray(x, float)
    values = np.unique(x)
    if values.size <= _MAX_DISCRETE:
        return np.searchsorted(values, x)
    bins = max(3, min(10, x.size // 15))
    edges = np.quantile(x, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.searchsorted(edges, x, side="right")


@dataclass(frozen=True)
class GainModel:
    """Smoothed gain of escalating each row (fit with :meth:`fit`).

    Attributes:
        level_of_row: each row's index into the per-level arrays.
        level_mean: the raw mean gain of each level.
        level_var: the sampling variance of each raw mean.
        design: the trend's design matrix per level (``1, x, x**2``).
        coef: the trend's coefficients; ``coef_cov`` their covariance.
        tau2: the spread of the true level gains around the trend.
    """

    level_of_row: np.ndarray
    level_mean: np.ndarray
    level_var: np.ndarray
    design: np.ndarray
    coef: np.ndarray
    coef_cov: np.ndarray
    tau2: float

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        gain: np.ndarray,
        *,
        groups: np.ndarray | None = None,
        degree: int = 2,
    ) -> GainModel:
        """Fit on the signal ``x`` and the gain of escalating each row.

        Args:
            x: routing signal per row.
            gain: last tier's score minus first tier's, per row.
            groups: observation of every row, when some rows are copies of one
                observation (inverse-propensity weighting by replication): a copy moves
                the level's mean but not its count of observations.
            degree: degree of the trend the levels are pulled toward.
        """
        x = np.asarray(x, float)
        gain = np.asarray(gain, float)
        if x.shape != gain.shape or x.ndim != 1 or x.size == 0:
            raise ValueError(
                f"x and gain must be equal-length 1-d arrays, got {x.shape}, {gain.shape}"
            )
        _, level_of_row = np.unique(signal_levels(x), return_inverse=True)
        n_levels = int(level_of_row.max()) + 1
        rows = np.bincount(level_of_row, minlength=n_levels).astype(float)
        mean = np.bincount(level_of_row, weights=gain, minlength=n_levels) / rows
        xs = np.bincount(level_of_row, weights=x, minlength=n_levels) / rows
        # observations per level: Kish's effective count of its groups' copies
        if groups is None:
            n_eff = rows
        else:
            copies = np.zeros(n_levels)
            squares = np.zeros(n_levels)
            for level in range(n_levels):
                _, per_group = np.unique(
                    np.asarray(groups)[level_of_row == level], return_counts=True
                )
                copies[level] = per_group.sum()
                squares[level] = (per_group.astype(float) ** 2).sum()
            n_eff = copies**2 / squares
        n_obs = float(n_eff.sum())
        resid = gain - mean[level_of_row]
        dof = max(n_obs - n_levels, 1.0)
        within = max(float((resid**2).sum() / rows.sum() * n_obs / dof), 1e-6)
        var = within / n_eff
        p = min(degree + 1, n_levels)
        design = np.vander(xs, p, increasing=True)
        coef, coef_cov, trend = _weighted_trend(design, mean, 1.0 / var)
        tau2 = 0.0
        if n_levels > p:
            between = float((n_eff * (mean - trend) ** 2).sum())
            spread = n_obs - float((n_eff**2).sum()) / n_obs
            tau2 = max(0.0, (between - (n_levels - p) * within) / spread) if spread > 0 else 0.0
            if tau2 > 0:  # refit the trend with each level's total variance
                coef, coef_cov, _ = _weighted_trend(design, mean, 1.0 / (var + tau2))
        return cls(level_of_row, mean, var, design, coef, coef_cov, tau2)

    @property
    def _shrink(self) -> np.ndarray:
        """How far each level keeps its own mean (0: the trend's value)."""
        if self.tau2 <= 0:
            return np.zeros_like(self.level_var)
        return self.tau2 / (self.tau2 + self.level_var)

    @property
    def mean(self) -> np.ndarray:
        """The smoothed gain of every row."""
        trend = self.design @ self.coef
        level = trend + self._shrink * (self.level_mean - trend)
        return level[self.level_of_row]

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` posterior draws of every row's smoothed gain, shape ``(n, rows)``."""
        coefs = rng.multivariate_normal(self.coef, self.coef_cov, size=n, method="eigh")
        trend = coefs @ self.design.T
        b = self._shrink
        level = trend + b * (self.level_mean - trend)
        level = level + rng.standard_normal(level.shape) * np.sqrt(b * self.level_var)
        return level[:, self.level_of_row]


def _weighted_trend(
    design: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares: coefficients, their covariance, fitted values."""
    xtw = design.T * weight
    cov = np.linalg.pinv(xtw @ design)
    coef = cov @ (xtw @ y)
    return coef, cov, design @ coef
