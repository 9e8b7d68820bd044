"""Stop-gap solve/verify steps used by ``automix collect`` until the core modules exist.

``langchain_automix.collect`` prefers ``langchain_automix.solving.asolve``,
``langchain_automix.verification.averify`` and the prompts in
``langchain_automix.prompts``; this module is only imported when those are not
importable. Its results have the same fields. Delete it once the core lands.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig

__all__ = ["SOLVE_PROMPT", "VERIFY_PROMPT", "SolveResult", "VerificationResult", "asolve", "averify"]

SOLVE_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You answer questions about a passage using only the passage. Reply with the "
            "shortest answer, usually a few words copied from the passage. Reply yes or no "
            "only when the question itself is a yes/no question. If the passage does not "
            "contain the answer, reply exactly: unanswerable.",
        ),
        ("human", "Passage: {context}\n\nQuestion: {question}\n\nAnswer:"),
    ]
)

_VERIFY_EXAMPLES = """\
Context: The Amazon river flows through Peru, Colombia and Brazil and empties into the \
Atlantic Ocean.
Question: Into which ocean does the Amazon river flow?
AI Generated Answer: the Pacific Ocean
Evaluation: The context says the river empties into the Atlantic Ocean, not the Pacific.
Verification Decision: The AI generated answer is Incorrect.

Context: Marie Curie was the first woman to win a Nobel Prize, receiving the physics prize \
in 1903.
Question: When did Marie Curie receive the Nobel Prize in physics?
AI Generated Answer: 1903
Evaluation: The context states she received the physics prize in 1903.
Verification Decision: The AI generated answer is Correct.

Context: The bridge opened to traffic in 1932 after six years of construction.
Question: Who designed the bridge?
AI Generated Answer: unanswerable
Evaluation: The context gives the opening year and construction time but names no \
designer, so the question cannot be answered from it.
Verification Decision: The AI generated answer is Correct.
"""

VERIFY_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Your task is to check whether an AI generated answer to a question is correct, "
            "using only the given context. Reply in exactly two lines, like the examples: "
            "first 'Evaluation:' with one sentence, then 'Verification Decision: The AI "
            "generated answer is Correct.' or 'Verification Decision: The AI generated "
            "answer is Incorrect.'",
        ),
        (
            "human",
            _VERIFY_EXAMPLES.replace("{", "{{").replace("}", "}}")
            + "\nContext: {context}\nQuestion: {question}\nAI Generated Answer: {answer}\n"
            "Evaluation:",
        ),
    ]
)

_DECISION = re.compile(r"\b(incorrect|correct)\b", re.IGNORECASE)


@dataclass
class SolveResult:
    """One answer with its token usage and wall time."""

    answer: str
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0


@dataclass
class VerificationResult:
    """k verifier samples and the share that said "Correct"."""

    samples: list[str]
    confidence: float
    n_valid: int
    n_samples: int
    usage: dict[str, int] = field(default_factory=dict)


def _usage(msg: Any) -> dict[str, int]:
    meta = getattr(msg, "usage_metadata", None) or {}
    return {
        "input_tokens": int(meta.get("input_tokens", 0)),
        "output_tokens": int(meta.get("output_tokens", 0)),
    }


def parse_decision(text: str) -> bool | None:
    """True for "Correct", False for "Incorrect", None when no decision is found."""
    tail = text.split("Decision", 1)[-1]
    found = _DECISION.findall(tail)
    if not found:
        return None
    return found[-1].lower() == "correct"


async def asolve(
    model: BaseChatModel,
    *,
    question: str,
    context: str,
    prompt: ChatPromptTemplate | None = None,
    config: RunnableConfig | None = None,
) -> SolveResult:
    """Answer one question from its context."""
    messages = (prompt or SOLVE_PROMPT).format_messages(question=question, context=context)
    start = time.perf_counter()
    msg = await model.ainvoke(messages, config=config)
    latency = time.perf_counter() - start
    text = msg.content if isinstance(msg, AIMessage) and isinstance(msg.content, str) else ""
    return SolveResult(answer=text.strip(), usage=_usage(msg), latency_s=latency)


async def averify(
    model: BaseChatModel,
    *,
    question: str,
    context: str,
    answer: str,
    k: int = 8,
    temperature: float = 1.0,
    prompt: ChatPromptTemplate | None = None,
    seed: int | None = None,
    config: RunnableConfig | None = None,
) -> VerificationResult:
    """Sample k verifications concurrently; confidence = share of valid "Correct"."""
    messages = (prompt or VERIFY_PROMPT).format_messages(
        question=question, context=context, answer=answer
    )

    async def one(i: int) -> Any:
        bound = model.bind(temperature=temperature, **({"seed": seed + i} if seed is not None else {}))
        return await bound.ainvoke(messages, config=config)

    msgs = await asyncio.gather(*(one(i) for i in range(k)))
    samples = [m.content if isinstance(m.content, str) else "" for m in msgs]
    decisions = [parse_decision(s) for s in samples]
    valid = [d for d in decisions if d is not None]
    usage = {"input_tokens": 0, "output_tokens": 0}
    for m in msgs:
        for key, val in _usage(m).items():
            usage[key] += val
    return VerificationResult(
        samples=samples,
        confidence=(sum(valid) / len(valid)) if valid else 0.0,
        n_valid=len(valid),
        n_samples=k,
        usage=usage,
    )
