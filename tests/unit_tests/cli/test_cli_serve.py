"""``automix serve``: options, the lazy --local import, and the app it runs."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from langchain_automix.cli.main import build_parser, main


def test_serve_is_registered() -> None:
    args = build_parser().parse_args(
        ["serve", "--tier", "a@http://127.0.0.1:9/v1", "--tier", "b@http://127.0.0.1:9/v1"]
    )
    assert args.command == "serve" and args.host == "127.0.0.1" and args.port == 8000


def test_serve_builds_app_from_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    code = main(
        [
            "serve",
            "--tier", "small@http://127.0.0.1:9/v1",
            "--tier", "large@http://127.0.0.1:9/v1",
            "--costs", "1,20", "--threshold", "0.6", "--num-verifications", "3",
            "--port", "8123",
        ]
    )  # fmt: skip
    assert code == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    automix = seen["app"].state.automix.default
    assert automix.threshold == 0.6 and automix.num_verifications == 3
    assert automix.costs.unit_costs_for(2) == (1.0, 20.0)
    health = TestClient(seen["app"], base_url="http://localhost").get("/health").json()
    assert health["tiers"] == ["small", "large"]


def test_serve_local_without_the_module_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_automix.local", None)  # import fails
    with pytest.raises(SystemExit, match=r"--local needs the embedded models.*\[local\]"):
        main(["serve", "--local"])


def test_serve_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--tier", "a@http://h/v1", "--threshold", "1.5"])
    assert "threshold must be in [0, 1]" in capsys.readouterr().err
    assert main(["serve", "--tier", "a@http://h/v1"]) == 2  # one tier is not a cascade
    assert "two or more" in capsys.readouterr().err


def _serve_app(monkeypatch: pytest.MonkeyPatch, *options: str) -> Any:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    tiers = ["--tier", "small@http://127.0.0.1:9/v1", "--tier", "large@http://127.0.0.1:9/v1"]
    assert main(["serve", *tiers, *options]) == 0
    return seen["app"]


def test_serve_limit_flags_reach_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_automix.server import ServerLimits

    app = _serve_app(
        monkeypatch,
        "--max-batch-size", "4", "--max-model-calls", "40", "--max-concurrency", "2",
        "--max-num-verifications", "12", "--lock-threshold", "--threshold-bounds", "0.2,0.9",
        "--budget-per-minute", "500", "--budget-per-day", "20000", "--rate-limit", "0",
        "--allowed-origin", "https://a.example", "--allowed-origin", "https://b.example",
        "--body-timeout", "5",
    )  # fmt: skip
    assert app.state.limits == ServerLimits(
        max_batch_size=4,
        max_model_calls=40,
        max_concurrency=2,
        max_num_verifications=12,
        lock_threshold=True,
        threshold_bounds=(0.2, 0.9),
        budget_per_minute=500,
        budget_per_day=20000,
        rate_limit=None,
        allowed_origins=("https://a.example", "https://b.example"),
        body_timeout_s=5,
    )
    client = TestClient(app, base_url="http://localhost")
    schema = client.get("/automix/config_schema").json()["$defs"]["Configurable"]
    assert schema["properties"]["num_verifications"]["maximum"] == 12
    assert "threshold" not in schema["properties"]  # locked
    body = {"inputs": [{"question": f"Q{i}?"} for i in range(5)]}
    assert client.post("/automix/batch", json=body).status_code == 413


def test_serve_limit_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = _serve_app(monkeypatch).state.limits
    assert (limits.max_batch_size, limits.max_model_calls, limits.max_concurrency) == (32, 512, 8)
    assert limits.rate_limit == 60 and limits.allowed_origins == ()
    assert limits.body_timeout_s == 30
    assert limits.lock_threshold is False and limits.threshold_bounds == (0.0, 1.0)


def test_serve_rejects_bad_limit_options(capsys: pytest.CaptureFixture[str]) -> None:
    for option, value, message in (
        ("--threshold-bounds", "0.9,0.2", "0 <= LO <= HI <= 1"),
        ("--threshold-bounds", "half", "expected LO,HI"),
        ("--max-batch-size", "0", "must be positive"),
        ("--rate-limit", "-1", "0 for no limit"),
        ("--body-timeout", "-2", "0 for no limit"),
        # checked at parse time (#26): a traceback and a server answering 500 before
        ("--port", "99999", "must be an integer from 1 to 65535, got '99999'"),
        ("--port", "0", "must be an integer from 1 to 65535"),
        ("--max-body-bytes", "0", "must be an integer >= 1, got '0'"),
        ("--max-context-chars", "0", "must be an integer >= 1"),
    ):
        with pytest.raises(SystemExit):
            main(["serve", "--tier", "a@http://h/v1", option, value])
        assert message in capsys.readouterr().err


def test_serve_tier_timeout_reaches_the_runnable(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_automix.cli.serve import DEFAULT_TIER_TIMEOUT
    from langchain_automix.server.configurable import find_automix

    def timeouts(*options: str) -> Any:
        automix = find_automix(_serve_app(monkeypatch, *options).state.automix)
        assert automix is not None
        return automix.tier_timeout

    assert timeouts() == DEFAULT_TIER_TIMEOUT
    assert timeouts("--tier-timeout", "2.5") == 2.5
    assert timeouts("--tier-timeout", "0") is None  # no limit
    with pytest.raises(SystemExit):
        main(
            ["serve", "--tier", "a@http://h/v1", "--tier", "b@http://h/v1", "--tier-timeout", "-1"]
        )


def test_serve_policy_file_and_verify_grammar_reach_the_runnable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from langchain_automix.calibration.synthetic import synthetic_replay
    from langchain_automix.meta_verifiers import POMDP, Calibrated

    policy = Calibrated(POMDP(), signal="verifier").fit(synthetic_replay(200, seed=1))
    path = tmp_path / "policy.json"
    policy.save(path)
    app = _serve_app(monkeypatch, "--policy", str(path), "--verify-grammar", "decision")
    automix = app.state.automix.default
    assert isinstance(automix.meta_verifier, Calibrated)
    assert automix.meta_verifier.describe() == policy.describe()
    assert automix.verifier_grammar is not None
    assert "Verification Decision" in automix.verifier_grammar
    # no per-request threshold for a policy that has none
    assert (
        "threshold"
        not in TestClient(app, base_url="http://localhost").get("/automix/config_schema").text
    )


def test_serve_shared_prefix_verification_reaches_the_runnable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_automix.prompts import SHARED_PREFIX_VERIFY_PROMPT, VERDICT_GRAMMAR

    app = _serve_app(monkeypatch, "--verify-prompt", "shared", "--verify-grammar", "verdict")
    automix = app.state.automix.default
    assert automix.verify_prompt is SHARED_PREFIX_VERIFY_PROMPT
    assert automix.verifier_grammar == VERDICT_GRAMMAR
    assert _serve_app(monkeypatch).state.automix.default.verify_prompt is None


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "--policy .*missing.json: cannot read it"),
        ("{not json", [], "--policy .*bad.json: not a policy file"),
        ("pomdp", ["--threshold", "0.6"], "--threshold applies to a Threshold policy"),
    ],
)
def test_serve_refuses_a_bad_policy_before_any_model_starts(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    content: str | None,
    extra: list[str],
    message: str,
) -> None:
    import re

    import uvicorn

    from langchain_automix.calibration.synthetic import synthetic_replay
    from langchain_automix.cli import serve
    from langchain_automix.meta_verifiers import POMDP

    if content == "pomdp":
        path = tmp_path / "pomdp.json"
        POMDP().fit(synthetic_replay(100, seed=2)).save(path)
    elif content is None:
        path = tmp_path / "missing.json"
    else:
        path = tmp_path / "bad.json"
        path.write_text(content)

    def no_models(args: Any) -> Any:
        raise AssertionError("models started before the policy was checked")

    monkeypatch.setattr(serve, "_models", no_models)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    code = main(["serve", "--local", "--policy", str(path), *extra])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
