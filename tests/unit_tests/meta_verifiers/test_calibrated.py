"""Calibrated: fits on any signal, a learned combiner, and a cross-validated fallback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from langchain_automix import (
    POMDP,
    AutoMixResult,
    AutoMixRunnable,
    Calibrated,
    MetaVerifier,
    ReplayDataset,
    Threshold,
    compare_methods,
)
from langchain_automix.calibration.metrics import CostSpec
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.evaluation import evaluate_policy
from langchain_automix.meta_verifiers import calibrated as calibrated_module
from langchain_automix.meta_verifiers._fitting import Objective
from langchain_automix.meta_verifiers.base import Observation
from langchain_automix.meta_verifiers.calibrated import AGREE_TOLERANCE
from tests.unit_tests.fake_models import CORRECT, INCORRECT, LogprobChatModel


def _with_signal(data: ReplayDataset, seed: int = 0) -> ReplayDataset:
    """Synthetic rows whose verifier is noise and whose answer_min_prob is informative."""
    rng = np.random.default_rng(seed)
    good = data.scores[:, 0] >= 0.5
    informative = np.clip(np.where(good, 0.7, 0.3) + rng.normal(0, 0.12, data.n_rows), 0, 1)
    noise = rng.integers(0, 9, data.n_rows) / 8
    return ReplayDataset(
        ids=data.ids,
        scores=data.scores,
        confidences=noise.reshape(-1, 1),
        signals={"answer_min_prob": informative.reshape(-1, 1)},
    )


def test_informative_signal_routes_and_noise_falls_back() -> None:
    data = _with_signal(synthetic_replay(400, seed=3))
    on_signal = Calibrated(Threshold(), signal="answer_min_prob").fit(data)
    assert on_signal.fallback is None
    assert on_signal.report["cv_delta_ibc"] > 20
    assert 0.0 < (on_signal.route(data) == 1).mean() < 1.0

    on_noise = Calibrated(Threshold(), signal="verifier").fit(data)
    assert on_noise.fallback == "escalate"
    assert "does not pay" in on_noise.report["fallback_reason"]
    assert (on_noise.route(data) == 1).all()
    assert (
        on_noise.decide(Observation(tier=0, n_tiers=2, confidence=1.0, n_valid=8, n_samples=8))
        == "escalate"
    )
    assert "always-escalate" in on_noise.describe()

    raw = Calibrated(Threshold(), signal="verifier", robust=False).fit(data)
    assert raw.fallback is None and "cv_score" not in raw.report


def test_combined_signal_learns_weights_and_round_trips(tmp_path: Path) -> None:
    data = _with_signal(synthetic_replay(400, seed=4))
    mv = Calibrated(POMDP(), signal="combined").fit(data)
    weights = mv.report["combiner_weights"]
    assert set(weights) == {"verifier", "answer_min_prob"}
    assert weights["answer_min_prob"] > 3 * abs(weights["verifier"])
    path = mv.save(tmp_path / "p.json")
    again = MetaVerifier.load(path)
    assert isinstance(again, Calibrated)
    assert np.array_equal(again.route(data), mv.route(data))
    assert json.loads(path.read_text())["params"]["fallback"] is None


def test_live_decision_uses_the_chosen_signal() -> None:
    data = _with_signal(synthetic_replay(400, seed=5))
    mv = Calibrated(Threshold(), signal="answer_min_prob").fit(data)
    cut = mv.policy.threshold  # type: ignore[attr-defined]
    sure = LogprobChatModel(
        answer="Paris", token_logprobs=[np.log(min(1.0, cut + 0.2))], verdicts=[INCORRECT]
    )
    unsure = LogprobChatModel(
        answer="Paris", token_logprobs=[np.log(max(1e-3, cut - 0.2))], verdicts=[CORRECT]
    )
    for small, expected in ((sure, False), (unsure, True)):
        automix = AutoMixRunnable(
            models=[small, LogprobChatModel(answer="Lyon")],
            meta_verifier=mv,
            num_verifications=2,
        )
        result = AutoMixResult.from_message(automix.invoke("Capital?"))
        assert result.escalated is expected
        assert result.attempts[0].meta_verifier.startswith("calibrated[answer_min_prob]")
    # a missing signal counts as no evidence (0): below any positive threshold
    obs = Observation(tier=0, n_tiers=2, confidence=1.0, n_valid=8, n_samples=8)
    assert mv.decide(obs) == "escalate"


def test_errors_name_the_problem() -> None:
    data = synthetic_replay(100, seed=0)
    with pytest.raises(ValueError, match="unknown signal 'bogus'"):
        Calibrated(Threshold(), signal="bogus")
    with pytest.raises(Exception, match=r"answer_min_prob.*not in this replay data"):
        Calibrated(Threshold(), signal="answer_min_prob").fit(data)
    with pytest.raises(ValueError, match="must be fitted"):
        Calibrated(Threshold(), signal="combined").decide(
            Observation(tier=0, n_tiers=2, confidence=1.0, n_valid=8, n_samples=8)
        )
    with pytest.raises(ValueError, match="folds >= 2"):
        Calibrated(Threshold(), folds=1)


def test_compare_methods_bootstrap_intervals_and_table_note() -> None:
    data = _with_signal(synthetic_replay(300, seed=6))
    comp = compare_methods(
        data,
        methods=["threshold"],
        seeds=range(3),
        bootstrap=200,
        robust=True,
        signal="verifier",
    )
    row = comp.summary()["threshold"]
    lo, hi = row["delta_ibc_ci"]
    assert lo <= row["delta_ibc"] <= hi
    assert row["apgr_ci"] is not None and row["avg_cost_ci"][0] <= row["avg_cost"]
    table = comp.format_table()
    assert "95% CI" in table
    good = compare_methods(
        data,
        methods=["threshold"],
        seeds=range(3),
        bootstrap=200,
        signal="answer_min_prob",
        robust=True,
    )
    assert good.summary()["threshold"]["delta_ibc_ci"][0] > 0
    assert "interval spans 0" not in good.format_table()
    # on the noise-only verifier every seed falls back to always-escalate, which calls the
    # large model alone: exactly the always-large point (ΔIBC 0, random mixing), not below
    lo, hi = row["delta_ibc_ci"]
    assert abs(lo) < 1e-9 and abs(hi) < 1e-9
    assert row["avg_cost"] == pytest.approx(50.0)
    assert "interval spans 0 (no evidence of beating random mixing): threshold" in table
    assert "-0.0" not in table  # rounding noise around 0 does not print as a sign
    raw = compare_methods(data, methods=["threshold"], seeds=range(3), bootstrap=200)
    assert "interval spans 0 (no evidence of beating random mixing): threshold" in (
        raw.format_table()
    )


def test_robust_fit_chooses_the_share_by_cross_validation_and_reports_it() -> None:
    data = _with_signal(synthetic_replay(400, seed=7))
    mv = Calibrated(Threshold(), signal="answer_min_prob", check="held_out").fit(data)
    assert mv.report["check"] == "held_out" and "model_delta_ibc" not in mv.report
    assert mv.report["cv_share"] in {round(0.1 * i, 1) for i in range(1, 10)}
    lowers = mv.report["cv_lower_by_share"]
    assert max(lowers.values()) == lowers[f"{mv.report['cv_share']:.2f}"] > 0
    share = float((mv.route(data) == 1).mean())
    assert abs(share - mv.report["cv_share"]) < 0.1  # refitted on all rows at that share
    # the gain target (default) and the score target both fit; anything else is refused
    assert Calibrated(Threshold(), signal="combined", target="score").fit(data).combiner
    with pytest.raises(ValueError, match="target must be 'gain' or 'score'"):
        Calibrated(Threshold(), target="nope")
    # a lam objective is checked too, with lam itself the only candidate
    lam = Calibrated(POMDP(), signal="answer_min_prob").fit(data, lam=0.001)
    assert "cv_share" not in lam.report and lam.report["objective"] == "lam"


def test_rows_without_the_fitted_signals_still_route() -> None:
    # fitted where the answer logprobs were recorded, evaluated where they were not (an
    # endpoint without logprobs): the combiner fills the training mean, a single signal 0
    data = _with_signal(synthetic_replay(300, seed=8))
    bare = synthetic_replay(50, seed=9)
    combined = Calibrated(Threshold(), signal="combined").fit(data)
    assert combined.route(bare).shape == (50,)
    single = Calibrated(Threshold(), signal="answer_min_prob", robust=False).fit(data)
    assert (single.route(bare) == 1).all()  # no evidence: escalate, as live


def _with_free_signals(data: ReplayDataset, seed: int = 0) -> ReplayDataset:
    """Rows with an informative answer_min_prob and the two answer-kind indicators."""
    base = _with_signal(data, seed)
    kinds = np.random.default_rng(seed + 1).integers(0, 2, (data.n_rows, 2)).astype(float)
    return ReplayDataset(
        ids=base.ids,
        scores=base.scores,
        confidences=base.confidences,
        signals={
            **base.signals,
            "answer_abstains": kinds[:, :1],
            "answer_yes_no": kinds[:, 1:],
        },
    )


def test_free_signals_never_call_the_verifier_and_are_not_charged_for_it() -> None:
    data = _with_free_signals(synthetic_replay(400, seed=6))
    free = Calibrated(Threshold(), signal="free").fit(data)
    assert free.fallback is None and not free.reads_verifier()
    assert set(free.report["combiner_weights"]) == {
        "answer_min_prob",
        "answer_abstains",
        "answer_yes_no",
    }
    paper = Calibrated(Threshold(), signal="combined", robust=False).fit(data)
    assert paper.reads_verifier()  # its combination includes the verifier
    # offline: a kept answer costs the small call only (1), not small + verification (2)
    from langchain_automix.evaluation import evaluate_policy

    res = evaluate_policy(free, data, costs=(1.0, 50.0))
    share = res.llm_call_share
    assert res.avg_cost == pytest.approx(1.0 + 50.0 * share)
    # live: the small model answers once and is never asked to verify
    cut = free.policy.threshold  # type: ignore[attr-defined]
    for logprob, escalated in ((0.0, False), (np.log(1e-4), True)):
        small = LogprobChatModel(answer="Paris", token_logprobs=[logprob], verdicts=[CORRECT])
        automix = AutoMixRunnable(
            models=[small, LogprobChatModel(answer="Lyon")], meta_verifier=free
        )
        result = automix.invoke_result("Capital?")
        assert small.count("verify") == 0 and small.count("solve") == 1
        first = result.attempts[0]
        assert first.verifier_confidence is None and first.verifier_n_samples is None
        assert "verifier" not in first.signals and "answer_min_prob" in first.signals
        assert result.escalated is escalated, (cut, first.signals)
        assert first.cost == 1.0  # no verification charged


def test_free_signal_needs_answer_probabilities() -> None:
    data = synthetic_replay(100, seed=0)
    with pytest.raises(ValueError, match=r"'free' needs answer token probabilities"):
        Calibrated(Threshold(), signal="free").fit(data)


def test_a_fixed_fallback_skips_verification_live() -> None:
    data = _with_signal(synthetic_replay(400, seed=3))
    on_noise = Calibrated(Threshold(), signal="verifier").fit(data)
    assert on_noise.fallback == "escalate" and not on_noise.reads_verifier()
    small = LogprobChatModel(answer="Paris", verdicts=[CORRECT])
    automix = AutoMixRunnable(
        models=[small, LogprobChatModel(answer="Lyon")], meta_verifier=on_noise
    )
    result = automix.invoke_result("Capital?")
    assert result.escalated and small.count("verify") == 0


def test_python_and_cli_default_fits_agree(tmp_path: Path) -> None:
    """#23 item 5: the same rows give the same policy from Python and from `automix fit`."""
    from langchain_automix.calibration.replay import load_replay
    from langchain_automix.cli.main import main
    from langchain_automix.meta_verifiers import POMDP, Calibrated, MetaVerifier

    rows = (
        Path(__file__).resolve().parents[3]
        / "langchain_automix"
        / "data"
        / "replay_local_qwen.jsonl"
    )

    python = Calibrated(POMDP()).fit(load_replay(rows))
    assert python.signal == "combined"  # the shipped rows carry answer signals
    out = tmp_path / "policy.json"
    assert main(["fit", "--method", "pomdp", "--train", str(rows), "-o", str(out)]) == 0
    cli = MetaVerifier.load(out)
    assert isinstance(cli, Calibrated)
    assert json.dumps(cli.get_params(), sort_keys=True) == json.dumps(
        python.get_params(), sort_keys=True
    )


