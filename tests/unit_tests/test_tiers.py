from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_automix.tiers import TierConfigError, TierSpec, load_tier_config, parse_tier


def test_parse_tier_full() -> None:
    spec = parse_tier("large=llama-70b@http://gpu:8000/v1,key_env=VLLM_KEY,max_tokens=32")
    assert spec == TierSpec("large", "llama-70b", "http://gpu:8000/v1", "VLLM_KEY", 0.0, 32)


def test_parse_tier_minimal_and_model_with_colon() -> None:
    spec = parse_tier("small=qwen2.5:0.5b@http://127.0.0.1:11434/v1")
    assert spec.model == "qwen2.5:0.5b" and spec.base_url == "http://127.0.0.1:11434/v1"
    assert spec.api_key_env is None


@pytest.mark.parametrize(
    "flag",
    ["=gpt-4o", "small=", "small=gpt,api_key=sk-123", "s=m,key_env=sk-abc def", "s=m,x"],
)
def test_parse_tier_rejects(flag: str) -> None:
    with pytest.raises(TierConfigError):
        parse_tier(flag)


def test_literal_key_is_refused_and_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(TierConfigError) as info:
        parse_tier("small=gpt,api_key=sk-secret-123")
    assert "sk-secret-123" not in str(info.value)
    cfg = tmp_path / "t.json"
    cfg.write_text(json.dumps({"tiers": [{"name": "a", "model": "m", "api_key": "sk-x"}]}))
    with pytest.raises(TierConfigError, match="api_key_env") as info:
        load_tier_config(cfg)
    assert "sk-x" not in str(info.value)


def test_load_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text(
        '[[tiers]]\nname = "small"\nmodel = "m1"\napi_key_env = "K1"\n\n'
        '[[tiers]]\nname = "large"\nmodel = "m2"\nbase_url = "http://x/v1"\n'
    )
    specs = load_tier_config(toml)
    assert [s.name for s in specs] == ["small", "large"]
    assert specs[1].base_url == "http://x/v1"
    js = tmp_path / "t.json"
    js.write_text(json.dumps({"tiers": [{"name": "a", "model": "m"}]}))
    assert load_tier_config(js)[0].model == "m"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"tiers": []},
        {"tiers": [{"name": "a"}]},
        {"tiers": [{"name": "a", "model": "m"}] * 2},
        {"tiers": [{"name": "a", "model": "m", "colour": 1}]},
    ],
)
def test_bad_configs(tmp_path: Path, data: dict) -> None:
    p = tmp_path / "t.json"
    p.write_text(json.dumps(data))
    with pytest.raises(TierConfigError, match=str(p)):
        load_tier_config(p)


def test_chat_model_reads_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TierSpec("s", "gpt-x", "http://127.0.0.1:9/v1", "AUTOMIX_TEST_KEY")
    monkeypatch.delenv("AUTOMIX_TEST_KEY", raising=False)
    with pytest.raises(TierConfigError, match="AUTOMIX_TEST_KEY"):
        spec.chat_model()
    monkeypatch.setenv("AUTOMIX_TEST_KEY", "sk-test-abc")
    model = spec.chat_model()
    assert model.model_name == "gpt-x"
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-test-abc"
    assert "sk-test-abc" not in repr(model) and "sk-test-abc" not in repr(spec)


def test_name_defaults_to_the_model() -> None:
    spec = parse_tier("gpt-4o,key_env=OPENAI_API_KEY")
    assert (spec.name, spec.model, spec.base_url, spec.api_key_env) == (
        "gpt-4o",
        "gpt-4o",
        None,
        "OPENAI_API_KEY",
    )


def test_tiers_ask_for_usage_when_streamed() -> None:
    """A streamed answer reports its tokens (ChatOpenAI asks only OpenAI's own endpoint)."""
    spec = parse_tier("small=qwen@http://127.0.0.1:9/v1")
    model = spec.chat_model()
    assert model.stream_usage is True
    assert model._should_stream_usage() is True
    assert spec.chat_model(stream_usage=False).stream_usage is False  # the caller may opt out


def test_completion_model_shares_the_tier_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The completion-mode verifier talks to the same endpoint with the same key."""
    from langchain_openai import OpenAI

    monkeypatch.setenv("MY_KEY", "sk-x")
    spec = parse_tier("small=qwen@http://127.0.0.1:9/v1,key_env=MY_KEY,timeout=5")
    llm = spec.completion_model(temperature=1.0, max_tokens=64)
    assert isinstance(llm, OpenAI)
    assert (llm.model_name, llm.openai_api_base, llm.temperature) == (
        "qwen",
        "http://127.0.0.1:9/v1",
        1.0,
    )
    assert llm.openai_api_key is not None and llm.openai_api_key.get_secret_value() == "sk-x"
    assert llm.request_timeout == 5 and llm.max_tokens == 64
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(TierConfigError, match="MY_KEY is not set"):
        spec.completion_model()
