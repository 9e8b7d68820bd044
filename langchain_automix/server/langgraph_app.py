"""The AutoMix graph for the LangGraph server (``langgraph dev`` / LangGraph Platform).

``langgraph.json`` names :func:`make_graph`: the graph of
:func:`~langchain_automix.runtime.factory.create_automix_graph` (no wrapper: the core
graph itself, holding the tiers described by the server's environment), so its nodes
show in LangGraph Studio and every stream mode behaves as documented there.

Environment:
    ``AUTOMIX_TIERS``: ``;``-separated ``[NAME=]MODEL[@BASE_URL][,key_env=VAR]``, cheapest first.
    ``AUTOMIX_COSTS``: optional unit costs, e.g. ``1,50``.
    ``AUTOMIX_THRESHOLD``, ``AUTOMIX_NUM_VERIFICATIONS``: optional defaults.
    ``AUTOMIX_CACHE_URL``: optional shared cache of the tiers' calls, ``redis://host:port/db``
    (extra ``[cache]``; see :mod:`langchain_automix.runtime.cache`).

Run input ``{"question": ..., "context": ...}``; output ``answer``, the routing ``trace``
and the answer's ``message``; run context ``{"threshold": 0.7, "num_verifications": 4}``.

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
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from langchain_automix.runtime.context import RunKnobs
from langchain_automix.runtime.factory import graph_of
from langchain_automix.runtime.runnable import AutoMixRunnable
from langchain_automix.runtime.state import OutputState

__all__ = ["ServeContext", "ServeState", "build_graph", "make_graph", "runnable_from_env"]

ServeContext = RunKnobs
"""Per-run knobs, sent as the run's ``context`` by LangGraph clients."""

ServeState = OutputState
"""What a run returns: the input, the answer, the routing trace and the answer message."""

SERVER_GRAPH_NAME = "AutoMixServer"
"""The graph's name on the LangGraph server."""


def build_graph(automix: AutoMixRunnable) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The AutoMix graph of ``automix``, for servers that build graphs from modules.

    The same graph as ``create_automix_graph`` (:func:`graph_of`), named
    ``AutoMixServer``; the run's :class:`ServeContext` tunes its settings.
    """
    return graph_of(automix, name=SERVER_GRAPH_NAME)


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
