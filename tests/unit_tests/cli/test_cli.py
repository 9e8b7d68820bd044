from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_automix.calibration.replay import write_replay
from langchain_automix.calibration.synthetic import synthetic_replay
from langchain_automix.cli.main import main
from langchain_automix.meta_verifiers import POMDP, Calibrated, MetaVerifier


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("cli")
    return (
        write_replay(synthetic_replay(600, seed=1), d / "train.jsonl"),
        write_replay(synthetic_replay(600, seed=2), d / "test.jsonl"),
    )


@pytest.mark.parametrize(
    "goal", [[], ["--target-llm-share", "0.3"], ["--budget", "10"], ["--lam", "0.01"]]
)
def test_fit_then_evaluate(files, tmp_path: Path, goal, capsys) -> None:
    train, test = files
    out = tmp_path / "policy.json"
    assert (
        main(
            [
                "fit",
                "--method",
                "pomdp",
                "--train",
                str(train),
                "--costs",
                "1,50",
                *goal,
                "--no-robust",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    policy = POMDP.load(out)
    assert policy.escalate_ is not None
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(out), "--test", str(test), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    m = payload["methods"]["pomdp"]
    for key in (
        "delta_ibc",
        "delta_ibc_regions",
        "avg_cost",
        "avg_performance",
        "llm_call_share",
        "apgr",
    ):
        assert key in m
    assert set(payload["baselines"]) == {"always_small", "always_large", "random_mixing", "oracle"}


def test_evaluate_compare_table_and_json(files, capsys) -> None:
    train, test = files
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(train),
                "--test",
                str(test),
                "--seeds",
                "2",
                "--train-size",
                "50",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "pomdp" in table and "ΔIBC" in table and "±" in table
    assert "verifier signal of tier 0" in table and "AUROC" in table
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(train),
                "--seeds",
                "2",
                "--json",
                "--methods",
                "threshold,pomdp",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["methods"]) == {"threshold", "pomdp"}
    assert payload["methods"]["pomdp"]["seeds"] == 2
    (signal,) = payload["verifier"]
    assert signal["tier"] == 0 and signal["n_rows"] == 600
    assert 0.5 < signal["auroc"] <= 1.0  # the synthetic verifier is informative


def test_plot(files, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    train, test = files
    png = tmp_path / "curve.png"
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(train),
                "--test",
                str(test),
                "--seeds",
                "1",
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["fit", "--method", "nope", "--train", "{train}", "-o", "{tmp}/p.json"],
            "unknown meta-verifier",
        ),
        (["fit", "--train", "{tmp}/missing.jsonl", "-o", "{tmp}/p.json"], "cannot read --train"),
        (["fit", "--train", "{bad}", "-o", "{tmp}/p.json"], "bad.jsonl:2: tier 0 is missing"),
        (["fit", "--train", "{train}", "--budget", "0.5", "-o", "{tmp}/p.json"], "budget"),
        (["evaluate", "--policy", "{train}", "--test", "{train}"], "cannot read --policy"),
        (["evaluate", "--policy", "{tmp}/p.json"], "--policy needs --test"),
        (["evaluate", "--test", "{train}"], "give --policy"),
        (["evaluate", "--train", "{train}", "--methods", "pomdp,bogus"], "bogus"),
    ],
)
def test_errors_exit_2(files, tmp_path: Path, capsys, argv, message) -> None:
    train, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        train.read_text().splitlines()[0]
        + "\n"
        + '{"id": "x", "tiers": [{"verifier_confidence": 1}, {"score": 1}]}\n'
    )
    args = [a.format(train=train, tmp=tmp_path, bad=bad) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "automix: error:" in err and message in err


def test_bad_costs_argument(files, capsys) -> None:
    train, _ = files
    with pytest.raises(SystemExit) as info:
        main(["fit", "--train", str(train), "--costs", "one,fifty", "-o", "x.json"])
    assert info.value.code == 2
    assert "comma-separated" in capsys.readouterr().err


def test_verify_costs_take_one_value_per_non_final_tier() -> None:
    from langchain_automix.cli.main import build_parser

    args = build_parser().parse_args(
        ["fit", "--train", "x.jsonl", "--costs", "1,50", "--verify-costs", "0.5", "-o", "p.json"]
    )
    assert args.costs == (1.0, 50.0) and args.verify_costs == (0.5,)


def test_fit_is_robust_by_default_and_reports(files, tmp_path: Path, capsys) -> None:
    train, _ = files
    out = tmp_path / "policy.json"
    assert main(["fit", "--method", "threshold", "--train", str(train), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fitted calibrated[verifier](" in text  # auto: these rows carry only the verifier
    assert "held-out ΔIBC % (4 x 5-fold)" in text
    policy = MetaVerifier.load(out)
    assert isinstance(policy, Calibrated)
    assert policy.report["n_rows"] > 0 and "cv_score" in policy.report
    assert ("FALLBACK" in text) == (policy.fallback is not None)


def test_fit_and_evaluate_take_the_model_check(files, tmp_path: Path, capsys) -> None:
    train, test = files
    out = tmp_path / "policy.json"
    args = ["fit", "--method", "pomdp", "--train", str(train), "--check", "model", "-o", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ΔIBC % under the smoothed gain model" in text
    assert "lower 20% posterior bound of its gain over always-escalate" in text
    policy = MetaVerifier.load(out)
    assert isinstance(policy, Calibrated) and policy.check == "model"
    assert policy.report["check"] == "model"
    args = ["evaluate", "--train", str(train), "--test", str(test), "--seeds", "1"]
    assert main([*args, "--check", "model", "--json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*args, "--check", "cross"])
    assert "invalid choice: 'cross' (choose from 'agree', 'held_out', 'model')" in (
        capsys.readouterr().err
    )
    # the default (agree) prints the model's share, the held-out bound of that share and
    # whether it was taken
    assert main(["fit", "--method", "pomdp", "--train", str(train), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    policy = MetaVerifier.load(out)
    assert isinstance(policy, Calibrated) and policy.check == "agree"
    assert policy.report["check"] == "agree"
    assert "smoothed gain model: best share" in text and "(tolerance 15)" in text
    assert ("; taken" in text) == policy.report["agree"]


def test_fit_and_evaluate_reject_unknown_signals(files, tmp_path: Path, capsys) -> None:
    train, _ = files
    with pytest.raises(SystemExit):
        main(["fit", "--train", str(train), "--signal", "bogus", "-o", str(tmp_path / "p")])
    assert "unknown signal 'bogus'" in capsys.readouterr().err
    code = main(
        ["fit", "--train", str(train), "--signal", "answer_min_prob", "-o", str(tmp_path / "p")]
    )
    assert code == 2
    assert "signal 'answer_min_prob' is not in this replay data" in capsys.readouterr().err


def test_evaluate_prints_intervals(files, capsys) -> None:
    train, _ = files
    args = ["evaluate", "--train", str(train), "--methods", "threshold", "--seeds", "2"]
    assert main([*args, "--bootstrap", "100"]) == 0
    assert "95% CI" in capsys.readouterr().out
    assert main([*args, "--bootstrap", "0"]) == 0
    assert "95% CI" not in capsys.readouterr().out


# ------------------------------------------------------------------ issue #13: hardening
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--train", "{train}", "--correct-at", "0"], "--correct-at: must be a number in (0, 1]"),
        (["evaluate", "--train", "{train}", "--seeds", "0"], "--seeds: must be an integer >= 1"),
        (["evaluate", "--train", "{train}", "--train-size", "1"], "--train-size: must be an integer >= 2"),
        (["evaluate", "--train", "{train}", "--test-fraction", "1"], "--test-fraction: must be a number in (0, 1)"),
        (["evaluate", "--train", "{train}", "--bootstrap", "-1"], "--bootstrap: must be an integer >= 0"),
        (["evaluate", "--train", "{train}", "--seeds", "2.5"], "--seeds: must be an integer >= 1, got '2.5'"),
        (["fit", "--train", "{train}", "--target-llm-share", "1.5", "-o", "p"], "--target-llm-share: must be a number in [0, 1]"),
        (["fit", "--train", "{train}", "--budget", "0", "-o", "p"], "--budget: must be a finite number > 0"),
        (["fit", "--train", "{train}", "--lam", "-1", "-o", "p"], "--lam: must be a finite number >= 0"),
        (["fit", "--train", "{train}", "--lam", "inf", "-o", "p"], "--lam: must be a finite number >= 0"),
        (["fit", "--train", "{train}", "--costs", "1,nan", "-o", "p"], "costs must be finite and >= 0"),
        (["evaluate", "--train", "{train}", "--verify-costs", "inf"], "verification costs must be finite"),
    ],
)  # fmt: skip
def test_numeric_arguments_are_checked_while_parsing(files, capsys, argv, message) -> None:
    train, _ = files
    with pytest.raises(SystemExit) as info:
        main([a.format(train=train) for a in argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def _constant_rows(path: Path, n: int = 120) -> Path:
    from langchain_automix.calibration.replay import ReplayDataset

    data = synthetic_replay(n, seed=3)
    const = ReplayDataset.from_arrays(data.scores, [[0.625]] * n)
    return write_replay(const, path)


@pytest.mark.parametrize("robust", ["--robust", "--no-robust"])
def test_fit_on_a_constant_confidence_warns_and_says_so_in_the_policy(
    tmp_path: Path, capsys, robust: str
) -> None:
    train = _constant_rows(tmp_path / "const.jsonl")
    out = tmp_path / "p.json"
    argv = ["fit", "--method", "pomdp", "--train", str(train), "--signal", "verifier", robust]
    assert main([*argv, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "WARNING: the routing signal 'verifier' takes one value (0.625)" in text
    policy = MetaVerifier.load(out)
    assert policy.provenance is not None
    assert any("takes one value" in w for w in policy.provenance.warnings)
    if robust == "--robust":  # the fallback says why, and skips the useless verification
        assert isinstance(policy, Calibrated) and policy.fallback == "escalate"
        assert "takes one value" in policy.report["fallback_reason"]
        assert "FALLBACK to always-escalate" in text and "held-out" not in text
        assert not policy.reads_verifier()


def test_evaluate_warns_on_few_test_rows(files, tmp_path: Path, capsys) -> None:
    from langchain_automix.calibration.replay import ReplayDataset
    from langchain_automix.cli.evaluate import MIN_TEST_ROWS
    from langchain_automix.meta_verifiers import Threshold

    train, _ = files
    policy = tmp_path / "p.json"
    Threshold(0.5).save(policy)
    few = write_replay(ReplayDataset.from_jsonl(train).subset([0, 1, 2]), tmp_path / "few.jsonl")
    assert main(["evaluate", "--policy", str(policy), "--test", str(few)]) == 0
    err = capsys.readouterr().err
    assert f"only 3 test rows (fewer than {MIN_TEST_ROWS})" in err
    assert main(["evaluate", "--policy", str(policy), "--test", str(few), "--json"]) == 0
    captured = capsys.readouterr()
    assert "only 3 test rows" in json.loads(captured.out)["warnings"][0]
    assert main(["evaluate", "--policy", str(policy), "--test", str(train)]) == 0
    assert "test rows" not in capsys.readouterr().err


def test_evaluate_prints_the_policy_provenance(files, tmp_path: Path, capsys) -> None:
    train, test = files
    out = tmp_path / "p.json"
    argv = ["fit", "--method", "threshold", "--train", str(train), "--no-robust"]
    assert main([*argv, "--signal", "verifier", "--costs", "1,20", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--policy", str(out), "--test", str(test)]) == 0
    text = capsys.readouterr().out
    assert "policy threshold(" in text
    assert "fitted on 600 rows (sha256 " in text and "with costs (1, 20)" in text
    assert "differs here: unit costs: fitted with (1, 20), got (1, 50)" in text
    assert main(["evaluate", "--policy", str(out), "--test", str(train), "--costs", "1,20"]) == 0
    text = capsys.readouterr().out
    assert "differs here" not in text and "in-sample numbers" in text
    assert main(["evaluate", "--policy", str(out), "--test", str(test), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["policy_provenance"]["costs"] == [1.0, 20.0]
    assert payload["policy_provenance"]["n_rows"] == 600
