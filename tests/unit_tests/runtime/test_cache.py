"""The model-call cache: URLs, ``automix serve --cache-url``, distinct verification samples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import get_llm_cache, set_llm_cache

from langchain_automix import AutoMixRunnable
from langchain_automix.cli.main import main
from langchain_automix.runtime.cache import CacheStats, cache_from_url, install_cache
from langchain_automix.server import langgraph_app
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel


@pytest.fixture(autouse=True)
def no_global_cache() -> Iterator[None]:
    set_llm_cache(None)
    yield
    set_llm_cache(None)


class SeededModel(ScriptedChatModel):
    """A scripted model that declares ``seed`` (as ChatOpenAI does) and names its answer."""

    seed: int | None = None

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"answer": self.answer}


def test_cache_urls() -> None:
    assert isinstance(cache_from_url("memory://"), InMemoryCache)
    with pytest.raises(ValueError, match="unsupported cache URL scheme 'http'"):
        cache_from_url("http://127.0.0.1:6379")
    assert isinstance(install_cache("memory://"), InMemoryCache)
    assert isinstance(get_llm_cache(), InMemoryCache)


def test_unreachable_redis_is_a_clear_error() -> None:
    pytest.importorskip("langchain_redis")
    with pytest.raises(ValueError, match="cannot use the Redis cache at redis://u:\\*\\*\\*@"):
        cache_from_url("redis://u:secret@127.0.0.1:9/0")


def test_stats() -> None:
    stats = CacheStats()
    for hit in (True, False, None, True):
        stats.count(hit)
    assert (stats.hits, stats.misses, stats.errors, stats.hit_rate) == (2, 2, 1, 0.5)


def test_repeated_question_is_answered_from_the_cache_with_the_same_samples() -> None:
    cache = InMemoryCache()
    small = SeededModel(answer="Paris", verdicts=[CORRECT, INCORRECT], cache=cache)
    large = SeededModel(answer="Paris, France", cache=cache)
    automix = AutoMixRunnable(models=[small, large], num_verifications=4, threshold=0.6)
    query = {"question": "Capital of France?", "context": "Paris is the capital."}
    first = automix.invoke(query)
    # no `n` field: four separate verify calls, each with a seed of its own (a cache key each)
    seeds = sorted(kw.get("seed") for kind, kw in small.calls if kind == "verify")
    assert seeds == [0, 1, 2, 3]
    n_small, n_large = len(small.calls), len(large.calls)
    again = automix.invoke(query)
    assert (len(small.calls), len(large.calls)) == (n_small, n_large)  # no new call
    t1, t2 = first.response_metadata["automix"], again.response_metadata["automix"]
    assert again.content == first.content
    assert t2["attempts"][0]["verifier_confidence"] == t1["attempts"][0]["verifier_confidence"]
    assert sorted(t2["attempts"][0]["verifier_samples"]) == sorted(
        t1["attempts"][0]["verifier_samples"]
    )


def test_without_a_cache_fallback_samples_carry_no_seed() -> None:
    small = SeededModel(answer="Paris", verdicts=[CORRECT])
    AutoMixRunnable(models=[small, small], num_verifications=3).invoke({"question": "Q?"})
    assert [kw.get("seed") for kind, kw in small.calls if kind == "verify"] == [None] * 3


def test_serve_rejects_a_bad_cache_url(capsys: pytest.CaptureFixture[str]) -> None:
    tiers = ["--tier", "small@http://127.0.0.1:9/v1", "--tier", "large@http://127.0.0.1:9/v1"]
    assert main(["serve", *tiers, "--cache-url", "ftp://x"]) == 2
    assert "unsupported cache URL scheme" in capsys.readouterr().err


def test_serve_installs_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.delenv("AUTOMIX_API_KEY", raising=False)
    tiers = ["--tier", "small@http://127.0.0.1:9/v1", "--tier", "large@http://127.0.0.1:9/v1"]
    assert main(["serve", *tiers, "--cache-url", "memory://"]) == 0
    assert isinstance(get_llm_cache(), InMemoryCache)


def test_langgraph_app_tiers_use_the_cache_url(monkeypatch: pytest.MonkeyPatch) -> None:
    langgraph_app.runnable_from_env.cache_clear()
    monkeypatch.setenv("AUTOMIX_TIERS", "small@http://127.0.0.1:9/v1; big@http://127.0.0.1:9/v1")
    monkeypatch.setenv("AUTOMIX_CACHE_URL", "memory://")
    try:
        automix = langgraph_app.runnable_from_env()
    finally:
        langgraph_app.runnable_from_env.cache_clear()
    assert all(isinstance(m.cache, InMemoryCache) for m in automix.models)  # type: ignore[attr-defined]
