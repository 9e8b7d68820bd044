"""``ChatAutoMix`` on the embedded Qwen pair: LangChain's standard chat-model tests, an agent.

The standard suite runs against ``ChatAutoMix(models=[qwen 0.5B, qwen 1.5B])`` served by
the session's ``llama-server`` (k = 1 verifier sample, short answers, to keep the suite
within minutes on 2 cores). Every test that applies runs; the rest are turned off by
the suite's own properties (reasons below) or, when they only repeat what another test
already covers at a cost of several model calls, skipped at setup (see ``_COVERED``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from openai import DefaultAsyncHttpxClient

from langchain_automix.local import DEFAULT_PAIR, LocalModelServer
from langchain_automix.runtime.chat_model import ChatAutoMix

pytestmark = [pytest.mark.integration, pytest.mark.local_models]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

_COVERED = {
    # standard test: the test that already covers its path (each costs several model calls
    # on 2 shared cores; the suite forbids overriding its tests, so they skip at setup)
    "test_abatch": "test_batch and test_ainvoke",
    "test_stream_events_v3": "test_stream",
    "test_astream_events_v3": "test_astream",
}


def tiers(server: LocalModelServer, max_tokens: int = 64) -> list[Any]:
    # A fresh async HTTP client per test: langchain-openai otherwise shares one cached
    # client whose pooled connections belong to the event loop of an earlier async test
    # (pytest-asyncio gives each test its own loop): "RuntimeError: Event loop is closed".
    return [
        server.chat_model(
            m, temperature=0, max_tokens=max_tokens, http_async_client=DefaultAsyncHttpxClient()
        )
        for m in DEFAULT_PAIR
    ]


class TestChatAutoMixLive(ChatModelIntegrationTests):
    _models: ClassVar[list[Any]] = []

    @pytest.fixture(autouse=True)
    def _tiers(self, request: pytest.FixtureRequest, local_pair: LocalModelServer) -> None:
        covered = _COVERED.get(request.node.originalname)
        if covered:
            pytest.skip(f"selected out for time on 2 cores: its path is covered by {covered}")
        type(self)._models = tiers(local_pair)

    @property
    def chat_model_class(self) -> type[ChatAutoMix]:
        return ChatAutoMix

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": self._models, "num_verifications": 1, "verifier_max_tokens": 48}

    # A per-call `model` would have to name one tier: ChatAutoMix routes between its
    # tiers and refuses it.
    @property
    def supports_model_override(self) -> bool:
        return False

    # No tool calling on this pair: asked with tools (llama-server, jinja chat template,
    # tool_choice "required" or none), Qwen2.5-Coder 0.5B and 1.5B write the call as a
    # ```json {"name": ..., "arguments": ...}``` text block instead of the <tool_call>
    # format llama-server parses, so no `tool_calls` come back from either tier (checked on
    # the raw ChatOpenAI tiers, without ChatAutoMix). ChatAutoMix's tool routing is covered
    # with fake tiers in tests/unit_tests/runtime/test_chat_model*.py.
    @property
    def has_tool_calling(self) -> bool:
        return False

    # Structured output is served by tool calling (above), so it cannot run here either.
    @property
    def has_structured_output(self) -> bool:
        return False

    # No JSON mode: structured output is served by tool calling on every method.
    @property
    def supports_json_mode(self) -> bool:
        return False

    # The Qwen2.5-Coder GGUF pair is text-only: no image, PDF or audio input.
    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    # (supports_pdf_inputs, supports_audio_inputs, supports_video_inputs,
    # supports_anthropic_inputs and enable_vcr_tests are False by default: they stay so.)


def test_react_agent_on_the_local_pair(local_pair: LocalModelServer) -> None:
    """The agent example on the real pair: a final answer, and routing on every turn."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        from agent_example import QUESTION, build_agent, describe  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLES))
    agent = build_agent(tiers(local_pair, max_tokens=128), verifier_max_tokens=48)
    state = agent.invoke({"messages": [("human", QUESTION)]}, {"recursion_limit": 8})
    messages = state["messages"]
    turns = describe(messages)
    print("\n".join(turns), file=sys.stderr)
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert str(final.content).strip()
    # every model turn is an AutoMix query with its routing trace
    assert len(turns) == sum(isinstance(m, AIMessage) for m in messages) >= 1
    # The pair writes tool calls as JSON text (see has_tool_calling above), so the agent
    # ends after its first model turn with that text as the answer; the tool is not run.
    # Should a tier ever emit a real tool call, the tool's result must reach the agent.
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    for result in tool_results:
        assert "24 degrees" in str(result.content)
