"""A LangGraph ReAct agent whose model is ``ChatAutoMix``, with one tool.

Each model turn of the agent is an AutoMix query: the small tier answers; a tool call
from it escalates (tool calls cannot be verified by the entailment prompt; see
docs/chat-model.md), and a text answer is verified against the conversation, tool
results included, before it is kept.

Runs offline as is (scripted fake tiers). Set AUTOMIX_SMALL_MODEL / AUTOMIX_LARGE_MODEL
(see quickstart.py) to use real models that can call tools.

Run:
    python examples/agent_example.py
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import tool

from langchain_automix.runtime.chat_model import ChatAutoMix

QUESTION = "What is the weather in Paris right now?"


@tool
def get_weather(city: str) -> str:
    """Return the current weather in a city."""
    return f"It is sunny and 24 degrees Celsius in {city}."


class ScriptedTier(FakeMessagesListChatModel):
    """An offline stand-in that replies with the next scripted message, tools or not."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        return self


def models() -> list[BaseChatModel]:
    if os.environ.get("AUTOMIX_SMALL_MODEL"):
        from quickstart import tier  # type: ignore[import-not-found]

        return [tier("SMALL"), tier("LARGE")]
    call = AIMessage(
        content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]
    )
    # Turn 1: the small tier asks for the tool (escalated), the large tier asks too.
    # Turn 2: the small tier answers from the tool result and verifies itself: kept.
    small = ScriptedTier(
        responses=[
            call,
            AIMessage(content="It is sunny and 24 degrees Celsius in Paris."),
            AIMessage(content="Verification Decision: The AI generated answer is Correct."),
        ]
    )
    large = ScriptedTier(responses=[call])
    return [small, large]


def build_agent(tiers: list[BaseChatModel], **automix: Any) -> Any:
    """The ReAct agent: ``ChatAutoMix`` over ``tiers`` with the ``get_weather`` tool."""
    model = ChatAutoMix(
        models=tiers, num_verifications=automix.pop("num_verifications", 1), **automix
    )
    try:  # LangChain 1.x's agent, when the `langchain` package is installed
        from langchain.agents import create_agent  # type: ignore[import-not-found]
    except ImportError:
        with warnings.catch_warnings():  # moved to langchain.agents in LangGraph 1.0
            warnings.simplefilter("ignore", DeprecationWarning)
            from langgraph.prebuilt import create_react_agent

            return create_react_agent(model, [get_weather])
    return create_agent(model, [get_weather])


def describe(messages: Sequence[BaseMessage]) -> list[str]:
    """One line per model turn: who answered, and what."""
    lines = []
    for m in messages:
        if isinstance(m, AIMessage):
            trace = m.response_metadata["automix"]
            what = f"called {[c['name'] for c in m.tool_calls]}" if m.tool_calls else "answered"
            lines.append(
                f"tier {trace['answered_by']} ({trace['answered_by_model']}) {what}; "
                f"escalated={trace['escalated']}"
            )
    return lines


def main() -> None:
    agent = build_agent(models())
    state = agent.invoke({"messages": [("human", QUESTION)]})
    for line in describe(state["messages"]):
        print(line)
    print("answer:", state["messages"][-1].content)


if __name__ == "__main__":
    main()