def test_risk_levels_decide_when_a_doubtful_fit_still_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """strict: only a held-out ΔIBC gain above 0 at its bound routes; balanced also routes
    when the held-out signal ranks the rows the large model helps; off always routes."""
    data = _with_signal(synthetic_replay(400, seed=3))  # the verifier signal is noise
    strict = Calibrated(Threshold(), signal="verifier", risk="strict", check="held_out").fit(data)
    assert strict.fallback == "escalate" and "cv_rank_auroc_lower" not in strict.report
    # noise does not rank anything: balanced falls back too, and says what it measured
    balanced = Calibrated(Threshold(), signal="verifier", check="held_out").fit(data)
    assert balanced.risk == "balanced" and balanced.fallback == "escalate"
    assert balanced.report["cv_rank_auroc_lower"] < 0.5
    off = Calibrated(Threshold(), signal="verifier", risk="off").fit(data)
    assert off.fallback is None and "fallback_reason" not in off.report
    # where the rank check passes, balanced routes and says why
    monkeypatch.setattr(Calibrated, "_rank_lower", lambda self, data, rows: 0.61)
    ranked = Calibrated(Threshold(), signal="verifier", check="held_out").fit(data)
    assert ranked.fallback is None
    assert "ranks the rows" in ranked.report["cv_routes_because"]
    # unless the model check finds no gain in any share: then the rank check is not asked
    model = Calibrated(Threshold(), signal="verifier", check="model").fit(data)
    assert model.report["check"] == "model" and model.report["model_delta_ibc"] <= 0
    assert model.fallback == "escalate" and "cv_rank_auroc_lower" not in model.report
    assert "smoothed gain model" in model.report["fallback_reason"]
    with pytest.raises(ValueError, match="risk must be one of strict, balanced, off"):
        Calibrated(Threshold(), risk="yolo")


