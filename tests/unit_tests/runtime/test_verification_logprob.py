from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from langchain_automix.runtime.verification_logprob import (
    DECISION_ONLY_VERIFY_PROMPT,
    alogprob_verify,
    decision_probability,
    logprob_verify,
)


def entry(token: str, alts: dict[str, float]) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": alts.get(token, -9.0),
        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in alts.items()],
    }


def msg(entries: list[dict[str, Any]]) -> AIMessage:
    text = "".join(e["token"] for e in entries)
    return AIMessage(content=text, response_metadata={"logprobs": {"content": entries}})


PREFIX = [entry(t, {t: -0.01}) for t in ["The", " AI", " generated", " answer", " is"]]


def test_probability_after_prefix_sums_variants() -> None:
    m = msg(
        [
            *PREFIX,
            entry(
                " Correct",
                {
                    " Correct": math.log(0.5),
                    " correct": math.log(0.1),
                    " Incorrect": math.log(0.3),
                    " In": math.log(0.1),
                },
            ),
        ]
    )
    assert decision_probability(m) == pytest.approx(0.6 / 1.0)


def test_bare_decision_word_first() -> None:
    m = msg(
        [
            entry(" Incorrect", {" Incorrect": math.log(0.9), " Correct": math.log(0.05)}),
            entry(".", {".": 0.0}),
        ]
    )
    assert decision_probability(m) == pytest.approx(0.05 / 0.95)


def test_no_logprobs_or_no_decision_is_none() -> None:
    assert decision_probability(AIMessage(content="The AI generated answer is Correct.")) is None
    assert decision_probability(msg([entry(" maybe", {" maybe": 0.0})])) is None
    assert decision_probability(msg([*PREFIX, entry(" unclear", {" unclear": 0.0})])) is None


class LogprobModel(BaseChatModel):
    p_correct: float = 0.8
    seen: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "logprob-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.seen.append({"stop": stop, **kwargs, "text": messages[-1].content})
        e = entry(
            " Correct",
            {" Correct": math.log(self.p_correct), " Incorrect": math.log(1 - self.p_correct)},
        )
        m = msg([*PREFIX, e])
        return ChatResult(generations=[ChatGeneration(message=m)])


def test_logprob_verify_returns_verification_result() -> None:
    model = LogprobModel(p_correct=0.8)
    r = logprob_verify(model, question="Q?", context="C", answer="A", seed=7)
    assert r.confidence == pytest.approx(0.8) and r.n_valid == 1 and r.n_samples == 1
    assert r.verdicts == [True]
    call = model.seen[0]
    assert call["logprobs"] is True and call["top_logprobs"] >= 5 and call["temperature"] == 0.0
    assert call["seed"] == 7 and "AI Generated Answer: A" in call["text"]


async def test_alogprob_verify_low_confidence() -> None:
    r = await alogprob_verify(LogprobModel(p_correct=0.1), question="Q?", context="C", answer="A")
    assert r.confidence == pytest.approx(0.1) and r.verdicts == [False]


def test_decision_only_prompt_variables() -> None:
    assert set(DECISION_ONLY_VERIFY_PROMPT.input_variables) == {"question", "context", "answer"}
    text = DECISION_ONLY_VERIFY_PROMPT.format(question="Q", context="C", answer="A")
    assert text.rstrip().endswith("Verification Decision:")


