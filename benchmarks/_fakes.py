"""Fake chat models for the benchmarks: fixed latency, optional support for ``n``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

VERDICT = "Verification Decision: The AI generated answer is {}."


class LatencyChatModel(BaseChatModel):
    """Answers ``answer``; verifier samples say Correct with share ``p_correct``."""

    answer: str = "Paris"
    latency: float = 0.0
    p_correct: float = 1.0

    @property
    def _llm_type(self) -> str:
        return "latency-fake"

    def _texts(self, messages: list[BaseMessage], n: int) -> list[str]:
        if "AI Generated Answer:" not in str(messages[-1].content):
            return [self.answer]
        correct = round(self.p_correct * n)
        return [VERDICT.format("Correct" if i < correct else "Incorrect") for i in range(n)]

    def _n(self, kwargs: dict[str, Any]) -> int:
        return 1

    def _result(self, texts: list[str]) -> ChatResult:
        usage = {"input_tokens": 100, "output_tokens": 5, "total_tokens": 105}
        return ChatResult(
            generations=[
                ChatGeneration(message=AIMessage(content=t, usage_metadata=usage)) for t in texts
            ]  # type: ignore[arg-type]
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency:
            time.sleep(self.latency)
        return self._result(self._texts(messages, self._n(kwargs)))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._result(self._texts(messages, self._n(kwargs)))


class LatencyNChatModel(LatencyChatModel):
    """Like ``LatencyChatModel`` but honours ``n`` (as OpenAI-compatible servers do)."""

    n: int = 1

    def _n(self, kwargs: dict[str, Any]) -> int:
        return int(kwargs.get("n", 1))
