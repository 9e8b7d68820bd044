"""TripleThreshold and POMDPSimple, automix-llm's remaining methods (parity with the library
is in test_automix_llm_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import evaluate_policy
from langchain_automix.meta_verifiers import (
    MetaVerifier,
    POMDPSimple,
    TripleThreshold,
    get_meta_verifier,
)


def test_bands_and_ties() -> None:
    c = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    strict = TripleThreshold(0.0, 0.5, 0.75).decide_batch(c)
    inclusive = TripleThreshold(0.0, 0.5, 0.75, inclusive=True).decide_batch(c)
    assert strict.tolist() == [True, False, True, False, False]
    assert inclusive.tolist() == [True, False, True, True, False]
    with pytest.raises(ValueError, match="low <= mid <= high"):
        TripleThreshold(0.5, 0.25, 0.75)


def test_fit_without_grid_beats_random_mixing_and_round_trips() -> None:
    data = synthetic_replay(1200, seed=3)
    train, test = data.split(400, seed=3)
    policy = TripleThreshold().fit(train, costs=(1, 50))
    assert 0.0 <= policy.low < policy.mid < policy.high <= 1.0
    assert evaluate_policy(policy, test, costs=(1, 50)).delta_ibc > 0  # informative verifier
    again = MetaVerifier.from_dict(policy.to_dict())
    assert isinstance(again, TripleThreshold) and again.get_params() == policy.get_params()
    assert isinstance(get_meta_verifier("TripleThreshold"), TripleThreshold)


def test_two_tiers_only() -> None:
    from langchain_automix.calibration.replay import ReplayDataset

    rng = np.random.default_rng(0)
    data = ReplayDataset(
        ids=[str(i) for i in range(50)], scores=rng.random((50, 3)), confidences=rng.random((50, 2))
    )
    assert data.n_tiers == 3
    with pytest.raises(ValueError, match="two tiers"):
        TripleThreshold().fit(data, costs=(1, 10, 50))


def test_pomdp_simple_fits_round_trips_and_refuses_what_it_cannot_route() -> None:
    from langchain_automix.calibration.replay import ReplayDataset

    data = synthetic_replay(1200, seed=3)
    train, test = data.split(400, seed=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        POMDPSimple().route(test)
    policy = POMDPSimple(num_bins=8).fit(train, costs=(1, 50))
    assert policy.actions is not None and len(policy.actions) == 9
    assert evaluate_policy(policy, test, costs=(1, 50)).delta_ibc > 0
    again = MetaVerifier.from_dict(policy.to_dict())
    assert isinstance(again, POMDPSimple) and again.actions == policy.actions
    assert isinstance(get_meta_verifier("pomdp-simple"), POMDPSimple)
    with pytest.raises(ValueError, match="num_bins"):
        POMDPSimple(num_bins=2, actions=[True])
    rng = np.random.default_rng(0)
    three = ReplayDataset(
        ids=[str(i) for i in range(50)], scores=rng.random((50, 3)), confidences=rng.random((50, 2))
    )
    with pytest.raises(ValueError, match="two tiers"):
        POMDPSimple().fit(three, costs=(1, 10, 50))
