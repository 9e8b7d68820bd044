"""The AutoMix graph for the LangGraph server (``langgraph dev`` / LangGraph Platform).

The core graph takes its models through LangGraph's runtime ``context``
(:class:`~langchain_automix.runtime.context.AutoMixContext`), which holds live model
objects and cannot come from a JSON request. This module wraps it: the wrapper
graph's only node runs the core graph with a context built from the server's
environment, and the wrapper's own (JSON) context carries the per-run knobs.

Environment:
    ``AUTOMIX_TIERS``: ``;``-separated ``[NAME=]MODEL[@BASE_URL][,key_env=VAR]``, cheapest first.
    ``AUTOMIX_COSTS``: optional unit costs, e.g. ``1,50``.
    ``AUTOMIX_THRESHOLD``, ``AUTOMIX_NUM_VERIFICATIONS``: optional defaults.
    ``AUTOMIX_CACHE_URL``: optional shared cache of the tiers' calls, ``redis://host:port/db``
    (extra ``[cache]``; see :mod:`langchain_automix.runtime.cache`).

Run input ``{"question": ..., "context": ...}``; output adds ``answer`` and the
routing ``trace``; run context ``{"threshold": 0.7, "num_verifications": 4}``.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from langchain_automix import AutoMixRunnable
    >>> small = FakeListChatModel(responses=["Paris", "... is Correct."])
    >>> graph = build_graph(AutoMixRunnable(models=[small, small], num_verifications=1))
    >>> graph.invoke({"question": "Capital of France?"})["answer"]
    'Paris'
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import get_runtime

from langchain_automix.runtime.graph import build_automix_graph, result_from_state
from langchain_automix.runtime.runnable import AutoMixRunnable, coerce_input
from langchain_automix.runtime.state import InputState

__all__ = ["ServeContext", "ServeState", "build_graph", "make_graph", "runnable_from_env"]


class ServeContext(TypedDict, total=False):
    """Per-run knobs, sent as the run's ``context`` by LangGraph clients."""

    threshold: float
    num_verifications: int


class ServeState(InputState, total=False):
    """Input (question, context) plus the answer and the routing trace."""

    answer: str
    trace: dict[str, Any]


def build_graph(automix: AutoMixRunnable) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A graph that answers with ``automix``, for servers that build graphs from modules.

    The core graph runs as a subgraph (its nodes show up in traces and in
    LangGraph Studio's run view), with the ``AutoMixContext`` of ``automix``
    adjusted by the run's :class:`ServeContext`.
    """
    core = build_automix_graph()

    def prepare() -> tuple[AutoMixRunnable, Any]:
        knobs = {
            k: v
            for k, v in dict(get_runtime(ServeContext).context or {}).items()
            if v is not None  # a threshold of 0 is a setting, not a missing one
        }
        # Rebuilt (not copied) so that the runtime context follows the tuned settings.
        tuned = AutoMixRunnable(**{**_fields(automix), **knobs}) if knobs else automix
        return tuned, tuned.context

    def start(state: ServeState, tuned: AutoMixRunnable) -> Any:
        return coerce_input(
            {"question": state["question"], "context": state.get("context")},
            max_context_chars=tuned.max_context_chars,
            max_question_chars=tuned.max_question_chars,
        )

    def finish(ctx: Any, out: Any) -> dict[str, Any]:
        result = result_from_state(ctx, out)
        return {"answer": result.answer, "trace": result.trace()}

    def automix_node(state: ServeState, config: RunnableConfig) -> dict[str, Any]:
        tuned, ctx = prepare()
        return finish(ctx, core.invoke(start(state, tuned), config, context=ctx))

    async def aautomix_node(state: ServeState, config: RunnableConfig) -> dict[str, Any]:
        tuned, ctx = prepare()
        return finish(ctx, await core.ainvoke(start(state, tuned), config, context=ctx))

    builder = StateGraph(ServeState, context_schema=ServeContext, input_schema=InputState)
    builder.add_node("automix", RunnableLambda(automix_node, afunc=aautomix_node, name="automix"))
    builder.add_edge(START, "automix")
    builder.add_edge("automix", END)
    return builder.compile(name="AutoMixServer")


def _fields(automix: AutoMixRunnable) -> dict[str, Any]:
    return {name: getattr(automix, name) for name in type(automix).model_fields}


@lru_cache(maxsize=1)
def runnable_from_env() -> AutoMixRunnable:
    """The ``AutoMixRunnable`` described by ``$AUTOMIX_TIERS`` and friends.

    Raises:
        RuntimeError: when ``AUTOMIX_TIERS`` is unset or lists fewer than two tiers.
    """
    from langchain_automix.tiers import build_tier_models, parse_tiers

    tiers = parse_tiers(os.environ.get("AUTOMIX_TIERS", ""))
    if len(tiers) < 2:
        raise RuntimeError(
            "set AUTOMIX_TIERS to two or more ';'-separated tiers "
            "[NAME=]MODEL[@BASE_URL][,key_env=VAR], cheapest first"
        )
    options: dict[str, Any] = {}
    if costs := os.environ.get("AUTOMIX_COSTS"):
        options["costs"] = tuple(float(c) for c in costs.split(","))
    if threshold := os.environ.get("AUTOMIX_THRESHOLD"):
        options["threshold"] = float(threshold)
    if k := os.environ.get("AUTOMIX_NUM_VERIFICATIONS"):
        options["num_verifications"] = int(k)
    model_options: dict[str, Any] = {}
    if cache_url := os.environ.get("AUTOMIX_CACHE_URL"):
        from langchain_automix.runtime.cache import cache_from_url

        model_options["cache"] = cache_from_url(cache_url)
    return AutoMixRunnable(models=build_tier_models(tiers, **model_options), **options)


def make_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """Graph factory named in ``langgraph.json`` (built on first use, from the environment)."""
    return build_graph(runnable_from_env())
