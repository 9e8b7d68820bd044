"""The drift alarm (issue #29, item 3): statistics, reference, monitor, policy provenance."""

from __future__ import annotations

import json
import logging
import math
import threading
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from langchain_automix.calibration.drift import (
    DriftMonitor,
    ReferenceSample,
    SignalReference,
    chi2_quantile,
    ks_critical_value,
    ks_p_value,
    ks_two_sample,
    population_stability_index,
    psi_edges,
)
from langchain_automix.calibration.replay import ReplayDataset, ReplayError, load_replay
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.meta_verifiers import (
    POMDP,
    Calibrated,
    MetaVerifier,
    PolicyError,
    Provenance,
    Threshold,
)

DATA = Path(str(files("langchain_automix") / "data"))
GRID8 = np.arange(9) / 8  # shares of k = 8 verifier samples


# ------------------------------------------------------------------------- PSI
def test_psi_matches_hand_computed_values() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    assert population_stability_index([50, 50], [25, 75]) == pytest.approx(
        0.25 * math.log(2) + 0.25 * math.log(1.5)
    )
    # shares, not counts, give the same
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        population_stability_index([50, 50], [25, 75])
    )
    assert population_stability_index([3, 1, 6], [3, 1, 6]) == 0.0
    # an empty bin counts as eps: (0.5 - 1) ln(0.5 / 1) + (0.5 - eps) ln(0.5 / eps)
    eps = 1e-4
    assert population_stability_index([1, 0], [1, 1]) == pytest.approx(
        -0.5 * math.log(0.5) + (0.5 - eps) * math.log(0.5 / eps)
    )
    assert population_stability_index([1, 0], [1, 1], eps=1e-2) == pytest.approx(
        -0.5 * math.log(0.5) + (0.5 - 1e-2) * math.log(0.5 / 1e-2)
    )
    # symmetric in its two arguments
    assert population_stability_index([2, 5, 3], [4, 4, 2]) == pytest.approx(
        population_stability_index([4, 4, 2], [2, 5, 3])
    )


def test_psi_refuses_mismatched_or_empty_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        population_stability_index([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="positive total"):
        population_stability_index([0, 0], [1, 2])


def test_psi_edges_cut_only_between_distinct_grid_values() -> None:
    rng = np.random.default_rng(3)
    # a verifier on a 1/8 grid with 40% zeros: many ties, heavy mass at 0
    values = np.where(rng.random(400) < 0.4, 0.0, rng.integers(1, 9, 400) / 8)
    edges = psi_edges(values)
    assert edges.size >= 2
    uniq = np.unique(values)
    for e in edges:  # every edge is the midpoint of two neighbouring distinct values
        i = np.searchsorted(uniq, e)
        assert 0 < i < uniq.size and e == pytest.approx((uniq[i - 1] + uniq[i]) / 2)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    assert (counts > 0).all()  # no empty or degenerate bin in the reference
    assert counts[0] == np.sum(values == 0.0)  # the atom at 0 is one bin, whole
    assert (counts / values.size >= 0.05).all()  # merged up to half a 1/10 share
    # a 0/1 indicator with 5% ones: two bins; a constant: one bin
    assert psi_edges([0] * 95 + [1] * 5).tolist() == [0.5]
    assert psi_edges([0.25] * 10).size == 0
    # the small last bin (10%) of 4 bins is merged into its neighbour
    assert psi_edges([0.0] * 6 + [0.25, 0.5, 0.5, 1.0], bins=4).tolist() == [0.125]
    assert psi_edges([0.0] * 4 + [0.25] * 2 + [0.5] * 2 + [1.0] * 2, bins=4).tolist() == [
        0.125,
        0.375,
        0.75,
    ]


# ------------------------------------------------------------------------- KS
def test_ks_statistic_and_p_value_by_hand() -> None:
    # ECDFs: at 0.25 0.5 vs 0, at 0.5 1.0 vs 0.5: D = 0.5 (ties counted on both sides)
    res = ks_two_sample([0.0, 0.25, 0.5, 0.5], [0.5, 0.5, 0.75, 1.0])
    assert res.statistic == 0.5
    assert ks_two_sample([0.125] * 5, [0.125] * 3) == (0.0, 1.0)
    assert ks_two_sample([0.0, 0.0], [1.0]).statistic == 1.0
    # Kolmogorov series at Stephens' corrected lambda
    en = math.sqrt(100 * 100 / 200)
    lam = (en + 0.12 + 0.11 / en) * 0.2
    expected = 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 50))
    assert ks_p_value(0.2, 100, 100) == pytest.approx(expected, rel=1e-12)
    assert ks_p_value(0.0, 10, 10) == 1.0
    assert ks_p_value(1.0, 1000, 1000) < 1e-100
    with pytest.raises(ValueError, match="sample sizes"):
        ks_p_value(0.1, 0, 5)
    with pytest.raises(ValueError, match="at least one value"):
        ks_two_sample([], [1.0])


