"""Threshold and SelfConsistency reproduce automix-llm's numbers under its conventions."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
automix = pytest.importorskip("automix")

from langchain_automix.calibration.replay import ReplayDataset  # noqa: E402
from langchain_automix.calibration.synthetic import synthetic_replay  # noqa: E402
from langchain_automix.evaluation import evaluate_policy  # noqa: E402
from langchain_automix.meta_verifiers import SelfConsistency, Threshold  # noqa: E402


def to_frame(data: ReplayDataset) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "llama13b_f1": data.scores[:, 0],
            "llama70b_f1": data.scores[:, 1],
            "p_ver_13b": data.confidences[:, 0],
        }
    )


def assert_same_as_library(policy: object, test: ReplayDataset, res: dict) -> None:
    """Same decisions on the test rows, and the same ΔIBC, cost and quality (to 1e-12)."""
    np.testing.assert_array_equal(
        policy.route(test) == 1,  # type: ignore[attr-defined]
        np.asarray(res["route_to_llm"], dtype=bool),
    )
    mine = evaluate_policy(policy, test, costs=(1, 50))  # type: ignore[arg-type]
    assert mine.delta_ibc == pytest.approx(res["ibc_lift"] * 100, rel=1e-12)
    assert mine.avg_cost == pytest.approx(res["avg_cost"], rel=1e-12)
    assert mine.avg_performance == pytest.approx(res["avg_performance"], rel=1e-12)


def library_run(method: object, train: ReplayDataset, test: ReplayDataset) -> tuple:
    mixer = automix.Automix(method, costs=[1, 50], verifier_cost=1)
    mixer.train(to_frame(train))
    res = mixer.evaluate(to_frame(test), return_dict=True, return_decisions=True)
    return mixer.best_param, res


@pytest.mark.parametrize(("num_bins", "seed"), [(8, 0), (10, 1), (20, 2), (8, 3)])
def test_threshold_matches_library(num_bins: int, seed: int) -> None:
    data = synthetic_replay(1400, seed=seed)
    train, test = data.split(400, seed=seed)
    best, res = library_run(automix.Threshold(num_bins=num_bins), train, test)

    policy = Threshold(inclusive=True, grid=num_bins).fit(train, costs=(1, 50))
    assert policy.threshold == best
    assert_same_as_library(policy, test, res)


def test_threshold_from_paper_columns_matches_library() -> None:
    data = synthetic_replay(900, seed=7)
    frame = to_frame(data)
    loaded = ReplayDataset.from_columns(frame.to_dict("records"), id_column=None)
    train, test = loaded.split(300, seed=0)
    best, res = library_run(automix.Threshold(num_bins=8), train, test)
    policy = Threshold(inclusive=True, grid=8).fit(train)
    assert policy.threshold == best
    assert evaluate_policy(policy, test).delta_ibc == pytest.approx(
        res["ibc_lift"] * 100, rel=1e-12
    )


@pytest.mark.parametrize("seed", [0, 4])
def test_self_consistency_matches_library(seed: int) -> None:
    data = synthetic_replay(1000, seed=seed)
    train, test = data.split(300, seed=seed)
    best, res = library_run(automix.SelfConsistency(num_bins=8), train, test)
    policy = SelfConsistency().fit(train)
    assert policy.threshold == best == 0.5
    assert_same_as_library(policy, test, res)


def test_strict_convention_differs_on_ties() -> None:
    """With k = 8 samples, confidences equal to the threshold are common."""
    data = synthetic_replay(500, seed=3)
    strict = Threshold(0.5).route(data)
    inclusive = Threshold(0.5, inclusive=True).route(data)
    ties = data.confidences[:, 0] == 0.5
    assert ties.any()
    assert np.array_equal(strict != inclusive, ties)


@pytest.mark.parametrize(
    ("num_bins", "seed", "strength"), [(8, 0, 1.0), (10, 1, 0.55), (8, 6, 0.15)]
)
def test_double_threshold_matches_library(num_bins: int, seed: int, strength: float) -> None:
    from langchain_automix.meta_verifiers import DoubleThreshold

    data = synthetic_replay(1200, seed=seed, verifier_strength=strength)
    train, test = data.split(400, seed=seed)
    best, res = library_run(automix.DoubleThreshold(num_bins=num_bins), train, test)

    policy = DoubleThreshold(grid=num_bins).fit(train, costs=(1, 50))  # inclusive by default
    assert (policy.low, policy.high) == pytest.approx(tuple(best), abs=1e-12)
    assert_same_as_library(policy, test, res)


def test_double_threshold_matches_library_on_small_weak_samples() -> None:
    """Where a band up to 1.0 used to be picked (50 rows, a weak verifier)."""
    from langchain_automix.meta_verifiers import DoubleThreshold

    for seed in (6, 10, 15, 27, 29):
        train = synthetic_replay(50, seed=seed, verifier_strength=0.15)
        test = synthetic_replay(1000, seed=10_000 + seed, verifier_strength=0.15)
        best, res = library_run(automix.DoubleThreshold(num_bins=8), train, test)
        policy = DoubleThreshold(grid=8).fit(train, costs=(1, 50))
        assert policy.high < 1.0
        assert (policy.low, policy.high) == pytest.approx(tuple(best), abs=1e-12)
        assert_same_as_library(policy, test, res)


@pytest.mark.parametrize(("num_bins", "seed"), [(8, 0), (10, 1), (6, 5)])
def test_triple_threshold_matches_library(num_bins: int, seed: int) -> None:
    from langchain_automix.meta_verifiers import TripleThreshold

    data = synthetic_replay(1200, seed=seed)
    train, test = data.split(400, seed=seed)
    best, res = library_run(automix.TripleThreshold(num_bins=num_bins), train, test)

    policy = TripleThreshold(inclusive=True, grid=num_bins).fit(train, costs=(1, 50))
    assert (policy.low, policy.mid, policy.high) == pytest.approx(tuple(best), abs=1e-12)
    assert_same_as_library(policy, test, res)


@pytest.mark.parametrize(("num_bins", "seed"), [(8, 0), (8, 2), (4, 1), (10, 6)])
def test_pomdp_simple_matches_library(num_bins: int, seed: int) -> None:
    """The library needs a 'category' column; it gets the one ours derives from the scores."""
    from langchain_automix.meta_verifiers import POMDPSimple
    from langchain_automix.meta_verifiers.pomdp_simple import CATEGORIES, categories

    data = synthetic_replay(1200, seed=seed)
    train, test = data.split(400, seed=seed)

    def frame(d: ReplayDataset) -> pd.DataFrame:
        f = to_frame(d)
        f["category"] = [CATEGORIES[c] for c in categories(d.scores)]
        return f

    mixer = automix.Automix(automix.POMDPSimple(num_bins=num_bins), costs=[1, 50], verifier_cost=1)
    mixer.train(frame(train))
    res = mixer.evaluate(frame(test), return_dict=True, return_decisions=True)

    policy = POMDPSimple(num_bins=num_bins).fit(train, costs=(1, 50))
    assert policy.actions == [bool(a) for a in mixer.best_param]
    assert 0 < sum(policy.actions) < num_bins + 1  # a real choice, not a fixed one
    assert_same_as_library(policy, test, res)
