"""Real local models: answer, verify and route live; the server goes away afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableConfig

from langchain_automix import POMDP, AutoMixRunnable, CostModel, Observation, Threshold
from langchain_automix.collection.datasets import load_qa
from langchain_automix.local import DEFAULT_PAIR, THREE_TIERS, LocalModelServer
from langchain_automix.runtime.solving import solve
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    verify,
)
from langchain_automix.runtime.verification_logprob import logprob_verify
from tests.integration_tests.conftest import alive

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

CONTEXT = "The Eiffel Tower was completed in 1889 and stands in Paris, the capital of France."
DESIGNER = " It was designed by the engineering company of Gustave Eiffel."
DATA = Path(__file__).resolve().parents[2] / "langchain_automix" / "data"


def test_answer_verify_and_route_live(local_pair: LocalModelServer) -> None:
    small, large = (local_pair.chat_model(m, temperature=0, max_tokens=48) for m in DEFAULT_PAIR)
    answer = solve(small, question="When was the Eiffel Tower completed?", context=CONTEXT)
    assert "1889" in answer.answer
    assert answer.usage is not None and answer.usage["input_tokens"] > 20
    checked = verify(
        small,
        question="When was the Eiffel Tower completed?",
        context=CONTEXT,
        answer=answer.answer,
        settings=VerifierSettings(k=3, seed=1, request_n=False),
    )
    assert checked.n_samples == 3 and len(checked.samples) == 3 and not checked.errors
    assert 0.0 <= checked.confidence <= 1.0

    automix = AutoMixRunnable(models=[small, large], num_verifications=3)
    result = automix.with_result().invoke(
        {"question": "In which city is the Eiffel Tower?", "context": CONTEXT}
    )
    assert "paris" in result.answer.lower()
    first = result.attempts[0]
    assert first.model and first.verifier_n_samples == 3 and first.verifier_confidence is not None
    assert result.answered_by in (0, 1) and result.escalated == (result.answered_by == 1)
    if result.escalated:
        assert result.attempts[-1].answer is not None


def test_ci_serves_with_llama_server(local_pair: LocalModelServer) -> None:
    """`automix setup` builds llama-server; without it the default backend would silently
    be the slow one, so CI fails here rather than measuring the wrong server."""
    assert local_pair.backend == "llama-server", "llama-server not found: run `automix setup`"
    assert local_pair.supports_n and local_pair.returns_logprobs(DEFAULT_PAIR[0])


def test_the_llama_server_in_use_is_portable() -> None:
    """The guard: the binary the tests run has no AMX tile instruction and nothing above
    its CPU level (a -march=native build on an AMX machine fails here, wherever CI runs)."""
    from langchain_automix.local.build import check_portable, default_cpu_level
    from langchain_automix.local.llama_server import find_llama_server

    binary = find_llama_server()
    assert binary is not None
    level = default_cpu_level()
    if level != "armv8":
        assert check_portable(binary, level) == []


def _verify_eiffel(
    server: LocalModelServer, settings: VerifierSettings, config: RunnableConfig | None = None
) -> VerificationResult:
    """The small model verifies its right answer "1889" to the Eiffel Tower question."""
    return verify(
        server.chat_model(DEFAULT_PAIR[0]),
        question="When was the Eiffel Tower completed?",
        context=CONTEXT,
        answer="1889",
        settings=settings,
        config=config,
    )


def test_llama_server_samples_k_verifications_in_one_request(local_pair: LocalModelServer) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Count(BaseCallbackHandler):
        calls = 0

        def on_chat_model_start(self, *args: object, **kwargs: object) -> None:
            Count.calls += 1

    checked = _verify_eiffel(
        local_pair, VerifierSettings(k=4, seed=3), config={"callbacks": [Count()]}
    )
    assert Count.calls == 1, "the k samples should be one request with n=k"
    assert len(checked.samples) == 4 and not checked.errors
    assert checked.n_valid >= 2  # the model writes the decision line in most samples
    assert len(set(checked.samples)) > 1  # sampled at temperature 1, not copies


def test_completion_mode_samples_k_verifications_in_one_request(
    local_pair: LocalModelServer,
) -> None:
    """The paper's raw few-shot text on llama-server's /v1/completions route, n = k."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Count(BaseCallbackHandler):
        calls = 0

        def on_llm_start(self, *args: object, **kwargs: object) -> None:
            Count.calls += 1

    llm = local_pair.completion_model(DEFAULT_PAIR[0])
    checked = verify(
        llm,
        question="When was the Eiffel Tower completed?",
        context=CONTEXT,
        answer="1889",
        settings=VerifierSettings(k=4, seed=3),
        config={"callbacks": [Count()]},
    )
    assert Count.calls == 1, "the k samples should be one request with n=k"
    assert len(checked.samples) == 4 and not checked.errors
    assert checked.n_valid >= 2 and len(set(checked.samples)) > 1
    assert checked.usage is not None and checked.usage["input_tokens"] > 300


