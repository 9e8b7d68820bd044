"""The fallback backend, llama-cpp-python's server (extra [llama-cpp-python]).

It compiles llama.cpp for ~8 minutes, so it is not part of ``make test``; run these with
``make integration-llama-cpp-python`` (which installs it portably first).
"""

from __future__ import annotations

import pytest

from langchain_automix import AutoMixRunnable
from langchain_automix.local import DEFAULT_PAIR, LocalModelServer
from tests.integration_tests.test_local_live import CONTEXT, check_logprob_verifier_live

pytestmark = [pytest.mark.integration, pytest.mark.local_models, pytest.mark.llama_cpp_python]


def test_logprob_verifier_live_on_llama_cpp_python() -> None:
    check_logprob_verifier_live("llama-cpp-python")


def test_server_without_logits_all_answers_without_signals() -> None:
    with LocalModelServer([DEFAULT_PAIR[0]], n_ctx=2048, backend="llama-cpp-python") as server:
        small, large = (server.chat_model(DEFAULT_PAIR[0], max_tokens=32) for _ in range(2))
        automix = AutoMixRunnable(models=[small, large], num_verifications=1)
        for _ in range(2):  # refused once (HTTP 500 naming logprobs), then not asked again
            first = automix.invoke_result(
                {"question": "In which city is the Eiffel Tower?", "context": CONTEXT}
            ).attempts[0]
            assert first.error is None and "paris" in (first.answer or "").lower()
            assert "answer_min_prob" not in first.signals
