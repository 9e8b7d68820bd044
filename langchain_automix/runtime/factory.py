"""``create_automix_graph``: the AutoMix graph with its models, as a plain LangGraph graph.

Like LangGraph's ``create_react_agent``, the factory closes over the models and returns
a compiled graph that LangGraph's own tools use as is: ``graph.invoke``, ``.stream`` in
every stream mode, a checkpointer, ``langgraph dev`` / LangGraph Platform (name it in
``langgraph.json``), LangGraph Studio. The topology is the one every ``AutoMixRunnable``
runs (:func:`~langchain_automix.runtime.graph.compile_automix_graph`); the settings are
the runnable's keyword arguments, validated the same way.

What the graph streams: the final tier's tokens (``messages`` mode), the accepted
answer's message when a non-final tier's answer is kept, and in ``values`` /
``updates`` mode only :class:`~langchain_automix.runtime.state.OutputState` (``answer``,
``trace``, ``message``, set when the run ends). A non-final tier's answer and the
verifier's samples are never streamed (their calls carry LangGraph's ``nostream`` tag);
they appear in the trace once the run has decided.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> small = FakeListChatModel(responses=[
    ...     "Paris", "Verification Decision: The AI generated answer is Correct."])
    >>> large = FakeListChatModel(responses=["Paris, France"])
    >>> graph = create_automix_graph([small, large], num_verifications=1)
    >>> out = graph.invoke({"question": "Capital of France?"})
    >>> out["answer"], out["trace"]["answered_by"]
    ('Paris', 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from langchain_core.runnables import Runnable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.runtime.context import AutoMixContext, RunKnobs
from langchain_automix.runtime.durable import SERDE_ALLOWLIST
from langchain_automix.runtime.graph import ContextResolver, compile_automix_graph
from langchain_automix.runtime.runnable import AutoMixRunnable

__all__ = ["create_automix_graph", "graph_of"]

_KNOBS = frozenset(RunKnobs.__annotations__)


def create_automix_graph(
    models: list[Runnable[Any, Any]],
    *,
    meta_verifier: MetaVerifier | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "AutoMix",
    **settings: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled AutoMix graph for ``models`` (cheapest first).

    Args:
        models: chat models, cheapest first (two or more).
        meta_verifier: decides from the verifier confidence; default ``Threshold(0.5)``.
        checkpointer: saves the state after every node under the run's ``thread_id``.
        name: the graph's name (in traces, and as the assistant of a LangGraph server).
        **settings: any other ``AutoMixRunnable`` field (``num_verifications``,
            ``costs``, ``tier_timeout``, ...).

    Returns:
        A graph whose input is ``{"question", "context"}``, whose output is
        ``{"answer", "trace", "message", ...}``, and whose run context may carry
        :class:`~langchain_automix.runtime.context.RunKnobs` (``threshold``,
        ``num_verifications``).

    Raises:
        ValueError: for settings ``AutoMixRunnable`` refuses (before any model is called).
    """
    automix = AutoMixRunnable(models=models, meta_verifier=meta_verifier, **settings)
    return graph_of(automix, checkpointer=checkpointer, name=name)


def graph_of(
    automix: AutoMixRunnable,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "AutoMix",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled graph of an existing ``AutoMixRunnable`` (its models and settings)."""
    saver = checkpointer or automix.checkpointer
    return compile_automix_graph(
        resolve=_resolver(automix),
        checkpointer=None if saver is None else saver.with_allowlist(SERDE_ALLOWLIST),
        name=name,
    )


def _resolver(automix: AutoMixRunnable) -> ContextResolver:
    """Each run's context: ``automix``'s, or a copy tuned by the run's JSON knobs."""
    fields = {k: getattr(automix, k) for k in type(automix).model_fields}

    @lru_cache(maxsize=64)
    def tuned(knobs: tuple[tuple[str, Any], ...]) -> AutoMixContext:
        # rebuilt (not copied), so the knobs are validated and the context follows them
        runnable = AutoMixRunnable(**{**fields, **dict(knobs)}) if knobs else automix
        return replace(runnable.context, publish=True)  # the graph returns its answer

    def resolve(context: Any) -> AutoMixContext:
        if context is None:
            return tuned(())
        if not isinstance(context, Mapping):
            raise TypeError(
                f"the run context must be a mapping of {sorted(_KNOBS)}, "
                f"got {type(context).__name__}"
            )
        unknown = set(context) - _KNOBS
        if unknown:
            raise ValueError(
                f"unknown run context keys {sorted(unknown)}; this graph takes {sorted(_KNOBS)}"
            )
        # a threshold of 0 is a setting, not a missing one
        knobs = tuple(sorted((k, v) for k, v in context.items() if v is not None))
        return tuned(knobs)

    return resolve
