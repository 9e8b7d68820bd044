"""The LangGraph-server entry point: langgraph.json, the wrapper graph, env-configured tiers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_automix import AutoMixRunnable
from langchain_automix.server import langgraph_app
from langchain_automix.tiers import TierConfigError, parse_tier, parse_tiers
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

ROOT = Path(__file__).resolve().parents[3]


def test_langgraph_json_points_at_the_factory() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    target = config["graphs"]["automix"]
    path, _, attr = target.partition(":")
    assert (ROOT / path).is_file()
    assert attr == "make_graph" and callable(getattr(langgraph_app, attr))
    assert config["dependencies"] == ["."]


def test_module_imports_without_langgraph_api_or_server_extras() -> None:
    code = (
        "import sys; sys.modules['langgraph_api'] = None; sys.modules['fastapi'] = None\n"
        "import langchain_automix.server.langgraph_app as m; print(m.make_graph.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "make_graph"


def _automix() -> AutoMixRunnable:
    small = ScriptedChatModel(answer="Paris", verdicts=[CORRECT, INCORRECT])
    large = ScriptedChatModel(answer="Paris, France")
    return AutoMixRunnable(models=[small, large], num_verifications=2)


async def test_wrapper_graph_answers_and_takes_knobs_from_run_context() -> None:
    graph = langgraph_app.build_graph(_automix())
    assert {"solve_small", "self_verify", "meta_decide", "solve_large"} <= set(
        graph.get_graph().nodes
    )
    out = await graph.ainvoke({"question": "Capital?", "context": "Paris."})
    assert out["answer"] == "Paris" and out["trace"]["escalated"] is False
    out = await graph.ainvoke({"question": "Capital?"}, context={"threshold": 0.9})
    assert out["answer"] == "Paris, France" and out["trace"]["escalated"] is True
    out = graph.invoke({"question": "Capital?"}, context={"num_verifications": 4})
    assert out["trace"]["attempts"][0]["verifier_n_samples"] == 4


def test_make_graph_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    langgraph_app.runnable_from_env.cache_clear()
    monkeypatch.setenv(
        "AUTOMIX_TIERS", "small@http://127.0.0.1:9/v1; big@http://127.0.0.1:9/v1,key_env=BIG_KEY"
    )
    monkeypatch.setenv("BIG_KEY", "k")
    monkeypatch.setenv("AUTOMIX_COSTS", "1,20")
    monkeypatch.setenv("AUTOMIX_THRESHOLD", "0.7")
    try:
        graph = langgraph_app.make_graph()
        automix = langgraph_app.runnable_from_env()
    finally:
        langgraph_app.runnable_from_env.cache_clear()
    assert graph.name == "AutoMixServer"
    assert [m.model_name for m in automix.models] == ["small", "big"]  # type: ignore[attr-defined]
    assert automix.threshold == 0.7


def test_make_graph_without_tiers_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    langgraph_app.runnable_from_env.cache_clear()
    monkeypatch.delenv("AUTOMIX_TIERS", raising=False)
    with pytest.raises(RuntimeError, match="AUTOMIX_TIERS"):
        langgraph_app.make_graph()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m@http://h/v1", ("m", "m", "http://h/v1", None)),
        ("m@http://h:8080", ("m", "m", "http://h:8080", None)),
        ("m@http://h:8080/v1,key_env=KEY_VAR", ("m", "m", "http://h:8080/v1", "KEY_VAR")),
        (
            "fast=org/m:q4@https://api.x.ai/v1,key_env=X",
            ("fast", "org/m:q4", "https://api.x.ai/v1", "X"),
        ),
        ("gpt-4o", ("gpt-4o", "gpt-4o", None, None)),
    ],
)
def test_parse_tier(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    spec = parse_tier(text)
    assert (spec.name, spec.model, spec.base_url, spec.api_key_env) == expected


@pytest.mark.parametrize(
    "text", ["", "=m", "m@", "m@ftp://h", "m,api_key=sk-123", "m,key_env=not a name"]
)
def test_parse_tier_rejects(text: str) -> None:
    with pytest.raises(TierConfigError, match="tier"):
        parse_tier(text)


def test_parse_tiers_and_missing_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = parse_tiers("a@http://h/v1; b@http://h/v1,key_env=NOPE_UNSET_VAR")
    monkeypatch.delenv("NOPE_UNSET_VAR", raising=False)
    with pytest.raises(TierConfigError, match="NOPE_UNSET_VAR"):
        specs[1].chat_model()