def test_the_model_check_chooses_under_the_gain_model_and_says_so() -> None:
    """check="model": the share is the best under the smoothed gain model and the fit
    routes when the model's lower 20% bound of the gain is above 0 (strict: 5%)."""
    data = synthetic_replay(200, seed=0, verifier_strength=0.55)  # verifier AUROC ~0.84
    mv = Calibrated(POMDP(), check="model").fit(data)
    rep = mv.report
    assert rep["check"] == "model" and mv.fallback is None
    by_share = rep["model_delta_ibc_by_share"]
    assert max(by_share.values()) == by_share[rep["cv_choice"]] == rep["model_delta_ibc"]
    assert rep["model_quantile"] == 0.2 and 0 < rep["model_margin_lower"] < rep["model_delta_ibc"]
    assert "cv_delta_ibc" in rep  # the held-out estimate of the same share, beside it
    strict = Calibrated(POMDP(), risk="strict", check="model").fit(data)
    assert strict.report["model_quantile"] == pytest.approx(0.05)
    assert strict.report["model_margin_lower"] < rep["model_margin_lower"]
    # the held-out rule chooses by cross-validation alone
    held = Calibrated(POMDP(), check="held_out").fit(data)
    assert held.check == "held_out" and held.report["check"] == "held_out"
    assert "model_delta_ibc" not in held.report
    with pytest.raises(ValueError, match="check must be one of held_out, model, agree"):
        Calibrated(POMDP(), check="auto")
    with pytest.raises(ValueError, match="a lam objective has one candidate"):
        Calibrated(POMDP(), check="model").fit(data, lam=0.001)
    # the kept policy is the candidate the model scored, fitted on all rows: the same
    # routing as refitting the wrapped policy at that share
    refit = POMDP()
    refit._fit(
        data.with_confidences(mv.observations(data)),
        CostSpec.make((1.0, 50.0), None, n_tiers=2),
        Objective("target_share", float(rep["cv_choice"])),
        None,
    )
    assert np.array_equal(mv.route(data), refit.route(data))
    three = ReplayDataset.from_arrays(
        np.column_stack([data.scores[:, 0], data.scores]),
        np.column_stack([data.confidences, data.confidences]),
    )
    with pytest.raises(ValueError, match="check='model' needs two tiers, got 3"):
        Calibrated(POMDP(), check="model").fit(three, costs=(1, 10, 50))


