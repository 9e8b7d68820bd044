from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_automix.calibration.metrics import CostSpec, baselines, routing_point
from langchain_automix.calibration.replay import ReplayDataset
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import compare_methods, evaluate_policy
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    DoubleThreshold,
    FixedAnswerRouting,
    GreedyPOMDP,
    MetaVerifier,
    Observation,
    PolicyError,
    SelfConsistency,
    Threshold,
    available_meta_verifiers,
    get_meta_verifier,
)

DATA = synthetic_replay(3000, seed=11, unanswerable_share=0.3)
TRAIN, TEST = DATA.split(1000, seed=0)


def fitted_all() -> list[MetaVerifier]:
    return [
        Threshold().fit(TRAIN),
        Threshold(inclusive=True, grid=10).fit(TRAIN),
        DoubleThreshold().fit(TRAIN),
        SelfConsistency().fit(TRAIN),
        GreedyPOMDP().fit(TRAIN),
        POMDP().fit(TRAIN),
        AutomixUnion().fit(TRAIN),
        FixedAnswerRouting(POMDP(), ["unanswerable"]).fit(TRAIN),
    ]


@pytest.mark.parametrize("policy", fitted_all(), ids=lambda p: p.describe())
def test_policy_file_round_trip(policy: MetaVerifier, tmp_path: Path) -> None:
    path = policy.save(tmp_path / "p.json")
    loaded = type(policy).load(path)
    assert loaded.to_dict() == policy.to_dict()
    assert loaded.save(tmp_path / "q.json").read_text() == path.read_text()
    assert MetaVerifier.load(path).to_dict() == policy.to_dict()
    np.testing.assert_array_equal(loaded.route(TEST), policy.route(TEST))


@pytest.mark.parametrize("policy", fitted_all(), ids=lambda p: p.describe())
def test_live_decide_matches_batch(policy: MetaVerifier) -> None:
    conf = TEST.confidences[:, 0]
    answers = TEST.tier_answers(0)
    batch = policy.decide_batch(conf, answers=answers)
    live = [
        policy.decide(Observation(0, 2, float(c), 8, 8, answer=a)) == "escalate"
        for c, a in zip(conf, answers, strict=True)
    ]
    np.testing.assert_array_equal(batch, live)