def test_ks_critical_value_inverts_the_p_value() -> None:
    for alpha, n, m in [(0.05, 100, 100), (0.01, 200, 152), (0.001, 50, 500)]:
        d = ks_critical_value(alpha, n, m)
        assert ks_p_value(d, n, m) == pytest.approx(alpha, rel=1e-6)
        assert ks_p_value(d * 1.01, n, m) < alpha < ks_p_value(d * 0.99, n, m)
    # the textbook large-sample constant: c(0.05) = 1.358
    assert ks_critical_value(0.05, 10**8, 10**8) * math.sqrt(10**8 / 2) == pytest.approx(
        1.358, abs=1e-3
    )


def test_ks_agrees_with_scipy_where_installed() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n, m in [(50, 150), (200, 152), (30, 500)]:
        a, b = rng.integers(0, 9, n) / 8, rng.integers(0, 7, m) / 8
        ours = ks_two_sample(a, b)
        theirs = stats.ks_2samp(a, b, method="asymp")
        assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=0.15)
    assert chi2_quantile(0.99, 9) == pytest.approx(stats.chi2.ppf(0.99, 9), rel=0.01)


def test_ks_on_discrete_grids_is_conservative() -> None:
    """On a 1/8 grid (ties) the asymptotic p-value rejects less often than alpha."""
    rng = np.random.default_rng(7)
    p = np.array([0.35, 0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.1, 0.05])
    draws = 2000
    rejected = sum(
        ks_two_sample(rng.choice(GRID8, 50, p=p), rng.choice(GRID8, 150, p=p)).p_value < 0.05
        for _ in range(draws)
    )
    assert rejected / draws < 0.05


def test_chi2_quantile_against_table_values() -> None:
    # chi-square table: (q, dof) -> quantile
    for (q, dof), want in {(0.99, 9): 21.666, (0.95, 1): 3.841, (0.999, 4): 18.467}.items():
        assert chi2_quantile(q, dof) == pytest.approx(want, rel=0.04)
    with pytest.raises(ValueError, match="dof"):
        chi2_quantile(0.9, 0)


# ------------------------------------------------------------------------- reference
def test_reference_sample_keeps_ties_and_subsamples_by_quantiles() -> None:
    values = np.concatenate([np.zeros(300), np.linspace(0.01, 1.0, 700)])
    s = ReferenceSample.from_values(values, max_values=100)
    assert s.n == 1000 and s.size == 100
    assert s.values[0] == 0.0 and s.counts[0] == 30  # 30% zeros stay 30%
    assert ReferenceSample.from_values(values, max_values=100) == s  # deterministic
    full = ReferenceSample.from_values([1 / 3, 0.5, 1 / 3, float("nan")])
    assert full.values == (0.333333, 0.5) and full.counts == (2, 1) and full.n == 3
    with pytest.raises(ValueError, match="no finite value"):
        ReferenceSample.from_values([float("nan")])
    with pytest.raises(ValueError, match="strictly increasing"):
        ReferenceSample(values=(0.5, 0.25), counts=(1, 1), n=2)


def _three_tier() -> ReplayDataset:
    return ReplayDataset.from_arrays(
        scores=[[0, 1, 1], [1, 1, 1], [0, 0, 1], [0, 1, 1]],
        confidences=[[0.0, 0.5], [1.0, 0.75], [0.25, float("nan")], [0.0, 0.25]],
    )