def test_the_model_check_keeps_the_gain_of_a_strong_verifier_on_100_rows() -> None:
    """What check="model" is for: a strong verifier (AUROC ~0.84) on 100 rows. On these
    10 splits the cross-validated check falls back on 2 (seeds 1 and 6), the model check
    on 1 (seed 6), and its shares score higher on the 4,000 test rows: 23.3 vs 18.4."""
    new, old = [], []
    for seed in range(10):
        train = synthetic_replay(100, seed=seed, verifier_strength=0.55)
        test = synthetic_replay(4000, seed=10_000 + seed, verifier_strength=0.55)
        for fits, check in ((new, "model"), (old, "held_out")):
            mv = Calibrated(POMDP(), check=check).fit(train)
            fits.append(evaluate_policy(mv, test).delta_ibc or 0.0)
    assert sum(v == 0 for v in old) == 2 and sum(v == 0 for v in new) == 1
    assert np.mean(new) > np.mean(old) + 3


def test_the_default_takes_the_model_share_where_the_cross_validation_agrees() -> None:
    """check="agree" (the default): the model check's share where the held-out bound of
    the same share is within AGREE_TOLERANCE of min_gain, else the held-out rule."""
    data = synthetic_replay(200, seed=0, verifier_strength=0.55)
    mv = Calibrated(POMDP()).fit(data)
    rep = mv.report
    assert mv.check == "agree" and rep["check"] == "agree" and rep["agree"] is True
    assert rep["agree_tolerance"] == AGREE_TOLERANCE
    assert rep["agree_cv_lower"] == rep["cv_lower_by_share"][rep["model_share"]]
    assert rep["cv_choice"] == rep["model_share"] and mv.fallback is None
    model = Calibrated(POMDP(), check="model").fit(data)
    assert np.array_equal(mv.route(data), model.route(data))
    # strict: no tolerance, the held-out check's own bar
    strict = Calibrated(POMDP(), risk="strict").fit(data)
    assert strict.report["agree_tolerance"] == 0.0
    assert strict.report["agree"] == (strict.report["agree_cv_lower"] > 0)