def test_policy_file_errors(tmp_path: Path) -> None:
    path = Threshold(0.3).save(tmp_path / "t.json")
    with pytest.raises(PolicyError, match="not a POMDP"):
        POMDP.load(path)
    payload = json.loads(path.read_text())
    payload["version"] = 99
    (tmp_path / "v.json").write_text(json.dumps(payload))
    with pytest.raises(PolicyError, match="unsupported policy version 99"):
        MetaVerifier.load(tmp_path / "v.json")
    payload["version"] = 1
    payload["method"] = "__import__('os')"
    (tmp_path / "m.json").write_text(json.dumps(payload))
    with pytest.raises(PolicyError, match="unknown meta-verifier"):
        MetaVerifier.load(tmp_path / "m.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PolicyError, match="invalid JSON"):
        MetaVerifier.load(tmp_path / "bad.json")


def test_registry() -> None:
    assert available_meta_verifiers() == sorted(
        [
            "automix_union",
            "calibrated",
            "chained",
            "double_threshold",
            "fixed_answer_routing",
            "greedy_pomdp",
            "pomdp",
            "pomdp_simple",
            "self_consistency",
            "threshold",
            "triple_threshold",
        ]
    )
    assert isinstance(get_meta_verifier("POMDP"), POMDP)
    assert isinstance(get_meta_verifier("DoubleThreshold", low=0.1), DoubleThreshold)
    with pytest.raises(KeyError, match="unknown meta-verifier"):
        get_meta_verifier("nope")


def hopeless_data(n: int = 600, seed: int = 0) -> ReplayDataset:
    """Low confidence = hopeless (nobody solves it), middle = needs large, high = easy."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, n, p=[0.4, 0.3, 0.3])
    small = (kind == 0).astype(float)
    large = (kind != 2).astype(float)
    conf = (
        np.choose(
            kind, [rng.binomial(8, 0.9, n), rng.binomial(8, 0.5, n), rng.binomial(8, 0.05, n)]
        )
        / 8
    )
    return ReplayDataset.from_arrays(np.stack([small, large], 1), conf[:, None])


def test_pomdp_does_not_escalate_hopeless_queries() -> None:
    data = hopeless_data()
    policy = POMDP().fit(data)
    gain = dict(zip(policy.observations_, policy.gain_, strict=True))
    assert gain[0.0] < 0.05  # belief at o = 0 is almost all "hopeless": no expected gain
    assert policy.decide(Observation(0, 2, 0.0, 8, 8)) == "accept"
    assert policy.decide(Observation(0, 2, 0.5, 8, 8)) == "escalate"
    assert policy.decide(Observation(0, 2, 1.0, 8, 8)) == "accept"
    # a threshold can only escalate the hopeless low end along with the needy middle
    test = hopeless_data(seed=1)
    assert (
        evaluate_policy(policy, test).delta_ibc
        > evaluate_policy(Threshold().fit(data), test).delta_ibc
    )


def test_pomdp_expected_gain_is_kernel_weighted_average() -> None:
    data = hopeless_data(200, seed=3)
    h = 0.1
    policy = POMDP(bandwidth=h).fit(data)
    o = np.asarray(policy.observations_)
    w = np.exp(-0.5 * ((o[:, None] - data.confidences[None, :, 0]) / h) ** 2)
    expected = (w @ data.gain) / w.sum(axis=1)
    np.testing.assert_allclose(policy.gain_, expected, rtol=1e-10, atol=1e-12)


def test_pomdp_lam_sweep_traces_monotone_frontier() -> None:
    base = POMDP().fit(TRAIN, lam=0.0)
    shares = [
        routing_point(
            TEST.scores, base.with_lam(lam).route(TEST), CostSpec.make((1, 50))
        ).llm_call_share
        for lam in (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)
    ]
    assert shares == sorted(shares, reverse=True)
    assert shares[0] > shares[-1]
    assert POMDP().fit(TRAIN, lam=1.0).route(TEST).sum() == 0


@pytest.mark.parametrize("cls", [Threshold, DoubleThreshold, GreedyPOMDP, POMDP])
@settings(max_examples=8, deadline=None)
@given(target=st.floats(0.05, 0.9))
def test_target_share_calibration(cls: type[MetaVerifier], target: float) -> None:
    policy = cls().fit(TRAIN, target_llm_share=target)
    share = (policy.route(TRAIN) == 1).mean()
    front = policy.frontier(TRAIN)
    best_gap = np.abs(front.llm_call_share - target).min()
    assert abs(share - target) == pytest.approx(best_gap, abs=1e-12)


@pytest.mark.parametrize("cls", [Threshold, DoubleThreshold, GreedyPOMDP, POMDP, AutomixUnion])
def test_budget_objective(cls: type[MetaVerifier]) -> None:
    policy = cls().fit(TRAIN, budget=10.0)
    point = routing_point(TRAIN.scores, policy.route(TRAIN), CostSpec.make((1, 50)))
    assert point.avg_cost <= 10.0 + 1e-9
    with pytest.raises(ValueError, match="budget 1 is below"):
        cls().fit(TRAIN, budget=1.0)


def test_objective_errors() -> None:
    with pytest.raises(ValueError, match="at most one"):
        POMDP().fit(TRAIN, budget=3, lam=0.1)
    with pytest.raises(ValueError, match="target_llm_share"):
        Threshold().fit(TRAIN, target_llm_share=2)


def test_max_delta_ibc_fit_is_best_on_training_frontier() -> None:
    from langchain_automix.calibration.metrics import delta_ibc

    for policy in (Threshold(), DoubleThreshold(), GreedyPOMDP(), POMDP()):
        policy.fit(TRAIN)
        f = policy.frontier(TRAIN)
        small = (1.0, TRAIN.scores[:, 0].mean())
        large = (50.0, TRAIN.scores[:, 1].mean())
        best = np.nanmax(delta_ibc(f.avg_cost, f.avg_performance, small, large))
        got = evaluate_policy(policy, TRAIN).delta_ibc
        assert got == pytest.approx(best, rel=1e-9)


def test_double_threshold_band_spans_two_values_by_default() -> None:
    # one confidence value (0.625) whose few rows all gain: the best band on these rows
    # is that value alone, which only a half-open band [0.625, 0.75) can hold
    scores = [[1.0, 1.0]] * 40 + [[0.0, 1.0]] * 4 + [[0.0, 1.0], [1.0, 1.0]] * 8
    conf = [[0.875]] * 40 + [[0.625]] * 4 + [[0.5]] * 8 + [[0.375]] * 8
    data = ReplayDataset.from_arrays(scores, conf)
    half_open = DoubleThreshold(inclusive=False).fit(data)
    assert (half_open.low, half_open.high) == (0.625, 0.875)
    assert half_open.route(data).sum() == 4  # the lucky value alone
    default = DoubleThreshold().fit(data)
    assert default.inclusive
    escalated = set(data.confidences[default.route(data) == 1, 0])
    assert len(escalated) >= 2, default.describe()


def test_double_threshold_files_without_the_convention_load_half_open() -> None:
    fitted = DoubleThreshold(0.25, 0.75).to_dict()
    assert fitted["params"]["inclusive"] is True
    del fitted["params"]["inclusive"]  # written before inclusive became the default
    loaded = MetaVerifier.from_dict(fitted)
    assert isinstance(loaded, DoubleThreshold)
    assert loaded.inclusive is False
    assert loaded.describe() == "double_threshold([0.25,0.75))"


def test_fixed_answer_routing_escalates_listed_answers() -> None:
    policy = FixedAnswerRouting(Threshold(), ["unanswerable"]).fit(TRAIN)
    fixed = np.array([a == "unanswerable" for a in TEST.tier_answers(0)])
    assert fixed.any()
    assert (policy.route(TEST)[fixed] == 1).all()
    assert policy.decide(Observation(0, 2, 1.0, 8, 8, answer="UNANSWERABLE ")) == "escalate"


def test_pomdp_needs_fit_and_greedy_needs_two_tiers() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        POMDP().decide(Observation(0, 2, 0.5, 8, 8))
    three = ReplayDataset.from_arrays([[0, 0.5, 1]] * 4, [[0.5, 0.5]] * 4)
    with pytest.raises(NotImplementedError, match=r"2-tier.*Chained\(GreedyPOMDP\(\)\)"):
        GreedyPOMDP().fit(three, costs=(1, 10, 50))
    two = ReplayDataset.from_arrays([[0, 1], [1, 1]] * 4, [[0.25], [0.75]] * 4)
    with pytest.raises(ValueError, match="fitted on 2 tiers, not 3"):
        POMDP().fit(two).targets_batch([0.5], tier=0, n_tiers=3)


def test_threshold_three_tiers() -> None:
    rng = np.random.default_rng(0)
    s = rng.random((200, 3)).round(1)
    c = rng.integers(0, 9, (200, 2)) / 8
    data = ReplayDataset.from_arrays(s, c)
    policy = Threshold().fit(data, costs=(1, 10, 50))
    final = policy.route(data)
    expect = np.where(c[:, 0] >= policy.threshold, 0, np.where(c[:, 1] >= policy.threshold, 1, 2))
    np.testing.assert_array_equal(final, expect)


def test_compare_methods_small_training_sets() -> None:
    comp = compare_methods(DATA, seeds=range(3), train_size=50)
    summary = comp.summary()
    assert set(summary) >= {"pomdp", "threshold", "self_consistency"}
    for row in summary.values():
        assert row["seeds"] == 3
        assert 0 <= row["llm_call_share"] <= 1
        assert len(row["delta_ibc_regions"]) == 5
    assert comp.train_size == 50
    assert "pomdp" in comp.format_table()


def test_compare_methods_baselines_are_the_mean_over_seed_test_splits() -> None:
    data = synthetic_replay(60, seed=3)
    comp = compare_methods(data, methods=["threshold"], seeds=range(4))
    spec = CostSpec.make((1.0, 50.0), None, n_tiers=2)
    per_seed = [baselines(data.split(30, seed=seed)[1].scores, spec) for seed in range(4)]
    for name in ("always_small", "always_large", "oracle"):
        expected = np.mean([b[name]["avg_performance"] for b in per_seed])
        assert comp.baselines[name]["avg_performance"] == pytest.approx(expected)
    # the seeds' test halves differ, so one seed alone would not give the mean
    assert len({b["always_small"]["avg_performance"] for b in per_seed}) > 1
    assert comp.baselines["always_small"]["delta_ibc"] is None


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        Threshold(1.5)
    with pytest.raises(ValueError):
        DoubleThreshold(0.8, 0.2)
    with pytest.raises(ValueError):
        POMDP(bandwidth="wide")
    with pytest.raises(ValueError):
        GreedyPOMDP(num_bins=0)


def test_pomdp_reads_shares_of_fewer_valid_samples_on_the_k_grid() -> None:
    """5 Correct of 7 valid samples is the observation 6/8, not a value of its own (#23)."""
    from langchain_automix.meta_verifiers import POMDP
    from langchain_automix.meta_verifiers._fitting import share_grid, snap_to_share_grid

    rng = np.random.default_rng(4)
    n = 300
    valid = rng.integers(5, 9, n)  # some samples without a decision
    correct = rng.binomial(valid, 0.6)
    conf = correct / valid
    scores = np.column_stack([rng.random(n) < conf, np.ones(n)]).astype(float)
    raw = ReplayDataset.from_arrays(scores, conf.reshape(-1, 1))
    snapped = raw.with_confidences(snap_to_share_grid(raw.confidences))
    assert share_grid(raw.confidences[:, 0]) == 8
    a, b = POMDP().fit(raw), POMDP().fit(snapped)
    assert a.observations_ == b.observations_ == [i / 8 for i in range(9)]
    assert a.escalate_ == b.escalate_
    assert (a.route(raw) == b.route(snapped)).all()
    # a continuous signal is left as it is
    probs = rng.random(n)
    assert share_grid(probs) is None
    assert (snap_to_share_grid(probs) == probs).all()
