"""AutoMix for LangChain: small model first, self-verify, escalate only when needed.

Example:
    >>> from langchain_automix import AutoMixRunnable
    >>> # automix = AutoMixRunnable(models=[small_chat_model, large_chat_model])
"""

from typing import Any

from langchain_automix._version import __version__
from langchain_automix.calibration.evaluation import (
    VerifierReport,
    compare_methods,
    evaluate_policy,
    verifier_report,
)
from langchain_automix.calibration.replay import (
    ReplayDataset,
    ReplayError,
    load_replay,
    write_replay,
)
from langchain_automix.costs import CostModel, TokenPrice
from langchain_automix.errors import AutoMixError, AutoMixInputError, AutoMixModelError
from langchain_automix.meta_verifiers import (
    POMDP,
    AutomixUnion,
    Calibrated,
    Chained,
    Decision,
    DoubleThreshold,
    FixedAnswerRouting,
    GreedyPOMDP,
    MetaVerifier,
    Observation,
    PolicyError,
    PolicyMismatchError,
    PolicyMismatchWarning,
    POMDPSimple,
    Provenance,
    SelfConsistency,
    Threshold,
    TripleThreshold,
    available_meta_verifiers,
    get_meta_verifier,
)
from langchain_automix.prompts import (
    DECISION_GRAMMAR,
    DEFAULT_SOLVE_PROMPT,
    DEFAULT_VERIFY_PROMPT,
    decision_grammar,
)
from langchain_automix.runtime.chat_model import ChatAutoMix
from langchain_automix.runtime.context import AutoMixContext
from langchain_automix.runtime.factory import create_automix_graph
from langchain_automix.runtime.graph import build_automix_graph
from langchain_automix.runtime.result import AutoMixResult, TierAttempt
from langchain_automix.runtime.runnable import AutoMixRunnable
from langchain_automix.runtime.state import AutoMixInput
from langchain_automix.runtime.verification import (
    VerificationResult,
    VerifierSettings,
    parse_verification,
)
from langchain_automix.signals import SIGNALS, SignalCombiner


def __getattr__(name: str) -> Any:
    """Import the server lazily: it needs the ``[server]`` extra (FastAPI, LangServe)."""
    if name == "create_app":
        from langchain_automix.server import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DECISION_GRAMMAR",
    "DEFAULT_SOLVE_PROMPT",
    "DEFAULT_VERIFY_PROMPT",
    "POMDP",
    "POMDPSimple",
    "SIGNALS",
    "AutoMixContext",
    "AutoMixError",
    "AutoMixInput",
    "AutoMixInputError",
    "AutoMixModelError",
    "AutoMixResult",
    "AutoMixRunnable",
    "AutomixUnion",
    "Calibrated",
    "Chained",
    "ChatAutoMix",
    "CostModel",
    "Decision",
    "DoubleThreshold",
    "FixedAnswerRouting",
    "GreedyPOMDP",
    "MetaVerifier",
    "Observation",
    "PolicyError",
    "PolicyMismatchError",
    "PolicyMismatchWarning",
    "Provenance",
    "ReplayDataset",
    "ReplayError",
    "SelfConsistency",
    "SignalCombiner",
    "Threshold",
    "TripleThreshold",
    "TierAttempt",
    "TokenPrice",
    "VerificationResult",
    "VerifierReport",
    "VerifierSettings",
    "__version__",
    "available_meta_verifiers",
    "build_automix_graph",
    "compare_methods",
    "create_app",
    "create_automix_graph",
    "decision_grammar",
    "evaluate_policy",
    "get_meta_verifier",
    "load_replay",
    "parse_verification",
    "verifier_report",
    "write_replay",
]
