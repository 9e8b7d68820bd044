"""The smoothed gain model behind Calibrated's model check."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_automix.meta_verifiers._gain_model import GainModel, signal_levels


def test_levels_are_the_values_of_a_discrete_signal_and_bins_of_a_continuous_one() -> None:
    rng = np.random.default_rng(0)
    k8 = rng.integers(0, 9, 300) / 8
    assert np.array_equal(signal_levels(k8), (k8 * 8).astype(int))
    continuous = rng.random(300)
    levels = signal_levels(continuous)
    assert levels.max() + 1 == 10  # 300 rows: 10 bins of 30
    assert np.all(np.diff(levels[np.argsort(continuous)]) >= 0)  # ordered with the signal
    assert signal_levels(rng.random(60)).max() + 1 == 4  # about 15 rows a bin


def test_noise_is_smoothed_to_the_trend_and_a_real_hump_is_kept() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 9, 150) / 8
    noise = (rng.random(150) < 0.3).astype(float)  # the same gain at every level
    flat = GainModel.fit(x, noise)
    raw_spread = np.ptp(flat.level_mean)
    assert np.ptp(flat.mean) < raw_spread / 2
    hump = (rng.random(150) < 0.05 + 3.0 * x * (1 - x)).astype(float)
    model = GainModel.fit(x, hump)
    middle, ends = model.mean[(x > 0.3) & (x < 0.7)], model.mean[(x == 0) | (x == 1)]
    assert middle.mean() > ends.mean() + 0.3


def test_a_trend_without_noise_around_it_is_the_trend() -> None:
    x = np.repeat(np.arange(9) / 8, 20)
    gain = 0.2 + 0.5 * x - 0.4 * x**2
    model = GainModel.fit(x, gain)
    assert model.tau2 == 0.0
    np.testing.assert_allclose(model.mean, gain, atol=1e-9)


def test_draws_centre_on_the_mean_and_spread_with_fewer_rows() -> None:
    rng = np.random.default_rng(2)

    def spread(n: int) -> float:
        x = rng.integers(0, 9, n) / 8
        gain = (rng.random(n) < 0.2 + 0.5 * x).astype(float)
        model = GainModel.fit(x, gain)
        draws = model.draws(2000, np.random.default_rng(3))
        assert draws.shape == (2000, n)
        np.testing.assert_allclose(draws.mean(axis=0), model.mean, atol=0.03)
        return float(draws.mean(axis=1).std())

    assert spread(100) > 1.5 * spread(1000)


def test_copies_of_one_observation_add_no_evidence() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 9, 120) / 8
    gain = (rng.random(120) < 0.4).astype(float)
    # row 0 repeated 10 times (an explored query, weighted by replication)
    xs, gains = (
        np.concatenate([x, np.repeat(x[:1], 9)]),
        np.concatenate([gain, np.repeat(gain[:1], 9)]),
    )
    groups = np.concatenate([np.arange(120), np.zeros(9, dtype=int)])
    as_rows = GainModel.fit(xs, gains)
    as_one = GainModel.fit(xs, gains, groups=groups)
    level = as_one.level_of_row[0]
    np.testing.assert_allclose(as_one.level_mean, as_rows.level_mean)  # copies weigh in
    assert as_one.level_var[level] > as_rows.level_var[level]  # but count once


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="equal-length 1-d arrays"):
        GainModel.fit(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="equal-length 1-d arrays"):
        GainModel.fit(np.zeros(0), np.zeros(0))
