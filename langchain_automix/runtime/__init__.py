"""Live routing: everything that runs while a query is answered.

The Runnable and chat-model faces of AutoMix (``runnable``, ``chat_model``), the LangGraph
state machine, its factory and its one driver (``graph``, ``factory``, ``driver``), its
state, context and result types (``state``, ``context``, ``result``), the solve and
self-verify steps (``solving``, ``verification``, ``verification_logprob``, ``sanitize``),
and durable execution and the shared model-call cache (``durable``, ``cache``). Names
are imported on first use, so importing one module of this package does not load the
others.

Example:
    >>> from langchain_automix.runtime import AutoMixRunnable, VerifierSettings
    >>> VerifierSettings().k
    8
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_automix.runtime.cache import cache_from_url, install_cache
    from langchain_automix.runtime.chat_model import ChatAutoMix, conversation_query
    from langchain_automix.runtime.context import AutoMixContext
    from langchain_automix.runtime.driver import adrive, drive
    from langchain_automix.runtime.durable import checkpointer_from_url, durable_serde
    from langchain_automix.runtime.factory import create_automix_graph
    from langchain_automix.runtime.graph import GRAPH_NAME, build_automix_graph, result_from_state
    from langchain_automix.runtime.result import AutoMixResult, TierAttempt
    from langchain_automix.runtime.runnable import AutoMixRunnable
    from langchain_automix.runtime.sanitize import neutralize
    from langchain_automix.runtime.solving import SolveResult, asolve, solve
    from langchain_automix.runtime.state import AutoMixInput, AutoMixState, InputState
    from langchain_automix.runtime.verification import (
        VerificationResult,
        VerifierSettings,
        averify,
        parse_verification,
        verify,
    )
    from langchain_automix.runtime.verification_logprob import alogprob_verify, logprob_verify

__all__ = [
    "GRAPH_NAME",
    "AutoMixContext",
    "AutoMixInput",
    "AutoMixResult",
    "AutoMixRunnable",
    "AutoMixState",
    "ChatAutoMix",
    "InputState",
    "SolveResult",
    "TierAttempt",
    "VerificationResult",
    "VerifierSettings",
    "alogprob_verify",
    "asolve",
    "averify",
    "adrive",
    "build_automix_graph",
    "cache_from_url",
    "checkpointer_from_url",
    "conversation_query",
    "create_automix_graph",
    "drive",
    "durable_serde",
    "install_cache",
    "logprob_verify",
    "neutralize",
    "parse_verification",
    "result_from_state",
    "solve",
    "verify",
]

_WHERE = {
    "AutoMixRunnable": "runnable",
    "create_automix_graph": "factory",
    "drive": "driver",
    "adrive": "driver",
    "GRAPH_NAME": "graph",
    "build_automix_graph": "graph",
    "result_from_state": "graph",
    "SolveResult": "solving",
    "asolve": "solving",
    "solve": "solving",
    "VerificationResult": "verification",
    "VerifierSettings": "verification",
    "averify": "verification",
    "parse_verification": "verification",
    "verify": "verification",
    "alogprob_verify": "verification_logprob",
    "logprob_verify": "verification_logprob",
    "neutralize": "sanitize",
    "AutoMixInput": "state",
    "AutoMixState": "state",
    "InputState": "state",
    "AutoMixContext": "context",
    "AutoMixResult": "result",
    "TierAttempt": "result",
    "ChatAutoMix": "chat_model",
    "conversation_query": "chat_model",
    "checkpointer_from_url": "durable",
    "durable_serde": "durable",
    "cache_from_url": "cache",
    "install_cache": "cache",
}

__getattr__ = lazy_getattr(__name__, _WHERE)
