"""A fake tier for ``ChatAutoMix`` tests: answers, tool calls, verdicts, tokens (no network)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from tests.unit_tests.fake_models import CORRECT, INCORRECT, is_verify_prompt

__all__ = ["CORRECT", "INCORRECT", "ToolChatModel"]


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
            import json

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