def test_the_default_falls_to_the_held_out_rule_where_they_disagree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = synthetic_replay(100, seed=1, verifier_strength=0.3)
    monkeypatch.setattr(calibrated_module, "AGREE_TOLERANCE", -1e9)  # never agrees
    mv = Calibrated(POMDP()).fit(data)
    held = Calibrated(POMDP(), check="held_out").fit(data)
    assert mv.report["agree"] is False and "model_share" in mv.report
    assert mv.fallback == held.fallback and mv.report["cv_choice"] == held.report["cv_choice"]
    assert np.array_equal(mv.route(data), held.route(data))
    if mv.fallback:  # the reason is the held-out rule's
        assert "bootstrap bound" in mv.report["fallback_reason"]
    # three tiers and a lam objective: the held-out rule alone, no error
    three = ReplayDataset.from_arrays(
        np.column_stack([data.scores[:, 0], data.scores]),
        np.column_stack([data.confidences, data.confidences]),
    )
    tiers3 = Calibrated(POMDP()).fit(three, costs=(1, 10, 50))
    assert tiers3.report["check"] == "held_out" and "agree" not in tiers3.report
    lam = Calibrated(POMDP()).fit(data, lam=0.001)
    assert lam.report["check"] == "held_out"


def test_rank_check_reads_the_held_out_signal() -> None:
    """A signal that is low exactly where the last tier scores higher ranks at AUROC 1."""
    rng = np.random.default_rng(0)
    n = 200
    helps = rng.random(n) < 0.3
    scores = np.column_stack([np.where(helps, 0.0, 1.0), np.ones(n)])
    conf = np.where(helps, rng.uniform(0, 0.4, n), rng.uniform(0.6, 1, n))
    perfect = ReplayDataset.from_arrays(scores, conf.reshape(-1, 1))
    mv = Calibrated(Threshold(), signal="verifier", risk="strict").fit(perfect)
    rows = np.random.default_rng(1).integers(0, n, size=(50, n))
    assert mv._rank_lower(perfect, rows) == 1.0
    shuffled = ReplayDataset.from_arrays(scores, rng.permutation(conf).reshape(-1, 1))
    mv = Calibrated(Threshold(), signal="verifier", risk="strict").fit(shuffled)
    assert mv._rank_lower(shuffled, rows) < 0.5