class TierLogprobModel(LogprobModel):
    """A tier: answers "Paris" to the solve call, a logprob verdict to a verification.

    A verification is the decision-only prompt (its text shows the answer) or the
    shared-prefix layout (four messages: solve turns, the answer, the verdict request,
    whose one-word verdict comes first).
    """

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        if len(messages) == 4:  # shared layout
            roles = [m.type for m in messages]
            self.seen.append({**kwargs, "roles": roles, "last": messages[-1].content})
            verdict = entry(
                "Correct",
                {"Correct": math.log(self.p_correct), "Incorrect": math.log(1 - self.p_correct)},
            )
            return ChatResult(generations=[ChatGeneration(message=msg([verdict]))])
        if "AI Generated Answer" in str(messages[-1].content):
            return super()._generate(messages, stop, run_manager, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Paris"))])


@pytest.mark.parametrize("use_async", [False, True])
async def test_runnable_can_verify_with_logprobs(use_async: bool) -> None:
    from langchain_automix import AutoMixRunnable

    small = TierLogprobModel(p_correct=0.3)
    large = TierLogprobModel(p_correct=0.9)
    automix = AutoMixRunnable(models=[small, large], verification="logprob", threshold=0.5)
    query = {"question": "Capital of France?", "context": "Paris is the capital."}
    msg = await automix.ainvoke(query) if use_async else automix.invoke(query)
    first = msg.response_metadata["automix"]["attempts"][0]
    assert first["verifier_confidence"] == pytest.approx(0.3)
    assert first["verifier_n_samples"] == 1 and first["decision"] == "escalate"
    assert len(small.seen) == 1 and small.seen[0]["logprobs"] is True


@pytest.mark.parametrize("use_async", [False, True])
async def test_runnable_logprob_verification_uses_the_chosen_prompt(use_async: bool) -> None:
    from langchain_automix import AutoMixRunnable
    from langchain_automix.prompts import SHARED_PREFIX_VERIFY_PROMPT, SHARED_VERIFY_REQUEST

    small, large = TierLogprobModel(p_correct=0.7), TierLogprobModel(p_correct=0.9)
    automix = AutoMixRunnable(
        models=[small, large],
        verification="logprob",
        verify_prompt=SHARED_PREFIX_VERIFY_PROMPT,
        verifier_max_tokens=2,
        threshold=0.5,
    )
    query = {"question": "Capital of France?", "context": "Paris is the capital."}
    out = await automix.ainvoke(query) if use_async else automix.invoke(query)
    first = out.response_metadata["automix"]["attempts"][0]
    assert first["verifier_confidence"] == pytest.approx(0.7)
    assert first["decision"] == "accept"
    # the conversation of the answer, the answer as the model's turn, the verdict request
    (call,) = small.seen
    assert call["roles"] == ["system", "human", "ai", "human"]
    assert call["max_tokens"] == 2 and call["logprobs"] is True
    assert call["last"] == SHARED_VERIFY_REQUEST


def test_unknown_verification_method_is_rejected() -> None:
    from langchain_automix import AutoMixRunnable, VerifierSettings

    with pytest.raises(ValueError, match="verification"):
        AutoMixRunnable(models=[LogprobModel(), LogprobModel()], verification="vibes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'sampling' or 'logprob'"):
        VerifierSettings(method="vibes")  # type: ignore[arg-type]


async def test_collect_records_the_logprob_verifier_under_the_chosen_prompt() -> None:
    """``automix collect --logprob-verifier --verify-prompt shared`` asks as a live
    ``verification="logprob"`` with that prompt does (it sent the decision-only prompt)."""
    from langchain_automix.collection.collect import Tier, collect_one
    from langchain_automix.collection.datasets import QAItem
    from langchain_automix.prompts import SHARED_PREFIX_VERIFY_PROMPT, SHARED_VERIFY_REQUEST

    small, large = TierLogprobModel(p_correct=0.7), TierLogprobModel(p_correct=0.9)
    item = QAItem(id="q1", question="Capital?", context="Paris is it.", answers=("Paris",))
    row = await collect_one(
        item,
        [Tier("s", small), Tier("l", large)],
        k=1,
        logprob_verifier=True,
        verify_prompt=SHARED_PREFIX_VERIFY_PROMPT,
    )
    assert row["tiers"][0]["signals"]["logprob_verifier"] == pytest.approx(0.7)
    logprob_calls = [c for c in small.seen if c.get("logprobs")]
    assert len(logprob_calls) == 1
    assert logprob_calls[0]["roles"] == ["system", "human", "ai", "human"]
    assert logprob_calls[0]["last"] == SHARED_VERIFY_REQUEST
