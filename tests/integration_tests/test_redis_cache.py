"""A shared model-call cache on a real Redis: a repeated question costs no model call.

Redis: ``$AUTOMIX_TEST_REDIS_URL`` (``.ci/run`` starts one with ``.ci/redis.sh``);
without it the tests skip, except under ``CI=true``, where they fail. Each test uses a
key prefix of its own and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from langchain_automix import AutoMixRunnable
from langchain_automix.runtime.cache import cache_from_url
from tests.integration_tests._fake_openai import INCORRECT, FakeEndpoint, fake_openai_endpoint
from tests.integration_tests._serve import automix_serve, free_port

pytestmark = pytest.mark.integration

REDIS_ENV = "AUTOMIX_TEST_REDIS_URL"
CORRECT = "Verification Decision: The AI generated answer is Correct."
QUESTION = "What is the capital of France?"
CONTEXT = "Paris is the capital of France."


def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but ${REDIS_ENV} is unset: .ci/run must start Redis")
    pytest.skip(f"set ${REDIS_ENV} (e.g. .ci/redis.sh start DIR PORT) to test the Redis cache")


@pytest.fixture
def prefix() -> Iterator[str]:
    url = redis_url()
    name = f"automix-test-{uuid.uuid4().hex[:12]}"
    yield name
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


class CountingModel(BaseChatModel):
    """Answers ``answer``; verify samples say Correct for even seeds, Incorrect for odd ones.

    Declares ``seed`` (as OpenAI-compatible models do) but not ``n``: the ``k`` samples
    are ``k`` separate calls, each with its own seed, hence its own cache entry.
    """

    answer: str
    seed: int | None = None
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "counting"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # part of the cache key (as a ChatOpenAI's model name and endpoint are)
        return {"answer": self.answer}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if "AI Generated Answer:" in str(messages[-1].content):
            seed = kwargs.get("seed")
            self.calls.append(f"verify seed={seed}")
            text = CORRECT if (seed or 0) % 2 == 0 else INCORRECT
        else:
            self.calls.append("solve")
            text = self.answer
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_repeated_question_makes_no_model_call(prefix: str, mode: str) -> None:
    cache = cache_from_url(redis_url(), prefix=prefix)
    small = CountingModel(answer="Paris", cache=cache)
    large = CountingModel(answer="Paris, France", cache=cache)
    automix = AutoMixRunnable(models=[small, large], num_verifications=4, threshold=0.6)
    query = {"question": QUESTION, "context": CONTEXT}

    async def ask() -> AIMessage:
        return automix.invoke(query) if mode == "sync" else await automix.ainvoke(query)

    first = await ask()
    # 4 samples, seeds 0..3: two Correct, two Incorrect -> 0.5 < 0.6 -> escalate
    assert sorted(small.calls) == ["solve", *(f"verify seed={i}" for i in range(4))]
    assert large.calls == ["solve"]
    trace = first.response_metadata["automix"]
    assert trace["attempts"][0]["verifier_confidence"] == 0.5 and trace["answered_by"] == 1

    small.calls.clear()
    large.calls.clear()
    again = await ask()
    assert small.calls == [] and large.calls == []  # every call read back from Redis
    assert again.content == first.content == "Paris, France"
    repeat = again.response_metadata["automix"]
    # the same samples, not one sample k times: same confidence, same route
    assert repeat["attempts"][0]["verifier_confidence"] == 0.5
    assert sorted(repeat["attempts"][0]["verifier_samples"]) == sorted(
        trace["attempts"][0]["verifier_samples"]
    )
    assert [a["model"] for a in repeat["attempts"]] == [a["model"] for a in trace["attempts"]]
    stats = cache.stats  # type: ignore[attr-defined]
    assert (stats.hits, stats.misses, stats.errors) == (6, 6, 0)


def test_a_new_process_reads_the_cache_of_another(prefix: str) -> None:
    """Shared by processes: a second interpreter gets the first one's calls from Redis."""
    code = (
        "import sys, json; sys.path.insert(0, '.');"
        "from tests.integration_tests.test_redis_cache import CountingModel;"
        "from langchain_automix import AutoMixRunnable;"
        "from langchain_automix.runtime.cache import cache_from_url;"
        f"c = cache_from_url({redis_url()!r}, prefix={prefix!r});"
        "s = CountingModel(answer='Paris', cache=c); l = CountingModel(answer='Paris, France', cache=c);"
        "m = AutoMixRunnable(models=[s, l], num_verifications=2, threshold=0.4)"
        f".invoke({{'question': {QUESTION!r}, 'context': {CONTEXT!r}}});"
        "print(json.dumps([m.content, len(s.calls) + len(l.calls)]))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
        for _ in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    outs = [r.stdout.strip().splitlines()[-1] for r in runs]
    # first process: solve + 2 verify samples (confidence 0.5 >= 0.4: no escalation)
    assert outs == ['["Paris", 3]', '["Paris", 0]']


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    with fake_openai_endpoint({"small": "Paris", "large": "Paris, France"}) as ep:
        yield ep


def test_serve_workers_share_the_redis_cache(prefix: str, endpoint: FakeEndpoint) -> None:
    """``automix serve --workers 2 --cache-url redis://...``: ChatOpenAI tiers, OpenAI route."""
    serve = [
        "--tier", f"small@{endpoint.url}", "--tier", f"large@{endpoint.url}",
        "--num-verifications", "3", "--rate-limit", "0", "--workers", "2",
        "--cache-url", redis_url(), "--cache-prefix", prefix,
    ]  # fmt: skip
    with automix_serve(serve) as url:
        body = {
            "model": "automix",
            "messages": [
                {"role": "system", "content": CONTEXT},
                {"role": "user", "content": QUESTION},
            ],
        }
        replies = []
        with httpx.Client(timeout=60) as client:
            for _ in range(6):  # on either worker: only the first one reaches the models
                r = client.post(f"{url}/v1/chat/completions", json=body)
                assert r.status_code == 200, r.text
                replies.append(r.json())
        assert {r["choices"][0]["message"]["content"] for r in replies} == {"Paris"}
        # small answers, small verifies (n=3 in one call, all Correct): then all cached
        assert endpoint.calls == [("small", "solve", 1), ("small", "verify", 3)]


def test_redis_outage_is_a_miss_not_an_error() -> None:
    redis_url()  # the same requirement as the other tests (a Redis at hand)
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    cache = cache_from_url(redis_url(), prefix="automix-test-outage")
    # the server goes away: nothing listens on the client's port any more
    cache.redis = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # type: ignore[attr-defined]
    model = CountingModel(answer="Paris", cache=cache)
    assert model.invoke("Capital of France?").content == "Paris"
    assert cache.stats.errors == 1  # type: ignore[attr-defined]
