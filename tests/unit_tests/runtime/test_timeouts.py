"""Per-tier timeouts: a silent model never hangs a query."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_automix import AutoMixRunnable
from langchain_automix.errors import AutoMixModelError, TierTimeoutError
from langchain_automix.tiers import TierConfigError, TierSpec, parse_tier
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel, is_verify_prompt

QUERY = {"question": "What is the capital of France?", "context": "Paris is the capital."}
HANG_S = 5.0


class HangingChatModel(BaseChatModel):
    """Answers at once, except the calls of kind ``hang`` ("solve" or "verify"), which sleep.

    Records whether an async hanging call was cancelled.
    """

    answer: str = "Paris"
    hang: str = "solve"
    cancelled: int = 0
    finished_hangs: int = 0

    @property
    def _llm_type(self) -> str:
        return "hanging"

    def _kind(self, messages: list[BaseMessage]) -> str:
        return "verify" if is_verify_prompt(messages) else "solve"

    def _result(self, kind: str) -> ChatResult:
        text = CORRECT if kind == "verify" else self.answer
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        kind = self._kind(messages)
        if kind == self.hang:
            time.sleep(HANG_S)
            self.finished_hangs += 1
        return self._result(kind)

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        kind = self._kind(messages)
        if kind == self.hang:
            try:
                await asyncio.sleep(HANG_S)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            self.finished_hangs += 1
        return self._result(kind)


def _automix(small: Any, large: Any, timeout: Any = 0.3) -> AutoMixRunnable:
    return AutoMixRunnable(
        models=[small, large], num_verifications=2, threshold=0.5, tier_timeout=timeout
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_silent_small_tier_escalates_on_time(mode: str) -> None:
    small = HangingChatModel(hang="solve")
    large = ScriptedChatModel(answer="Paris, France")
    automix = _automix(small, large)
    started = time.perf_counter()
    if mode == "sync":
        result = automix.invoke_result(QUERY)
    else:
        result = asyncio.run(automix.ainvoke_result(QUERY))
    took = time.perf_counter() - started
    assert result.answer == "Paris, France" and result.escalated
    first = result.attempts[0]
    assert first.error is not None and "TierTimeoutError" in first.error
    assert "within 0.3 s" in first.error
    assert took < HANG_S / 2
    if mode == "async":
        assert small.cancelled == 1 and small.finished_hangs == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_silent_verifier_counts_as_no_valid_sample(mode: str) -> None:
    small = HangingChatModel(hang="verify")
    large = ScriptedChatModel(answer="Paris, France")
    automix = _automix(small, large)
    started = time.perf_counter()
    if mode == "sync":
        result = automix.invoke_result(QUERY)
    else:
        result = asyncio.run(automix.ainvoke_result(QUERY))
    assert time.perf_counter() - started < HANG_S / 2
    first = result.attempts[0]
    assert first.verifier_confidence == 0.0 and first.no_valid_sample
    assert first.verifier_errors and "did not verify within" in first.verifier_errors[0]
    assert result.escalated


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_silent_final_tier_raises_with_the_partial_trace(mode: str) -> None:
    small = ScriptedChatModel(answer="Lyon", verdicts=["... is Incorrect."])
    large = HangingChatModel(hang="solve")
    automix = _automix(small, large, timeout=[None, 0.3])
    started = time.perf_counter()
    with pytest.raises(AutoMixModelError) as info:
        if mode == "sync":
            automix.invoke(QUERY)
        else:
            asyncio.run(automix.ainvoke(QUERY))
    assert time.perf_counter() - started < HANG_S / 2
    assert isinstance(info.value.__cause__, TierTimeoutError)
    partial = info.value.partial
    assert partial is not None and partial.attempts[0].answer == "Lyon"
    assert "did not answer within 0.3 s" in str(info.value)


def test_no_timeout_waits_for_a_slow_tier() -> None:
    small = ScriptedChatModel(answer="Paris", latency=0.2)
    large = ScriptedChatModel(answer="Paris, France")
    result = _automix(small, large, timeout=None).invoke_result(QUERY)
    assert result.attempts[0].error is None


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (0.0, "tier_timeout must be positive"),
        (-1.0, "tier_timeout must be positive"),
        (float("inf"), "tier_timeout must be positive"),
        ([1.0, 2.0, 3.0], "lists 3 values for 2 tiers"),
    ],
)
def test_invalid_timeouts_are_refused(timeout: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _automix(ScriptedChatModel(), ScriptedChatModel(), timeout=timeout)


def test_cli_tiers_build_clients_with_a_timeout_and_retries() -> None:
    default = TierSpec(name="s", model="m").chat_model()
    assert default.request_timeout == 60.0 and default.max_retries == 2
    spec = parse_tier("s=m@http://127.0.0.1:9/v1,timeout=2.5,max_retries=0")
    model = spec.chat_model()
    assert model.request_timeout == 2.5 and model.max_retries == 0
    with pytest.raises(TierConfigError, match="timeout must be a positive number"):
        parse_tier("s=m,timeout=0")
