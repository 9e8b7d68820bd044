"""A cheaper verifier: one greedy call, confidence from the decision token's logprobs.

AutoMix samples the verifier ``k`` times (default 8) and takes the share of
"Correct" decisions. On a CPU backend such as llama.cpp those k generations
dominate the small tier's cost. :func:`alogprob_verify` instead makes *one* short
greedy call with the paper's few-shot blocks minus the evaluation sentence
(:data:`DECISION_ONLY_VERIFY_PROMPT`), asking the endpoint for ``logprobs`` with
``top_logprobs``; it finds the decision token (after "The AI generated answer is",
or the first word) and reads

    confidence = P(Correct) / (P(Correct) + P(Incorrect))

from that token's top alternatives. It returns the same
:class:`~langchain_automix.runtime.verification.VerificationResult` as
:func:`~langchain_automix.runtime.verification.averify` (one sample, ``n_samples=1``).

Needs an endpoint that returns chat ``logprobs`` (OpenAI, vLLM, llama.cpp's server
started with ``logits_all=True``, e.g. ``LocalModelServer(..., logits_all=True)``).
When the endpoint returns no logprobs, or the decision phrase is not generated,
the sample is invalid (``n_valid == 0``, confidence 0.0), like an unparsable
sample of the sampling verifier.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> msg = AIMessage(content="Evaluation: ok. Verification Decision: The AI generated "
    ...     "answer is Correct.", response_metadata={"logprobs": {"content": [
    ...     {"token": "The AI generated answer is", "logprob": 0.0, "top_logprobs": []},
    ...     {"token": " Correct", "logprob": -0.2, "top_logprobs": [
    ...         {"token": " Correct", "logprob": -0.2},
    ...         {"token": " Incorrect", "logprob": -1.8}]}]}})
    >>> round(decision_probability(msg), 3)
    0.832
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_automix._model_utils import message_text, usage_of
from langchain_automix.prompts import (
    _EXAMPLES,
    VERIFY_INSTRUCTION,
    _block,
    _escape,
)
from langchain_automix.runtime.verification import (
    VERIFY_PHRASE,
    VerificationResult,
    VerifierSettings,
    find_decision,
    no_stream_kwargs,
    parse_verification,
    unverifiable,
    verify_prompt_values,
)

__all__ = [
    "DECISION_ONLY_VERIFY_PROMPT",
    "DECISION_PREFIX",
    "alogprob_verify",
    "alogprob_verify_settings",
    "decision_probability",
    "logprob_verify",
    "logprob_verify_settings",
]

DECISION_PREFIX = VERIFY_PHRASE
"""The text right before the decision word in the verification prompt's format."""

_TOP = 10


DECISION_ONLY_VERIFY_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "Complete the last block with only its decision line: 'The AI generated "
            "answer is Correct.' or 'The AI generated answer is Incorrect.'",
        ),
        (
            "human",
            "\n\n---\n\n".join(_escape(_block(c, q, a, None, d)) for c, q, a, _, d in _EXAMPLES)
            + "\n\n---\n\nContext: {context}\n\nQuestion: {question}\n\n"
            "AI Generated Answer: {answer}\n\nInstruction: "
            + VERIFY_INSTRUCTION
            + "\n\nVerification Decision:",
        ),
    ]
)
"""The paper's few-shot blocks without the evaluation sentence, so that the decision
comes within the first few generated tokens (one short greedy call)."""


def _entries(message: BaseMessage) -> list[Mapping[str, Any]]:
    meta = getattr(message, "response_metadata", None) or {}
    logprobs = meta.get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    return [e for e in content or [] if isinstance(e, Mapping)]


def _classify(token: str) -> str | None:
    word = token.strip().lower().lstrip(":*\"' ")
    if not word:
        return None
    if word.startswith("incorrect") or (len(word) >= 2 and "incorrect".startswith(word)):
        return "incorrect"
    if word.startswith("correct") or (len(word) >= 3 and "correct".startswith(word)):
        return "correct"
    if word in ("wrong", "false", "not"):
        return "incorrect"
    return None


def _next_word(tokens: Sequence[str], start: int) -> int | None:
    for j in range(start, len(tokens)):
        if tokens[j].strip(" \n\t:*\"'"):
            return j
    return None


def _position_after_prefix(tokens: Sequence[str]) -> int | None:
    """Index of the token that holds the model's own final decision word.

    The decision is found as the sampling parser finds it (quoted phrases, hedges
    and invented next blocks do not count; the last one wins), so a decision
    phrase copied from the answer or the context is never read.
    """
    text = "".join(tokens)
    found = find_decision(text)
    if found is None:
        # a bare decision ("Correct."), as the decision-only prompt asks for
        first = _next_word(tokens, 0)
        if first is not None and _classify(tokens[first]) is not None:
            return first
        return None
    offset = found[0]
    end = 0
    for i, tok in enumerate(tokens):
        end += len(tok)
        if end > offset:
            # the phrase may end inside this token ("is Correct" as one token)
            rest = text[offset:end]
            if rest.strip(" \n\t:*\"'"):
                return i
            return _next_word(tokens, i + 1)
    return None