def test_policy_files_before_the_risk_option_load_as_strict(tmp_path: Path) -> None:
    data = _with_signal(synthetic_replay(200, seed=1))
    fitted = Calibrated(Threshold(), signal="answer_min_prob", risk="off").fit(data)
    assert Calibrated.from_dict(fitted.to_dict()).risk == "off"
    params = fitted.to_dict()
    del params["params"]["risk"]
    assert Calibrated.from_dict(params).risk == "strict"
    # nor did they know the model check: refitted, they choose by cross-validation
    del params["params"]["check"]
    assert Calibrated.from_dict(params).check == "held_out"
    model = Calibrated(Threshold(), signal="answer_min_prob", check="model").fit(data)
    assert Calibrated.from_dict(model.to_dict()).check == "model"


def test_three_tiers_never_route_on_the_rank_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rank check reads the first tier against the last: a two-tier premise."""
    monkeypatch.setattr(Calibrated, "_rank_lower", lambda self, data, rows: 0.99)
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 2, size=(120, 3)).astype(float)
    data = ReplayDataset.from_arrays(scores, rng.integers(0, 9, size=(120, 2)) / 8)
    mv = Calibrated(POMDP(), signal="verifier").fit(data, costs=(1, 10, 50))
    assert mv.fallback is not None and "cv_routes_because" not in mv.report


def _both_informative(n: int = 400, seed: int = 3) -> ReplayDataset:
    data = synthetic_replay(n, seed=seed)  # an informative verifier
    rng = np.random.default_rng(seed)
    good = data.scores[:, 0] >= 0.5
    probs = np.clip(np.where(good, 0.7, 0.3) + rng.normal(0, 0.12, n), 0, 1)
    return ReplayDataset(
        ids=data.ids,
        scores=data.scores,
        confidences=data.confidences,
        signals={"answer_min_prob": probs.reshape(-1, 1)},
    )


def test_a_combination_missing_a_signal_live_decides_with_its_verifier_twin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """#24: rows fitted with answer logprobs, an endpoint that returns none."""
    import langchain_automix.meta_verifiers.calibrated as calibrated

    monkeypatch.setattr(calibrated, "_WARNED", set())
    mv = Calibrated(Threshold(), signal="combined").fit(_both_informative())
    assert mv.fallback is None and mv.combiner is not None
    twin = mv.verifier_twin
    assert twin is not None and twin.signal == "verifier" and twin.fallback is None
    with_probs = Observation(0, 2, 1.0, 8, 8, signals=({"answer_min_prob": 0.05},))
    without = Observation(0, 2, 1.0, 8, 8)
    low = Observation(0, 2, 0.0, 8, 8)
    # the combination reads both signals; without the logprob signal the twin decides
    assert mv.decide(with_probs) == "escalate"  # the answer's own probability is low
    with pytest.warns(UserWarning, match="answer_min_prob.*verifier-only twin"):
        assert mv.decide(without) == twin.decide(without) == "accept"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        assert mv.decide(low) == twin.decide(low) == "escalate"
    # kept in the policy file
    path = mv.save(tmp_path / "p.json")
    again = Calibrated.load(path)
    assert again.verifier_twin is not None
    assert again.verifier_twin.describe() == twin.describe()


def test_a_free_combination_missing_its_signals_escalates(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain_automix.meta_verifiers.calibrated as calibrated

    monkeypatch.setattr(calibrated, "_WARNED", set())
    data = _both_informative()
    data = ReplayDataset(
        ids=data.ids,
        scores=data.scores,
        confidences=data.confidences,
        signals={
            "answer_min_prob": data.signal("answer_min_prob"),
            "answer_mean_prob": data.signal("answer_min_prob"),
        },
    )
    mv = Calibrated(Threshold(), signal="free").fit(data)
    assert mv.fallback is None and mv.verifier_twin is None and not mv.reads_verifier()
    with pytest.warns(UserWarning, match="escalating"):
        assert mv.decide(Observation(0, 2, 0.0, 0, 0)) == "escalate"
    with pytest.raises(ValueError, match="verifier_twin must be a Calibrated policy"):
        Calibrated(Threshold(), verifier_twin=Threshold())  # type: ignore[arg-type]