def test_reference_from_replay_per_tier_and_on_visited_rows() -> None:
    rows = [
        {
            "id": i,
            "tiers": [
                {"score": 1, "verifier_confidence": c, "signals": sig},
                {"score": 1},
            ],
        }
        for i, (c, sig) in enumerate(
            [(0.125, {"answer_min_prob": 0.4}), (0.5, {}), (0.125, {"answer_min_prob": 0.9})]
        )
    ]
    data = ReplayDataset.from_records(rows)
    ref = SignalReference.from_replay(data)
    assert ref.keys == ("tier0/answer_min_prob", "tier0/verifier")
    assert ref.samples["tier0/answer_min_prob"].n == 2  # the row without it is left out
    assert ref.samples["tier0/verifier"].counts == (2, 1)
    with pytest.raises(ReplayError, match="not in this replay data"):
        SignalReference.from_replay(data, ["logprob_verifier"])
    three = ReplayDataset.from_arrays(
        scores=[[0, 1, 1], [1, 1, 1], [0, 0, 1], [0, 1, 1]],
        confidences=[[0.0, 0.5], [1.0, 0.75], [0.25, 0.5], [0.0, 0.25]],
    )
    visited = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 1]], dtype=bool)
    ref3 = SignalReference.from_replay(three, ["verifier"], visited=visited)
    assert ref3.samples["tier0/verifier"].n == 4
    assert ref3.samples["tier1/verifier"].sample().tolist() == [0.5, 0.5]  # rows 0 and 2
    with pytest.raises(ValueError, match="visited must have shape"):
        SignalReference.from_replay(three, ["verifier"], visited=visited[:, :2])


def test_reference_round_trips_through_json() -> None:
    rng = np.random.default_rng(1)
    ref = SignalReference.from_samples(
        {
            "tier0/verifier": rng.integers(0, 9, 300) / 8,
            "tier0/answer_min_prob": rng.random(700),
            "tier1/verifier": [1 / 3, 2 / 3, 1 / 7],
            "tier0/empty": [float("nan")],  # no value: left out
        },
        max_values=200,
        bins=8,
    )
    assert ref.keys == ("tier0/answer_min_prob", "tier0/verifier", "tier1/verifier")
    payload = json.loads(json.dumps(ref.to_dict()))
    assert SignalReference.from_dict(payload) == ref
    assert payload["bins"] == 8 and payload["version"] == 1
    assert payload["signals"]["tier1/verifier"] == {
        "n": 3,
        "sample": "0.142857 0.333333 0.666667",
    }
    assert "*" in payload["signals"]["tier0/verifier"]["sample"]  # counts of ties
    assert ref.samples["tier0/answer_min_prob"].size == 200


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=2), r"version 2 is newer"),
        (lambda d: d.update(extra=1), r"unknown field"),
        (lambda d: d.pop("signals"), r"missing field 'signal_reference\.signals'"),
        (lambda d: d["signals"].update({"verifier": {"n": 1, "sample": "0.5"}}), "tier0/verifier"),
        (
            lambda d: d["signals"]["tier0/verifier"].update(sample="0.5 oops"),
            r"'oops' is not a value",
        ),
        (
            lambda d: d["signals"]["tier0/verifier"].update(sample="0.5 0.25"),
            "strictly increasing",
        ),
        (lambda d: d["signals"]["tier0/verifier"].update(n=1), r"n \(1\) is less"),
        (lambda d: d["signals"]["tier0/verifier"].update(sample=[0.5]), "must be a string"),
        (lambda d: d["signals"]["tier0/verifier"].update(sample="nan"), "not a finite value"),
    ],
)
def test_invalid_reference_dicts_name_the_problem(mutate, message) -> None:
    d = SignalReference.from_samples({"tier0/verifier": [0.25, 0.5, 0.5]}).to_dict()
    mutate(d)
    with pytest.raises(ValueError, match=message):
        SignalReference.from_dict(d)


# ------------------------------------------------------------------------- monitor
def _grid_reference(seed: int = 0, n: int = 300) -> SignalReference:
    rng = np.random.default_rng(seed)
    return SignalReference.from_samples({"tier0/verifier": rng.integers(0, 9, n) / 8})


@pytest.mark.parametrize("method", ["ks", "psi"])
def test_monitor_stays_quiet_on_the_same_distribution_and_fires_on_a_shift(method) -> None:
    ref = _grid_reference()
    rng = np.random.default_rng(1)
    monitor = DriftMonitor(ref, window=100, method=method)
    for x in rng.integers(0, 9, 100) / 8:
        monitor.observe(0, {"verifier": x})
    same = monitor.status()
    assert same["drifted"] is False
    entry = same["signals"]["tier0/verifier"]
    assert entry["n"] == 100 and entry["reference_n"] == 300
    assert entry["statistic"] < entry["threshold"]
    for x in rng.integers(0, 3, 100) / 8:  # mostly "wrong": the confidence collapses
        monitor.observe(0, {"verifier": x})
    shifted = monitor.status()
    assert shifted["drifted"] is True and shifted["drifted_signals"] == ["tier0/verifier"]
    assert (shifted["signals"]["tier0/verifier"]["p_value"] is None) == (method == "psi")


