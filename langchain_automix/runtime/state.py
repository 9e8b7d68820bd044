"""Graph state: the narrow input and the full state that nodes update."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict, Field, model_validator

from langchain_automix.runtime.result import TierAttempt

__all__ = ["AutoMixInput", "AutoMixState", "InputState", "OutputState", "PublishedState"]


class AutoMixInput(BaseModel):
    """Input of ``AutoMixRunnable``: a question and the passage it is about.

    A plain string is also accepted as the question, here too (so LangServe, which
    validates requests against this schema, takes what a local ``invoke`` takes).

    Example:
        >>> AutoMixInput.model_validate("Capital of France?").question
        'Capital of France?'
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any) -> Any:
        return {"question": data} if isinstance(data, str) else data

    question: str = Field(min_length=1, description="The question to answer.")
    """The question to answer."""
    context: str | None = Field(
        default=None, description="The passage that grounds the answer (optional)."
    )
    """The passage that grounds the answer (optional)."""


class InputState(TypedDict):
    """What the graph is started with."""

    question: str
    context: str | None


class AutoMixState(InputState, total=False):
    """Everything the nodes know about one query."""

    tier: int
    """Index of the tier currently answering."""
    attempts: list[TierAttempt]
    """Every tier's attempt so far; the current tier's last."""


class PublishedState(AutoMixState, total=False):
    """The state of a graph built with its models: the run's end is written into it."""

    answer: str
    """The accepted answer, set by the node that ends the run."""
    trace: dict[str, Any]
    """The routing trace (:meth:`AutoMixResult.trace`), set with ``answer``."""
    message: AIMessage
    """The accepted answer as a message (trace in its metadata), set with ``answer``; a
    LangGraph ``messages`` stream shows it when a non-final tier's answer is kept."""


class OutputState(InputState, total=False):
    """What a graph built by ``create_automix_graph`` returns (and streams as values)."""

    answer: str
    trace: dict[str, Any]
    message: AIMessage
