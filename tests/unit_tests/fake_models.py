"""Deterministic fake chat models for the unit tests (no network)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field, PrivateAttr

OVERLAP_TIMEOUT_S = 10.0
"""How long ``ScriptedChatModel(overlap=n)`` waits for ``n`` calls in flight."""

CORRECT = "The context supports it. Verification Decision: The AI generated answer is Correct."
INCORRECT = "Not supported. Verification Decision: The AI generated answer is Incorrect."


def is_verify_prompt(messages: list[BaseMessage]) -> bool:
    return "AI Generated Answer:" in str(messages[-1].content)


class ScriptedChatModel(BaseChatModel):
    """Answers solve prompts with ``answer`` and verify prompts with ``verdicts`` in turn.

    Records every call (kind and kwargs) and the peak number of calls in flight. With
    ``overlap=n`` the first verify calls wait (up to ``OVERLAP_TIMEOUT_S``) until ``n`` calls
    are in flight at once, so a test of concurrency does not depend on how the threads happen to
    be scheduled: ``n`` concurrent calls are seen whenever the code lets them run side by
    side, and never otherwise.
    """

    answer: str = "Paris"
    verdicts: list[str] = Field(default_factory=lambda: [CORRECT])
    latency: float = 0.0
    fail_solve: bool = False
    fail_verify: bool = False
    usage: tuple[int, int] = (10, 2)
    overlap: int = 0

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _verify_i: int = PrivateAttr(default=0)
    _in_flight: int = PrivateAttr(default=0)
    _opened: bool = PrivateAttr(default=False)
    calls: list[tuple[str, dict[str, Any]]] = Field(default_factory=list)
    peak_in_flight: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _kind(self, messages: list[BaseMessage]) -> str:
        return "verify" if is_verify_prompt(messages) else "solve"

    def _text(self, kind: str) -> str:
        if kind == "solve":
            if self.fail_solve:
                raise RuntimeError("solve backend down")
            return self.answer
        if self.fail_verify:
            raise TimeoutError("verify timed out")
        with self._lock:
            text = self.verdicts[self._verify_i % len(self.verdicts)]
            self._verify_i += 1
        return text

    def _enter(self, kind: str, kwargs: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((kind, dict(kwargs)))
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            if self._in_flight >= self.overlap:
                self._opened = True

    def _waiting(self, deadline: float) -> bool:
        return not self._opened and time.monotonic() < deadline

    def _gate(self) -> None:
        deadline = time.monotonic() + OVERLAP_TIMEOUT_S
        while self._waiting(deadline):
            time.sleep(0.001)

    async def _agate(self) -> None:
        deadline = time.monotonic() + OVERLAP_TIMEOUT_S
        while self._waiting(deadline):
            await asyncio.sleep(0.001)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _message(self, text: str) -> AIMessage:
        i, o = self.usage
        return AIMessage(
            content=text,
            usage_metadata={"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
        )

    def _n(self, kwargs: dict[str, Any]) -> int:
        return 1

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kind = self._kind(messages)
        self._enter(kind, kwargs)
        try:
            if kind == "verify":
                self._gate()
            if self.latency:
                time.sleep(self.latency)
            gens = [
                ChatGeneration(message=self._message(self._text(kind)))
                for _ in range(self._n(kwargs) if kind == "verify" else 1)
            ]
        finally:
            self._leave()
        return ChatResult(generations=gens)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        kind = self._kind(messages)
        self._enter(kind, kwargs)
        try:
            if kind == "verify":
                await self._agate()
            if self.latency:
                await asyncio.sleep(self.latency)
            gens = [
                ChatGeneration(message=self._message(self._text(kind)))
                for _ in range(self._n(kwargs) if kind == "verify" else 1)
            ]
        finally:
            self._leave()
        return ChatResult(generations=gens)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        kind = self._kind(messages)
        self._enter(kind, kwargs)
        try:
            words = self._text(kind).split(" ")
        finally:
            self._leave()
        for i, word in enumerate(words):
            token = word if i == 0 else " " + word
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        # the usage, in a last chunk of its own (as OpenAI's stream_options.include_usage)
        i, o = self.usage
        usage = {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop, None, **kwargs):
            if run_manager:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


class NChatModel(ScriptedChatModel):
    """Declares OpenAI-style sampling fields and honours ``n`` (up to ``max_n``)."""

    n: int = 1
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    max_n: int = 100

    def _n(self, kwargs: dict[str, Any]) -> int:
        return min(int(kwargs.get("n", 1)), self.max_n)


class LogprobChatModel(ScriptedChatModel):
    """Declares ``logprobs`` like ``ChatOpenAI``; solve answers carry token logprobs when asked.

    ``token_logprobs`` are the logprobs of the answer's words, one per word.
    """

    logprobs: bool | None = None
    token_logprobs: list[float] = Field(default_factory=lambda: [-0.1, -1.2])

    def _message(self, text: str) -> AIMessage:
        msg = super()._message(text)
        if not self._want_logprobs:
            return msg
        words = text.split(" ")
        content = [
            {"token": (w if i == 0 else " " + w), "logprob": lp, "top_logprobs": []}
            for i, (w, lp) in enumerate(zip(words, self.token_logprobs, strict=False))
        ]
        msg.response_metadata = {"logprobs": {"content": content}}
        return msg

    _want_logprobs: bool = PrivateAttr(default=False)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self._want_logprobs = bool(kwargs.get("logprobs"))
        return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self._want_logprobs = bool(kwargs.get("logprobs"))
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


class NoLogprobsServerModel(LogprobChatModel):
    """Declares ``logprobs`` but its endpoint refuses them, as llama.cpp's without logits_all."""

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        if kwargs.get("logprobs"):
            self._enter("refused", kwargs)
            self._leave()
            raise RuntimeError(
                "Error code: 500 - logprobs is not supported for models created with logits_all=False"
            )
        return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return self._generate(messages, stop, run_manager, **kwargs)


class SlowStreamChatModel(BaseChatModel):
    """Streams ``n_tokens`` tokens, ``delay`` seconds apart, and records how far it got.

    ``produced`` counts the tokens generated so far; ``cancelled`` is set when the
    generating task saw ``CancelledError`` (or the generator was closed early) and
    ``finished`` when it produced every token. ``fail_after`` (tokens) makes the stream
    raise ``RuntimeError`` midway.
    """

    n_tokens: int = 200
    delay: float = 0.01
    fail_after: int | None = None
    produced: int = 0
    cancelled: bool = False
    finished: bool = False

    @property
    def _llm_type(self) -> str:
        return "slow-stream"

    def _token(self, i: int) -> str:
        if self.fail_after is not None and i >= self.fail_after:
            raise RuntimeError(f"stream broke after {i} tokens")
        self.produced += 1
        return f"t{i} "

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self._token(i) for i in range(self.n_tokens))
        self.finished = True
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        try:
            for i in range(self.n_tokens):
                time.sleep(self.delay)
                yield ChatGenerationChunk(message=AIMessageChunk(content=self._token(i)))
        except GeneratorExit:
            self.cancelled = True
            raise
        self.finished = True

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tokens = []
        try:
            for i in range(self.n_tokens):
                await asyncio.sleep(self.delay)
                tokens.append(self._token(i))
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(tokens)))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            for i in range(self.n_tokens):
                await asyncio.sleep(self.delay)
                yield ChatGenerationChunk(message=AIMessageChunk(content=self._token(i)))
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled = True
            raise
        self.finished = True
