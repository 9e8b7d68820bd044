"""ChatOpenAI-style usage with nested token details must not break routing results."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_automix import AutoMixRunnable

VERDICT = "Fine. Verification Decision: The AI generated answer is Correct."


class DetailedUsageModel(BaseChatModel):
    answer: str = "Paris"

    @property
    def _llm_type(self) -> str:
        return "detailed-usage"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        verify = "AI Generated Answer:" in str(messages[-1].content)
        msg = AIMessage(
            content=VERDICT if verify else self.answer,
            usage_metadata={
                "input_tokens": 40,
                "output_tokens": 2,
                "total_tokens": 42,
                "input_token_details": {},  # as llama.cpp's server yields via ChatOpenAI
                "output_token_details": {"reasoning": 0},
            },
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])


def test_routing_with_nested_usage_details() -> None:
    automix = AutoMixRunnable(
        models=[DetailedUsageModel(), DetailedUsageModel()], num_verifications=2
    )
    result = automix.with_result().invoke({"question": "Capital?", "context": "Paris."})
    assert result.answer == "Paris" and result.answered_by == 0
    first = result.attempts[0]
    assert first.usage == {"input_tokens": 40, "output_tokens": 2, "total_tokens": 42}
    assert first.verify_usage is not None and first.verify_usage["input_tokens"] == 80
