"""Helpers for talking to arbitrary chat models (names, usage, supported sampling knobs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig

__all__ = [
    "as_chat_model",
    "as_language_model",
    "bound_kwargs",
    "child_config",
    "extra_body_with",
    "flat_usage",
    "message_text",
    "model_name",
    "sum_usage",
    "supported_kwargs",
    "usage_of",
]


def _unbind(
    model: Runnable[Any, Any],
) -> tuple[list[RunnableBinding[Any, Any]], Runnable[Any, Any]]:
    """The bindings around ``model`` (outermost first, at most 8) and what they wrap."""
    layers: list[RunnableBinding[Any, Any]] = []
    while isinstance(model, RunnableBinding) and len(layers) < 8:
        layers.append(model)
        model = model.bound
    return layers, model


def as_chat_model(model: Runnable[Any, Any]) -> BaseChatModel | None:
    """The underlying ``BaseChatModel`` of ``model`` (through bindings), if any."""
    inner = _unbind(model)[1]
    return inner if isinstance(inner, BaseChatModel) else None


def as_language_model(model: Runnable[Any, Any]) -> BaseLanguageModel[Any] | None:
    """The underlying chat or text-completion model of ``model`` (through bindings), if any.

    Example:
        >>> from langchain_core.language_models import FakeListLLM
        >>> type(as_language_model(FakeListLLM(responses=["x"]).bind(stop=["a"]))).__name__
        'FakeListLLM'
    """
    inner = _unbind(model)[1]
    return inner if isinstance(inner, BaseLanguageModel) else None


def bound_kwargs(model: Runnable[Any, Any]) -> dict[str, Any]:
    """The call keyword arguments bound to ``model`` (``.bind(...)``), outermost winning.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> m = FakeListChatModel(responses=["x"]).bind(stop=["a"]).bind(stop=["b"], n=2)
        >>> bound_kwargs(m)
        {'stop': ['b'], 'n': 2}
    """
    merged: dict[str, Any] = {}
    for layer in reversed(_unbind(model)[0]):
        merged.update(layer.kwargs)
    return merged


def extra_body_with(model: Runnable[Any, Any], fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``extra_body`` of a request to ``model`` with ``fields`` added, else None.

    What the model already sends (its ``extra_body`` field, then what is bound to it),
    updated with ``fields``: request fields an OpenAI-compatible server knows beyond
    OpenAI's (llama.cpp's ``grammar``, ``cache_prompt``). None when ``model`` is not a
    chat or completion model with an ``extra_body`` field to carry them.

    Example:
        >>> from langchain_openai import ChatOpenAI
        >>> m = ChatOpenAI(api_key="x", extra_body={"top_k": 5}).bind(extra_body={"n_probs": 2})
        >>> extra_body_with(m, {"cache_prompt": False})
        {'top_k': 5, 'n_probs': 2, 'cache_prompt': False}
    """
    lm = as_language_model(model)
    if lm is None or "extra_body" not in type(lm).model_fields:
        return None
    own = getattr(lm, "extra_body", None) or {}
    return {**own, **(bound_kwargs(model).get("extra_body") or {}), **fields}


def model_name(model: Runnable[Any, Any]) -> str:
    """A readable name for ``model``: its model name if it has one, else its type."""
    lm = as_language_model(model)
    target: Any = lm if lm is not None else model
    for attr in ("model_name", "model", "model_id"):
        value = getattr(target, attr, None)
        if isinstance(value, str) and value:
            return value
    if lm is not None:
        llm_type = getattr(lm, "_llm_type", None)
        if isinstance(llm_type, str) and llm_type:
            return llm_type
    return type(target).__name__


def supported_kwargs(model: Runnable[Any, Any], candidates: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the call kwargs that ``model`` (a chat or text model) declares as fields, not None.

    Sampling knobs such as ``temperature``, ``n``, ``seed`` or ``max_tokens`` are sent
    only to models that know them, so fakes and exotic models are never handed
    arguments they would choke on.
    """
    lm = as_language_model(model)
    if lm is None:
        return {}
    fields = type(lm).model_fields
    return {k: v for k, v in candidates.items() if v is not None and k in fields}


def usage_of(message: BaseMessage | None) -> UsageMetadata | None:
    """The ``usage_metadata`` of an AI message, if it has one."""
    if isinstance(message, AIMessage) and message.usage_metadata:
        return message.usage_metadata
    return None


USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")
"""The integer token counts kept from ``usage_metadata``."""


def flat_usage(usage: Mapping[str, Any] | None) -> dict[str, int] | None:
    """The integer token counts of a usage record, or None when there is none.

    ChatOpenAI adds nested ``input_token_details``/``output_token_details`` dicts
    (empty ones from llama.cpp's server); traces and replay rows keep the counts only.

    Example:
        >>> flat_usage({"input_tokens": 3, "output_tokens": 1, "total_tokens": 4,
        ...             "input_token_details": {}})
        {'input_tokens': 3, 'output_tokens': 1, 'total_tokens': 4}
    """
    if not usage:
        return None
    return {key: int(usage.get(key) or 0) for key in USAGE_KEYS if key in usage}


def sum_usage(usages: Iterable[Mapping[str, Any] | None]) -> UsageMetadata | None:
    """Sum token usages, ignoring unknown ones; None when none is known."""
    total: UsageMetadata | None = None
    for usage in usages:
        if not usage:
            continue
        u = cast(
            UsageMetadata,
            {
                "input_tokens": int(usage.get("input_tokens", 0)),
                "output_tokens": int(usage.get("output_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            },
        )
        total = u if total is None else add_usage(total, u)
    return total


def message_text(message: BaseMessage) -> str:
    """The text of a message, whatever its content blocks."""
    return message.text if isinstance(message.text, str) else str(message.content)


def child_config(config: RunnableConfig | None, *, run_name: str) -> RunnableConfig:
    """A config for a model call made by a node: same callbacks, a readable run name."""
    cfg: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    cfg["run_name"] = run_name
    cfg.pop("run_id", None)
    return cfg