@pytest.mark.parametrize("max_chars", [None, 0])
def test_llama_server_follows_the_decision_grammar(
    local_pair: LocalModelServer, max_chars: int | None
) -> None:
    import re

    from langchain_automix import decision_grammar

    checked = _verify_eiffel(
        local_pair, VerifierSettings(k=4, seed=3, grammar=decision_grammar(max_chars))
    )
    assert not checked.errors and len(checked.samples) == 4
    # every sample is what the grammar allows, and so every sample has a decision
    line = r"Verification Decision: The AI generated answer is (Correct|Incorrect)\."
    shape = rf" ?{line}" if max_chars == 0 else rf" ?[^\n.]+\.\n\n{line}"
    for sample in checked.samples:
        assert re.fullmatch(shape, sample), sample
    assert checked.n_valid == 4


def check_logprob_verifier_live(backend: str) -> None:
    """The logprob verifier and the answer's free signals, live on ``backend``."""
    with LocalModelServer(
        [DEFAULT_PAIR[0]],
        n_ctx=2048,
        logits_all=True,
        backend=backend,  # type: ignore[arg-type]
    ) as server:
        assert server.backend == backend
        small = server.chat_model(DEFAULT_PAIR[0])
        good = logprob_verify(
            small, question="Where is the tower?", context=CONTEXT, answer="Paris"
        )
        assert good.n_valid == 1 and 0.0 <= good.confidence <= 1.0
        # the answer call's own token probabilities reach the trace (free routing signals)
        automix = AutoMixRunnable(
            models=[small, server.chat_model(DEFAULT_PAIR[0])], num_verifications=1
        )
        first = automix.invoke_result(
            {"question": "In which city is the Eiffel Tower?", "context": CONTEXT}
        ).attempts[0]
        assert 0.0 < first.signals["answer_min_prob"] <= first.signals["answer_mean_prob"] <= 1
        pids = server.pids
    assert not any(alive(p) for p in pids)


def test_logprob_verifier_live() -> None:
    check_logprob_verifier_live("llama-server")


def test_server_is_gone_after_exit_and_after_error() -> None:
    server = LocalModelServer([DEFAULT_PAIR[0]], n_ctx=1024)
    with pytest.raises(RuntimeError, match="boom"), server:
        pids = server.pids
        assert pids and all(alive(p) for p in pids)
        raise RuntimeError("boom")
    assert not any(alive(p) for p in pids)
    assert not server.running


def _parent_with_server() -> tuple[subprocess.Popen[str], int]:
    """A Python process that starts a model server and idles; returns it and the server pid."""
    code = (
        "import time\n"
        "from langchain_automix.local import LocalModelServer\n"
        "s = LocalModelServer(['qwen2.5-coder-0.5b'], n_ctx=1024).start()\n"
        "print(s.pids[0], flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def test_server_dies_with_its_parent_even_on_sigkill(tmp_path) -> None:
    parent, child = _parent_with_server()
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child)


def test_sigterm_to_parent_stops_server() -> None:
    parent, child = _parent_with_server()
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) != 0
    assert not alive(child)


async def test_the_judge_runs_without_the_prompt_cache(local_pair: LocalModelServer) -> None:
    """llama-server takes ``cache_prompt: false`` (automix collect --local --labels judge)."""
    import httpx

    from langchain_automix.collection.labels import ajudge, uncached_judge

    # a client of this test's own: langchain-openai shares one async client per base URL
    # across event loops, and this test's loop closes before the next test serves the pair
    async with httpx.AsyncClient() as client:
        judge = uncached_judge(local_pair.chat_model(DEFAULT_PAIR[-1], http_async_client=client))
        same = await ajudge(judge, question="Capital of France?", answer="Paris",
                            reference="The answer is Paris.")  # fmt: skip
        other = await ajudge(judge, question="Capital of France?", answer="Paris",
                             reference="Lyon")  # fmt: skip
    assert (same, other) == (True, False)


