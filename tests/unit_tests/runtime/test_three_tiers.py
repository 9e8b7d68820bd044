"""Three (and N) tiers: decisions that name a tier, the N-tier POMDP, chained AutoMix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from langchain_automix import AutoMixRunnable
from langchain_automix.calibration.metrics import (
    CostSpec,
    delta_ibc,
    delta_ibc_tiers,
    query_costs,
    routing_point,
    routing_points,
)
from langchain_automix.calibration.replay import ReplayDataset, ReplayError
from langchain_automix.evaluation import compare_methods, evaluate_policy
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    Chained,
    MetaVerifier,
    Observation,
    Threshold,
)
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

DATA_DIR = Path(__file__).resolve().parents[3] / "langchain_automix" / "data"
COSTS = (1.0, 10.0, 50.0)


def synthetic(n: int, *, medium_helps: bool, seed: int) -> ReplayDataset:
    """Small right 40%; the medium fixes 60% of its misses (or none); the large 85%."""
    rng = np.random.default_rng(seed)
    s0 = rng.random(n) < 0.4
    s1 = s0 | (rng.random(n) < 0.6) if medium_helps else s0.copy()
    s2 = s1 | (rng.random(n) < 0.85)
    c0 = np.clip(np.where(s0, 0.75, 0.3) + rng.normal(0, 0.15, n), 0, 1)
    c1 = np.clip(np.where(s1, 0.75, 0.3) + rng.normal(0, 0.15, n), 0, 1)
    return ReplayDataset.from_arrays(
        np.column_stack([s0, s1, s2]).astype(float),
        np.column_stack([np.round(c0 * 8) / 8, np.round(c1 * 8) / 8]),
    )


# ----------------------------------------------------------------------------- metrics


def test_query_costs_charge_only_visited_tiers() -> None:
    spec = CostSpec.make(COSTS)
    seq = query_costs([0, 1, 2], spec)
    assert seq.tolist() == [2.0, 22.0, 72.0]
    skip = query_costs([2], spec, visited=[[True, False, True]])
    assert skip.tolist() == [52.0]
    p = routing_point([[0, 0, 1], [1, 1, 1]], [2, 0], spec, [[1, 0, 1], [1, 0, 0]])
    assert p.avg_cost == pytest.approx((52 + 2) / 2)
    pts = routing_points([[[0, 0, 1], [1, 1, 1]]], [[2, 0]], spec, [[[1, 0, 1], [1, 0, 0]]])
    assert pts["avg_cost"].tolist() == [27.0]


def test_delta_ibc_tiers_is_delta_ibc_for_two_tiers_and_uses_the_hull() -> None:
    for cost, perf in [(10.0, 0.7), (30.0, 0.9), (3.0, 0.55)]:
        two = delta_ibc(cost, perf, (1, 0.5), (50, 1.0))
        assert delta_ibc_tiers(cost, perf, (1, 50), (0.5, 1.0)) == pytest.approx(two)
    # a medium point above the small-large line: the reference is the hull
    assert delta_ibc_tiers(10.0, 0.8, COSTS, (0.5, 0.8, 1.0)) == pytest.approx(0.0)
    assert delta_ibc(10.0, 0.8, (1, 0.5), (50, 1.0)) > 0
    # a medium point below the line: the hull is the small-large line
    assert delta_ibc_tiers(10.0, 0.8, COSTS, (0.5, 0.55, 1.0)) == pytest.approx(
        delta_ibc(10.0, 0.8, (1, 0.5), (50, 1.0))
    )
    # vectorised over bootstrap draws
    out = delta_ibc_tiers(
        np.array([10.0, 10.0]), np.array([0.8, 0.8]), COSTS, [[0.5, 0.8, 1.0]] * 2
    )
    assert out.shape == (2,)


# ----------------------------------------------------------------------------- replay


def test_from_columns_takes_any_number_of_models_and_dataframes() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "llama13b_f1": [0.0, 1.0],
            "llama70b_f1": [1.0, 1.0],
            "gpt4_f1": [1.0, 0.5],
            "p_ver_13b": [0.25, 0.875],
            "p_ver_70b": [0.5, 0.625],
        }
    )
    data = ReplayDataset.from_columns(
        frame,
        score_columns=["llama13b_f1", "llama70b_f1", "gpt4_f1"],
        verifier_columns=["p_ver_13b", "p_ver_70b"],
        model_names=["13b", "70b", "gpt4"],
    )
    assert data.n_tiers == 3 and data.ids.tolist() == ["a", "b"]
    assert data.confidences.tolist() == [[0.25, 0.5], [0.875, 0.625]]
    assert data.models == ("13b", "70b", "gpt4")
    two = ReplayDataset.from_columns(frame)  # the paper's two-model default
    assert two.n_tiers == 2 and two.confidences[:, 0].tolist() == [0.25, 0.875]
    with pytest.raises(ReplayError, match="need 2 verifier columns"):
        ReplayDataset.from_columns(
            frame, score_columns=["llama13b_f1", "llama70b_f1", "gpt4_f1"], verifier_columns=["x"]
        )
    with pytest.raises(ReplayError, match="missing column 'nope'"):
        ReplayDataset.from_columns(
            frame, score_columns=["nope", "gpt4_f1"], verifier_columns=["p_ver_13b"]
        )


def test_select_tiers_gives_each_pair() -> None:
    data = synthetic(50, medium_helps=True, seed=0)
    pair = data.select_tiers([1, 2])
    np.testing.assert_array_equal(pair.scores, data.scores[:, 1:])
    np.testing.assert_array_equal(pair.confidences[:, 0], data.confidences[:, 1])
    with pytest.raises(ValueError, match="increasing"):
        data.select_tiers([2, 0])


# ----------------------------------------------------------------------------- POMDP


def test_pomdp_skips_a_useless_medium_tier_and_uses_a_helpful_one() -> None:
    useless = POMDP().fit(synthetic(400, medium_helps=False, seed=1), costs=COSTS)
    routing = useless.route_paths(synthetic(2000, medium_helps=False, seed=2))
    assert routing.skipped.mean() > 0.2  # small -> large directly
    assert (routing.final == 1).mean() == 0.0
    assert not routing.visited[:, 1].any()  # the medium model is never paid for
    helpful = POMDP().fit(synthetic(400, medium_helps=True, seed=1), costs=COSTS)
    routing = helpful.route_paths(synthetic(2000, medium_helps=True, seed=2))
    assert (routing.final == 1).mean() > 0.1
    assert routing.visited[:, 1].mean() > routing.skipped.mean()


def test_pomdp_beats_chained_automix_when_the_medium_tier_is_useless() -> None:
    pomdp, chained = [], []
    for seed in range(5):
        train = synthetic(300, medium_helps=False, seed=10 + seed)
        test = synthetic(1000, medium_helps=False, seed=100 + seed)
        pomdp.append(evaluate_policy(POMDP().fit(train, costs=COSTS), test, costs=COSTS).delta_ibc)
        ch = Chained(POMDP()).fit(train, costs=COSTS)
        chained.append(evaluate_policy(ch, test, costs=COSTS).delta_ibc)
    assert np.mean(pomdp) > np.mean(chained) + 5.0


def test_decide_returns_a_tier_index_when_it_skips_and_agrees_with_batch() -> None:
    data = synthetic(400, medium_helps=False, seed=3)
    policy = POMDP().fit(data, costs=COSTS)
    targets = policy.targets_batch(data.confidences[:, :1], tier=0, n_tiers=3)
    for c, target in zip(data.confidences[:40, 0], targets[:40], strict=True):
        decision = policy.decide(Observation(0, 3, float(c), 8, 8, confidences=(float(c),)))
        expected = {0: "accept", 1: "escalate"}.get(int(target), int(target))
        assert decision == expected
    assert 2 in targets.tolist()


def test_n_tier_policy_round_trips_and_two_tier_files_still_load(tmp_path: Path) -> None:
    data = synthetic(300, medium_helps=True, seed=4)
    policy = POMDP().fit(data, costs=COSTS)
    path = policy.save(tmp_path / "three.json")
    loaded = POMDP.load(path)
    np.testing.assert_array_equal(loaded.route(data), policy.route(data))
    assert json.loads(path.read_text())["params"]["tree"]["policy"]
    again = loaded.with_lam(1.0)  # nothing pays at this price: accept everything
    assert (again.route(data) == 0).all()
    for name in ("policy_pomdp_local_qwen.json", "policy_threshold_local_qwen.json"):
        MetaVerifier.load(DATA_DIR / name)  # written before N-tier policies existed
    chained = Chained(Threshold()).fit(data, costs=COSTS)
    back = MetaVerifier.load(chained.save(tmp_path / "chained.json"))
    assert isinstance(back, Chained)
    np.testing.assert_array_equal(back.route(data), chained.route(data))


def test_union_skips_two_tier_only_members_on_three_tiers() -> None:
    data = synthetic(300, medium_helps=False, seed=5)
    union = AutomixUnion().fit(data, costs=COSTS)
    assert union.chosen is not None
    assert union.describe().startswith("automix_union->")
    assert union.route_paths(data).final.shape == (300,)


def test_compare_methods_three_tiers_table_shows_tiers_and_skips() -> None:
    data = synthetic(400, medium_helps=False, seed=6)
    methods = {"pomdp": POMDP, "chained": Chained, "threshold": Threshold}
    comp = compare_methods(data, methods=methods, seeds=range(2), train_size=200, costs=COSTS)
    table = comp.format_table()
    assert "answered by tier %" in table and "skip %" in table
    summary = comp.summary()
    assert summary["pomdp"]["skip_share"] > 0
    assert summary["chained"]["skip_share"] == 0
    assert "always_tier_1" in comp.baselines


# ----------------------------------------------------------------------------- live


class _SkipToLarge(MetaVerifier):
    name = "skip_to_large_test"

    def decide(self, observation: Observation) -> Any:
        return 2 if observation.confidence < 0.5 else "accept"


def test_graph_skips_the_medium_tier_and_records_it_at_zero_cost() -> None:
    t0 = ScriptedChatModel(answer="a0", verdicts=[INCORRECT])
    t1 = ScriptedChatModel(answer="a1")
    t2 = ScriptedChatModel(answer="a2")
    automix = AutoMixRunnable(models=[t0, t1, t2], costs=COSTS, meta_verifier=_SkipToLarge())
    r = automix.invoke_result("q?")
    assert r.answer == "a2" and r.answered_by == 2
    assert t1.calls == []  # never called
    assert [(a.tier, a.skipped) for a in r.attempts] == [(0, False), (1, True), (2, False)]
    assert r.attempts[0].decision == "escalate" and r.attempts[0].escalate_to == 2
    assert r.attempts[1].cost == 0.0
    assert r.total_cost == 2 + 50
    ar = asyncio.run(automix.ainvoke_result("q?"))
    assert [a.skipped for a in ar.attempts] == [False, True, False]


def test_graph_with_a_fitted_pomdp_skips_live() -> None:
    policy = POMDP().fit(synthetic(400, medium_helps=False, seed=7), costs=COSTS)
    low = Observation(0, 3, 0.0, 8, 8, confidences=(0.0,))
    assert policy.decide(low) == 2
    t0 = ScriptedChatModel(answer="a0", verdicts=[INCORRECT])
    t1, t2 = ScriptedChatModel(answer="a1"), ScriptedChatModel(answer="a2")
    automix = AutoMixRunnable(models=[t0, t1, t2], costs=COSTS, meta_verifier=policy)
    r = automix.invoke_result("q?")
    assert r.answered_by == 2 and t1.calls == [] and r.attempts[1].skipped
    t0_ok = ScriptedChatModel(answer="a0", verdicts=[CORRECT])
    r = AutoMixRunnable(models=[t0_ok, t1, t2], costs=COSTS, meta_verifier=policy).invoke_result(
        "q?"
    )
    assert r.answered_by == 0


class _BadTarget(MetaVerifier):
    name = "bad_target_test"

    def decide(self, observation: Observation) -> Any:
        return 0 if observation.tier else 7


def test_a_target_outside_the_cascade_is_an_error_naming_the_policy() -> None:
    models = [ScriptedChatModel(verdicts=[INCORRECT]) for _ in range(3)]
    automix = AutoMixRunnable(models=models, costs=COSTS, meta_verifier=_BadTarget())
    with pytest.raises(ValueError, match=r"bad_target_test returned 7.*\[1, 2\]"):
        automix.invoke_result("q?")


# ----------------------------------------------------------------------------- collect


def test_collect_reuses_tiers_of_an_earlier_replay(tmp_path: Path) -> None:
    from langchain_automix.collection.collect import Tier, acollect, load_reuse
    from langchain_automix.collection.datasets import QAItem

    items = [
        QAItem(id=f"q{i}", question="Capital?", context="Paris is the capital.", answers=("Paris",))
        for i in range(3)
    ]
    medium = ScriptedChatModel(answer="Paris", verdicts=[CORRECT])
    large = ScriptedChatModel(answer="Paris")
    pair = tmp_path / "pair.jsonl"
    asyncio.run(acollect(items, [Tier("m", medium), Tier("l", large)], pair, k=2, progress=False))
    calls_m, calls_l = len(medium.calls), len(large.calls)
    small = ScriptedChatModel(answer="Lyon", verdicts=[INCORRECT])
    three = tmp_path / "three.jsonl"
    tiers = [Tier("s", small), Tier("m", medium), Tier("l", large)]
    stats = asyncio.run(acollect(items, tiers, three, k=2, progress=False, reuse=load_reuse(pair)))
    assert stats.written == 3
    assert len(medium.calls) == calls_m and len(large.calls) == calls_l  # copied, not called
    assert small.count("solve") == 3 and small.count("verify") == 6
    data = ReplayDataset.from_jsonl(three)
    assert data.models == ("s", "m", "l") and data.n_tiers == 3
    rows = [json.loads(line) for line in three.read_text().splitlines()]
    assert [t.get("reused", False) for t in rows[0]["tiers"]] == [False, True, True]
    assert "verifier_confidence" not in rows[0]["tiers"][2]
    # a tier recorded as final elsewhere cannot fill a verified position: it is called
    flipped = [Tier("s", small), Tier("l", large), Tier("m", medium)]
    before = len(large.calls)
    asyncio.run(
        acollect(
            items[:1], flipped, tmp_path / "flip.jsonl", k=2, progress=False, reuse=load_reuse(pair)
        )
    )
    assert len(large.calls) > before


def test_an_always_escalate_fallback_goes_straight_to_the_last_tier() -> None:
    from langchain_automix.meta_verifiers import Calibrated

    rng = np.random.default_rng(8)
    n = 200
    scores = np.column_stack([np.zeros(n), np.zeros(n), np.ones(n)])  # only the large one
    data = ReplayDataset.from_arrays(scores, rng.integers(0, 9, (n, 2)) / 8)  # noise
    policy = Calibrated(Threshold(), signal="verifier", robust=True).fit(data, costs=COSTS)
    assert policy.fallback == "escalate"
    routing = policy.route_paths(data)
    # it starts at the last tier: neither the small nor the medium model is called
    assert policy.start_tier(3) == 2
    assert (routing.final == 2).all() and not routing.visited[:, :2].any()
    assert policy.decide(Observation(0, 3, 0.5, 8, 8)) == 2
    res = evaluate_policy(policy, data, costs=COSTS)
    assert res.avg_cost == pytest.approx(50)  # the large model alone, as always-large
