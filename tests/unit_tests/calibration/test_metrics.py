from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_automix.calibration.metrics import (
    CostSpec,
    aiq,
    apgr,
    baselines,
    cpt,
    delta_ibc,
    delta_ibc_regions,
    routing_point,
)

unit = st.floats(0.0, 1.0, allow_nan=False)
costs = st.tuples(st.floats(0.1, 10.0), st.floats(11.0, 500.0))


@settings(max_examples=200, deadline=None)
@given(costs, unit, unit, st.floats(0.0, 1.0))
def test_point_on_random_mixing_line_has_zero_delta_ibc(c, p_small, p_large, w) -> None:
    if abs(p_large - p_small) < 1e-6:
        return
    cost = c[0] + w * (c[1] - c[0])
    perf = p_small + w * (p_large - p_small)
    if w < 1e-6:
        return
    # ΔIBC divides by the point's distance from the small model: rounding in
    # ``perf - p_small`` and ``cost - c[0]`` grows as that distance shrinks (hypothesis
    # found w = 1e-6 with a 0.002 quality gap off by 1.1e-6 %), so the tolerance is the
    # float error bound, not a constant
    gap = abs(p_large - p_small)
    rounding = 8 * np.finfo(float).eps * (1 / (w * gap) + c[1] / (w * (c[1] - c[0])) + 1 / gap)
    assert delta_ibc(cost, perf, (c[0], p_small), (c[1], p_large)) == pytest.approx(
        0, abs=1e-9 + 100 * rounding
    )


@settings(max_examples=100, deadline=None)
@given(costs, unit, unit)
def test_always_large_has_zero_delta_ibc(c, p_small, p_large) -> None:
    if abs(p_large - p_small) < 1e-6:
        return
    assert delta_ibc(c[1], p_large, (c[0], p_small), (c[1], p_large)) == pytest.approx(0, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(costs, unit, st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.floats(0.001, 0.5))
def test_above_line_is_positive_below_negative(c, p_small, gap, w, bump) -> None:
    p_large = min(1.0, p_small + gap)
    if p_large - p_small < 1e-3:
        return
    cost = c[0] + w * (c[1] - c[0])
    on_line = p_small + w * (p_large - p_small)
    small, large = (c[0], p_small), (c[1], p_large)
    assert delta_ibc(cost, on_line + bump, small, large) > 0
    assert delta_ibc(cost, on_line - bump, small, large) < 0


@settings(max_examples=100, deadline=None)
@given(unit, st.floats(0.01, 1.0), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=10))
def test_random_mixing_apgr_is_half_and_cpt_matches(p_small, gap, shares) -> None:
    p_large = p_small + gap
    perfs = [p_small + s * gap for s in shares]
    assert apgr(shares, perfs, p_small, p_large) == pytest.approx(0.5)
    assert cpt(shares, perfs, p_small, p_large, 0.5) == pytest.approx(50.0)
    assert cpt(shares, perfs, p_small, p_large, 0.8) == pytest.approx(80.0)


def test_apgr_of_a_good_router_exceeds_half() -> None:
    assert apgr([0.2], [0.9], 0.5, 1.0) == pytest.approx(0.5 * 0.2 * 0.8 + 0.8 * (0.8 + 1) / 2)
    assert cpt([0.2], [0.9], 0.5, 1.0, 0.5) == pytest.approx(0.2 * 0.5 / 0.8 * 100)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), unit), min_size=2, max_size=20))
def test_aiq_between_min_and_max_quality(points) -> None:
    c = [p[0] for p in points]
    q = [p[1] for p in points]
    if max(c) - min(c) < 1e-6:
        return
    value = aiq(c, q)
    cheapest = q[int(np.argmin(c))]
    assert min(q) - 1e-9 <= value <= max(q) + 1e-9
    # dominated extra points never change the hull
    assert aiq([*c, max(c)], [*q, min(q)]) == pytest.approx(value)
    assert value >= min(cheapest, max(q)) - 1e-9


def test_aiq_keeps_the_best_point_of_a_cost() -> None:
    # found by hypothesis: two points at cost 0 and one a subnormal cost later made the
    # hull's cross product underflow to 0, and the better point at cost 0 was dropped
    assert aiq([0.0, 0.0, 1.0, 5e-324], [1.0, 0.5, 0.0, 0.0]) == pytest.approx(1.0)


def test_aiq_known_value_and_non_decreasing_hull() -> None:
    # the hull goes (0, 0) -> (1, 1) and stays flat: a worse, dearer point is ignored
    assert aiq([0, 1, 2], [0.0, 1.0, 0.5]) == pytest.approx(0.75)


def test_routing_point_cost_model_matches_paper() -> None:
    spec = CostSpec.make((1, 50))
    scores = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.5, 1.0]])
    p = routing_point(scores, [0, 1, 0, 1], spec)
    # C = C_small + C_verify + w C_large with C_verify = C_small
    assert p.avg_cost == pytest.approx((2 + 52 + 2 + 52) / 4)
    assert p.avg_performance == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert p.llm_call_share == 0.5
    spec3 = CostSpec.make((1, 10, 50), verify_costs=0.5)
    assert spec3.stop_costs.tolist() == [1.5, 12.0, 62.0]


def test_cost_spec_errors() -> None:
    with pytest.raises(ValueError, match="2 unit costs"):
        CostSpec.make((1,), n_tiers=None)
    with pytest.raises(ValueError, match="one per tier"):
        CostSpec.make((1, 50), n_tiers=3)
    with pytest.raises(ValueError, match="cost more"):
        CostSpec.make((50, 1))


def test_baselines_and_regions() -> None:
    spec = CostSpec.make((1, 50))
    scores = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 1.0]])
    b = baselines(scores, spec)
    assert b["always_large"]["delta_ibc"] == pytest.approx(0.0)
    assert b["always_small"]["delta_ibc"] is None
    assert b["oracle"]["llm_call_share"] == 0.5
    assert b["oracle"]["avg_performance"] == 0.75
    small, large = (1.0, 0.25), (50.0, 0.75)
    # a frontier on the random-mixing line (shifted by the verification cost) is negative
    regions = delta_ibc_regions([2, 52], [0.25, 0.75], small, large, cost_range=(2, 52))
    assert len(regions) == 5 and all(r < 0 for r in regions)
