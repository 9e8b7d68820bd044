"""Deterministic fake chat models for the unit tests (no network).

Every fake lives here; each one is for:

- ``ScriptedChatModel``: the workhorse tier. Answers solve prompts with ``answer`` and
  verify prompts with ``verdicts`` in turn; records calls, can fail, lag or wait for
  ``overlap`` calls in flight (concurrency tests).
- ``NChatModel``: a scripted tier with OpenAI-style sampling fields that honours ``n``
  (verification sampling in one call).
- ``LogprobChatModel``: a scripted tier declaring ``logprobs`` like ``ChatOpenAI``
  (logprob signals).
- ``NoLogprobsServerModel``: declares ``logprobs`` but its endpoint refuses them
  (llama.cpp without ``logits_all``).
- ``SlowStreamChatModel``: streams slowly and records cancellation (disconnects,
  mid-stream failures).
- ``RecordingChatModel``: a scripted tier that also keeps every prompt's text (server
  tests check what reached the model).
- ``ToolChatModel``: a tier that can call tools, for ``ChatAutoMix`` tests (tool calls,
  structured output, LangChain's standard chat-model tests).

``CORRECT`` / ``INCORRECT`` are verifier outputs; ``is_verify_prompt`` tells a
verification prompt from an answer prompt.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

__all__ = [
    "CORRECT",
    "INCORRECT",
    "OVERLAP_TIMEOUT_S",
    "LogprobChatModel",
    "NChatModel",
    "NoLogprobsServerModel",
    "RecordingChatModel",
    "ScriptedChatModel",
    "SlowStreamChatModel",
    "ToolChatModel",
    "is_verify_prompt",
]

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


class RecordingChatModel(ScriptedChatModel):
    """A scripted model that also keeps the text of every prompt it was sent."""

    prompts: list[str] = Field(default_factory=list)

    def _kind(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(str(messages[-1].content))
        return super()._kind(messages)


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


class ToolChatModel(BaseChatModel):
    """A tier that can call tools.

    Answer calls return ``answer`` (one word per chunk when streamed), or, when tools
    are bound and ``tool_args`` is set, a call of the first bound tool with those
    arguments. Verification prompts get ``verdicts`` in turn. Every call is recorded
    with its kind, messages and kwargs.
    """

    answer: str = "Paris"
    tool_args: dict[str, Any] | None = None
    verdicts: list[str] = Field(default_factory=lambda: [CORRECT])
    usage: tuple[int, int] = (10, 2)
    temperature: float | None = None
    max_tokens: int | None = None
    calls: list[dict[str, Any]] = Field(default_factory=list)

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _verify_i: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "tool-fake"

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def kinds(self) -> list[str]:
        return [c["kind"] for c in self.calls]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["kind"] == kind]

    def _reply(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> AIMessage:
        kind = "verify" if is_verify_prompt(messages) else "solve"
        with self._lock:
            self.calls.append({"kind": kind, "messages": messages, "stop": stop, **kwargs})
            i, o = self.usage
            usage = {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}
            if kind == "verify":
                text = self.verdicts[self._verify_i % len(self.verdicts)]
                self._verify_i += 1
                return AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
        tools = kwargs.get("tools")
        if tools and self.tool_args is not None:
            name = tools[0]["function"]["name"]
            return AIMessage(
                content="",
                tool_calls=[
                    {"name": name, "args": self.tool_args, "id": f"call_{len(self.calls)}"}
                ],
                usage_metadata=usage,  # type: ignore[arg-type]
            )
        return AIMessage(content=self.answer, usage_metadata=usage)  # type: ignore[arg-type]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages, stop, kwargs))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._reply(messages, stop, kwargs)
        if msg.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i
                        )
                        for i, c in enumerate(msg.tool_calls)
                    ],
                )
            )
        else:
            words = str(msg.content).split(" ")
            for j, word in enumerate(words):
                yield ChatGenerationChunk(
                    message=AIMessageChunk(content=word if j == 0 else " " + word)
                )
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=msg.usage_metadata)
        )