def test_monitor_warns_once_then_informs_on_recovery_then_may_warn_again(caplog) -> None:
    ref = _grid_reference()
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(ref, window=50)
    caplog.set_level(logging.INFO, logger="langchain_automix.drift")

    def feed(values: np.ndarray) -> list[logging.LogRecord]:
        caplog.clear()
        for x in values:
            monitor.observe(0, {"verifier": x})
        return [r for r in caplog.records if r.name == "langchain_automix.drift"]

    assert feed(rng.integers(0, 9, 50) / 8) == []
    records = feed(np.zeros(200))  # far past the threshold, for 200 observations
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "signal drift on tier0/verifier" in records[0].getMessage()
    assert monitor.status()["drifted"] is True
    records = feed(rng.integers(0, 9, 100) / 8)  # the window refills with normal traffic
    assert [r.levelno for r in records] == [logging.INFO]
    assert "is over" in records[0].getMessage()
    assert monitor.status()["drifted"] is False
    records = feed(np.ones(100))
    assert [r.levelno for r in records] == [logging.WARNING]


def test_monitor_ignores_other_keys_tiers_and_missing_values() -> None:
    monitor = DriftMonitor(_grid_reference(), window=20, min_samples=5)
    monitor.observe(1, {"verifier": 0.5})  # no tier-1 reference
    monitor.observe(0, {"answer_min_prob": 0.5, "verifier": None})
    monitor.observe(0, {"verifier": float("nan")})
    status = monitor.status()["signals"]["tier0/verifier"]
    assert status["n"] == 0 and status["statistic"] is None and status["threshold"] is None
    for _ in range(4):
        monitor.observe(0, {"verifier": 0.5})
    assert monitor.status()["signals"]["tier0/verifier"]["statistic"] is None  # 4 < 5
    monitor.observe(0, {"verifier": True})  # a 0/1 indicator given as a bool counts as 1.0
    assert monitor.status()["signals"]["tier0/verifier"]["statistic"] is not None
    monitor.reset()
    assert monitor.status()["signals"]["tier0/verifier"]["n"] == 0


def test_rounding_makes_recomputed_grid_values_match_the_reference() -> None:
    ref = SignalReference.from_samples({"tier0/verifier": [1 / 3] * 50 + [2 / 3] * 50})
    monitor = DriftMonitor(ref, window=100)
    for i in range(100):  # the same shares computed another way, off in the last bits
        monitor.observe(0, {"verifier": (i % 2 + 1) * (1 - 1e-12) / 3})
    assert monitor.status()["signals"]["tier0/verifier"]["statistic"] == 0.0


def test_a_fixed_threshold_and_the_bonferroni_default() -> None:
    two = SignalReference.from_samples({"tier0/verifier": GRID8, "tier0/answer_min_prob": GRID8})
    fixed = DriftMonitor(two, window=10, method="psi", threshold=0.3)
    for x in GRID8:
        fixed.observe(0, {"verifier": x})
    status = fixed.status()
    assert status["signals"]["tier0/verifier"]["threshold"] == 0.3 and status["alpha"] is None
    one = DriftMonitor(_grid_reference(n=9), window=10)
    both = DriftMonitor(two, window=10)
    for m in (one, both):
        for x in GRID8:
            m.observe(0, {"verifier": x})
    # with two keys each is held to alpha / 2: a higher critical value
    assert (
        both.status()["signals"]["tier0/verifier"]["threshold"]
        > (one.status()["signals"]["tier0/verifier"]["threshold"])
        == pytest.approx(ks_critical_value(0.01, 9, 9))
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 1}, "window must be an integer >= 2"),
        ({"method": "chi2"}, "method must be"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"threshold": -1.0}, "threshold must be a positive"),
        ({"window": 10, "min_samples": 11}, "min_samples must be in"),
    ],
)
def test_monitor_settings_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        DriftMonitor(_grid_reference(), **kwargs)


def test_monitor_needs_a_reference_with_signals() -> None:
    with pytest.raises(ValueError, match="no signal"):
        DriftMonitor(SignalReference({}))


def test_monitor_is_thread_safe() -> None:
    monitor = DriftMonitor(_grid_reference(), window=5000, min_samples=10)
    errors: list[BaseException] = []
    start = threading.Barrier(9)

    def worker(seed: int) -> None:
        try:
            start.wait()
            for x in np.random.default_rng(seed).integers(0, 9, 400) / 8:
                monitor.observe(0, {"verifier": float(x)})
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(200):
                json.dumps(monitor.status())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    status = monitor.status()["signals"]["tier0/verifier"]
    assert status["n"] == 8 * 400  # no observation lost
    assert status["statistic"] is not None