def test_shipped_question_runs_through_both_tiers(local_pair: LocalModelServer) -> None:
    item = load_qa("qa_mix_500", limit=1)[0]
    for model_id in DEFAULT_PAIR:
        out = solve(
            local_pair.chat_model(model_id, temperature=0, max_tokens=48),
            question=item.question,
            context=item.context,
        )
        assert out.answer and out.latency_s > 0


def test_three_local_tiers_climb_to_the_last_one() -> None:
    """SmolLM2-135M, then the Qwen pair: every tier answers, each non-final tier verifies."""
    with LocalModelServer(THREE_TIERS, n_ctx=2048) as server:
        models = [server.chat_model(m, temperature=0, max_tokens=32) for m in THREE_TIERS]
        automix = AutoMixRunnable(
            models=models,
            # confidence <= 1.0 always holds: every non-final tier escalates
            meta_verifier=Threshold(1.0, inclusive=True),
            num_verifications=2,
            costs=CostModel(unit_costs=(0.2, 1.0, 50.0)),
        )
        result = automix.with_result().invoke(
            {"question": "In which city is the Eiffel Tower?", "context": CONTEXT}
        )
        # the shipped three-tier POMDP, live: it goes where its table says, skipping the
        # medium model when it says so (never calling it, at cost 0)
        policy = POMDP.load(DATA / "policy_pomdp_three_local.json")
        live = AutoMixRunnable(models=models, meta_verifier=policy, costs=(1, 10, 50))
        routed = live.invoke_result(
            {"question": "Who designed the Eiffel Tower?", "context": CONTEXT + DESIGNER}
        )
        pids = server.pids
    assert not any(alive(p) for p in pids)
    first = routed.attempts[0]
    assert first.verifier_n_samples == 8 and first.verifier_confidence is not None
    expected = policy.target_tier(
        Observation(0, 3, first.verifier_confidence, 8, 8, confidences=(first.verifier_confidence,))
    )
    if expected == 2:
        assert routed.attempts[1].skipped and routed.attempts[1].cost == 0.0
        assert routed.attempts[1].usage is None and routed.answered_by == 2
        assert routed.total_cost == 2 + 50
    elif expected == 0:
        assert routed.answered_by == 0 and len(routed.attempts) == 1
    else:
        assert not routed.attempts[1].skipped and routed.attempts[1].answer
    assert [a.model for a in result.attempts] == list(THREE_TIERS)
    assert result.answered_by == 2 and result.escalated
    for attempt in result.attempts[:2]:
        assert attempt.answer and attempt.error is None
        assert attempt.verifier_n_samples == 2 and attempt.decision == "escalate"
    assert result.attempts[2].decision is None
    assert "paris" in result.answer.lower()
    # each non-final tier pays its call and its verification; the last pays its call
    assert result.cost_per_tier == [0.4, 2.0, 50.0]
    assert result.total_cost == 52.4


def test_shipped_free_policy_answers_without_a_verifier_call(local_pair: LocalModelServer) -> None:
    from importlib.resources import files

    from langchain_automix import MetaVerifier

    policy = MetaVerifier.load(str(files("langchain_automix") / "data/policy_free_local_qwen.json"))
    assert not policy.reads_verifier()
    small, large = (local_pair.chat_model(m, temperature=0, max_tokens=32) for m in DEFAULT_PAIR)
    result = AutoMixRunnable(models=[small, large], meta_verifier=policy).invoke_result(
        {"question": "In which city is the Eiffel Tower?", "context": CONTEXT}
    )
    first = result.attempts[0]
    assert first.verifier_n_samples is None and first.verify_latency_s == 0.0
    assert 0.0 < first.signals["answer_min_prob"] <= 1.0  # llama-server: no logits_all needed
    assert first.cost == 1.0 and first.decision in ("accept", "escalate")


def test_a_streamed_answer_reports_the_same_usage(local_pair: LocalModelServer) -> None:
    """llama-server reports a streamed answer's tokens (stream_options.include_usage), the
    same as the answer's unstreamed usage: streamed runs are charged what they spent."""
    small = local_pair.chat_model(DEFAULT_PAIR[0], temperature=0, max_tokens=16)
    messages = [("user", "In which city is the Eiffel Tower? Answer in one word.")]
    whole = small.invoke(messages)
    streamed = None
    for chunk in small.stream(messages):
        streamed = chunk if streamed is None else streamed + chunk
    assert whole.usage_metadata is not None and streamed is not None
    assert streamed.usage_metadata is not None
    assert streamed.usage_metadata["input_tokens"] == whole.usage_metadata["input_tokens"] > 0
    assert streamed.usage_metadata["output_tokens"] == whole.usage_metadata["output_tokens"]