def decision_probability(message: BaseMessage) -> float | None:
    """P(Correct) / (P(Correct) + P(Incorrect)) at the decision token, or None.

    Looks for the model's own final decision (the token after "The AI generated
    answer is", found as :func:`~langchain_automix.runtime.verification.find_decision`
    finds it, or a bare "Correct"/"Incorrect" opening the reply) and sums the
    probabilities of its top alternatives that start "Correct" (or a prefix of it)
    and "Incorrect" (or a prefix such as "In"). None when the message has no
    logprobs, no decision phrase, or neither word among the alternatives.
    """
    entries = _entries(message)
    if not entries:
        return None
    tokens = [str(e.get("token", "")) for e in entries]
    pos = _position_after_prefix(tokens)
    if pos is None:
        return None
    entry = entries[pos]
    alternatives = list(entry.get("top_logprobs") or [])
    if not alternatives:
        alternatives = [{"token": entry.get("token", ""), "logprob": entry.get("logprob", 0.0)}]
    probs = {"correct": 0.0, "incorrect": 0.0}
    seen: set[str] = set()
    for alt in alternatives:
        tok = str(alt.get("token", ""))
        if tok in seen:
            continue
        seen.add(tok)
        kind = _classify(tok)
        if kind is not None:
            probs[kind] += math.exp(float(alt.get("logprob", -math.inf)))
    total = probs["correct"] + probs["incorrect"]
    if total <= 0:
        return None
    return probs["correct"] / total


def _messages(
    question: str, context: str | None, answer: str, prompt: BasePromptTemplate | None
) -> list[BaseMessage]:
    return (
        (prompt or DECISION_ONLY_VERIFY_PROMPT)
        .format_prompt(**verify_prompt_values(question, context, answer))
        .to_messages()
    )


def _bind(model: Runnable[Any, Any], max_tokens: int, seed: int | None) -> Runnable[Any, Any]:
    kwargs: dict[str, Any] = {"logprobs": True, "top_logprobs": _TOP, "temperature": 0.0}
    kwargs["max_tokens"] = max_tokens
    if seed is not None:
        kwargs["seed"] = seed
    # read whole, never streamed to a client (see verification.no_stream_kwargs)
    return model.bind(stop=["\n---"], **kwargs, **no_stream_kwargs(model))


def _result(message: BaseMessage, started: float) -> VerificationResult:
    text = message_text(message)
    p = decision_probability(message)
    verdict = parse_verification(text) if p is None else p >= 0.5
    return VerificationResult(
        samples=[text],
        verdicts=[verdict if p is not None else None],
        confidence=p if p is not None else 0.0,
        n_valid=int(p is not None),
        n_samples=1,
        usage=usage_of(message),
        latency_s=time.perf_counter() - started,
    )


def logprob_verify(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    answer: str,
    prompt: BasePromptTemplate | None = None,
    max_tokens: int = 12,
    seed: int | None = None,
    config: RunnableConfig | None = None,
) -> VerificationResult:
    """Verify ``answer`` with one greedy call; confidence from the decision logprobs.

    Args:
        model: a chat model whose endpoint returns logprobs (``ChatOpenAI``).
        question: the question.
        context: the passage.
        answer: the answer to verify.
        prompt: verification prompt (default :data:`DECISION_ONLY_VERIFY_PROMPT`;
            the paper's prompt with an evaluation sentence also works, with a larger
            ``max_tokens``).
        max_tokens: cap on the generated length (the decision must fall within it).
        seed: request seed, where the backend supports it.
        config: runnable config.

    Returns:
        A :class:`VerificationResult` with one sample.
    """
    started = time.perf_counter()
    refusal = unverifiable(answer, context)
    if refusal is not None:
        return VerificationResult.unverified(refusal, 1, time.perf_counter() - started)
    msg = _bind(model, max_tokens, seed).invoke(
        _messages(question, context, answer, prompt), config
    )
    return _result(msg if isinstance(msg, BaseMessage) else AIMessage(content=str(msg)), started)


async def alogprob_verify(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    answer: str,
    prompt: BasePromptTemplate | None = None,
    max_tokens: int = 12,
    seed: int | None = None,
    config: RunnableConfig | None = None,
) -> VerificationResult:
    """Async twin of :func:`logprob_verify`."""
    started = time.perf_counter()
    refusal = unverifiable(answer, context)
    if refusal is not None:
        return VerificationResult.unverified(refusal, 1, time.perf_counter() - started)
    msg = await _bind(model, max_tokens, seed).ainvoke(
        _messages(question, context, answer, prompt), config
    )
    return _result(msg if isinstance(msg, BaseMessage) else AIMessage(content=str(msg)), started)


def _settings_kwargs(settings: VerifierSettings) -> dict[str, Any]:
    """The prompt, token cap and seed that ``settings`` asks of a logprob verification."""
    kwargs: dict[str, Any] = {"seed": settings.seed}
    if settings.prompt is not None:
        kwargs["prompt"] = settings.prompt
        kwargs["max_tokens"] = settings.max_tokens or 12
    return kwargs


def logprob_verify_settings(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    answer: str,
    settings: VerifierSettings,
    config: RunnableConfig | None = None,
) -> VerificationResult:
    """:func:`logprob_verify` driven by :class:`VerifierSettings` (as the graph calls it).

    ``settings.prompt`` is the verification prompt when set (e.g. the shared-prefix
    layout, whose one-word verdict is the first token), with ``settings.max_tokens`` as
    the cap; otherwise :data:`DECISION_ONLY_VERIFY_PROMPT` with a 12-token cap.
    """
    return logprob_verify(
        model,
        question=question,
        context=context,
        answer=answer,
        config=config,
        **_settings_kwargs(settings),
    )


async def alogprob_verify_settings(
    model: Runnable[Any, Any],
    *,
    question: str,
    context: str | None,
    answer: str,
    settings: VerifierSettings,
    config: RunnableConfig | None = None,
) -> VerificationResult:
    """Async twin of :func:`logprob_verify_settings`."""
    return await alogprob_verify(
        model,
        question=question,
        context=context,
        answer=answer,
        config=config,
        **_settings_kwargs(settings),
    )