# ------------------------------------------------------------------------- provenance
def test_fit_records_the_reference_of_the_signal_the_policy_reads(tmp_path: Path) -> None:
    data = synthetic_replay(300, seed=0)
    policy = Threshold().fit(data)
    assert policy.provenance is not None
    ref = policy.provenance.signal_reference
    assert ref is not None and ref.keys == ("tier0/verifier",)
    assert ref.samples["tier0/verifier"].n == 300
    assert ref.samples["tier0/verifier"].size == 200  # capped in policy files
    loaded = MetaVerifier.load(policy.save(tmp_path / "p.json"))
    assert loaded.provenance == policy.provenance
    assert loaded.provenance is not None and loaded.provenance.signal_reference == ref
    monitor = DriftMonitor(ref)  # what a server builds from a policy file
    assert monitor.keys == ("tier0/verifier",)


def test_a_free_signal_policy_records_its_signals_not_the_verifier() -> None:
    data = load_replay(DATA / "replay_local_qwen.jsonl")
    policy = Calibrated(Threshold(), signal="free", robust=False).fit(data)
    assert policy.provenance is not None and policy.provenance.signal_reference is not None
    keys = policy.provenance.signal_reference.keys
    assert "tier0/verifier" not in keys and "tier0/answer_min_prob" in keys
    assert policy.provenance.signal_reference.samples["tier0/answer_min_prob"].n == 289
    # the stored sample stays small: one line per key, a few KB
    assert len(json.dumps(policy.provenance.to_dict()["signal_reference"])) < 8000


def test_three_tiers_reference_the_rows_that_reach_each_tier() -> None:
    data = load_replay(DATA / "replay_local_three.jsonl")
    policy = POMDP().fit(data, costs=(1, 10, 50))
    visited = policy.route_paths(data).visited
    assert policy.provenance is not None
    ref = policy.provenance.signal_reference
    assert ref is not None
    assert ref.samples["tier0/verifier"].n == int(visited[:, 0].sum())
    assert ref.samples["tier1/verifier"].n == int(visited[:, 1].sum()) < data.n_rows


def test_policy_files_without_a_signal_reference_still_load(tmp_path: Path) -> None:
    # the shipped three-tier policy predates it (the two-tier ones were refitted with it)
    policy = MetaVerifier.load(DATA / "policy_pomdp_three_local.json")
    assert policy.provenance is not None and policy.provenance.signal_reference is None
    assert "signal_reference" not in policy.to_dict()["provenance"]
    for name in ("pomdp", "threshold", "free"):
        shipped = MetaVerifier.load(DATA / f"policy_{name}_local_qwen.json")
        assert shipped.provenance is not None and shipped.provenance.signal_reference is not None
    fitted = Threshold().fit(synthetic_replay(100, seed=1)).to_dict()
    fitted["provenance"].pop("signal_reference")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(fitted), encoding="utf-8")
    legacy = MetaVerifier.load(old)
    assert legacy.provenance is not None and legacy.provenance.signal_reference is None
    assert Provenance.from_dict(fitted["provenance"]).signal_reference is None


def test_a_broken_signal_reference_in_a_policy_file_is_named(tmp_path: Path) -> None:
    d = Threshold().fit(synthetic_replay(100, seed=1)).to_dict()
    d["provenance"]["signal_reference"]["signals"]["tier0/verifier"]["sample"] = "x"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"provenance\.signal_reference\.signals"):
        MetaVerifier.load(bad)


def test_check_every_judges_every_nth_value_and_as_soon_as_it_may() -> None:
    ref = SignalReference.from_samples({"tier0/verifier": [0.0, 0.25, 0.5, 0.75, 1.0] * 40})
    monitor = DriftMonitor(ref, window=40, min_samples=12, check_every=10)
    judged = []
    for _ in range(40):
        monitor.observe(0, {"verifier": 1.0})
        judged.append(monitor.status()["signals"]["tier0/verifier"]["statistic"] is not None)
    first = judged.index(True) + 1
    assert first == 12  # at min_samples, not at the next multiple of 10
    assert monitor.status()["check_every"] == 10 and monitor.status()["drifted"]
    with pytest.raises(ValueError, match="check_every"):
        DriftMonitor(ref, check_every=0)
