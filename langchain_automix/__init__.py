"""AutoMix for LangChain: small model first, self-verify, escalate only when needed.

Example:
    >>> from langchain_automix import AutoMixRunnable
    >>> # automix = AutoMixRunnable(models=[small_chat_model, large_chat_model])
"""

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr
from langchain_automix._version import __version__

if TYPE_CHECKING:
    from langchain_automix.calibration.replay import (
        ReplayDataset,
        ReplayError,
        load_replay,
        write_replay,
    )
    from langchain_automix.costs import CostModel, TokenPrice
    from langchain_automix.errors import AutoMixError, AutoMixInputError, AutoMixModelError
    from langchain_automix.evaluation import (
        VerifierReport,
        compare_methods,
        evaluate_policy,
        verifier_report,
    )
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
    from langchain_automix.server.app import create_app
    from langchain_automix.signals import SIGNALS, SignalCombiner

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

_WHERE = {
    "ReplayDataset": "calibration.replay",
    "ReplayError": "calibration.replay",
    "load_replay": "calibration.replay",
    "write_replay": "calibration.replay",
    "CostModel": "costs",
    "TokenPrice": "costs",
    "AutoMixError": "errors",
    "AutoMixInputError": "errors",
    "AutoMixModelError": "errors",
    "VerifierReport": "evaluation",
    "compare_methods": "evaluation",
    "evaluate_policy": "evaluation",
    "verifier_report": "evaluation",
    "POMDP": "meta_verifiers",
    "AutomixUnion": "meta_verifiers",
    "Calibrated": "meta_verifiers",
    "Chained": "meta_verifiers",
    "Decision": "meta_verifiers",
    "DoubleThreshold": "meta_verifiers",
    "FixedAnswerRouting": "meta_verifiers",
    "GreedyPOMDP": "meta_verifiers",
    "MetaVerifier": "meta_verifiers",
    "Observation": "meta_verifiers",
    "PolicyError": "meta_verifiers",
    "PolicyMismatchError": "meta_verifiers",
    "PolicyMismatchWarning": "meta_verifiers",
    "POMDPSimple": "meta_verifiers",
    "Provenance": "meta_verifiers",
    "SelfConsistency": "meta_verifiers",
    "Threshold": "meta_verifiers",
    "TripleThreshold": "meta_verifiers",
    "available_meta_verifiers": "meta_verifiers",
    "get_meta_verifier": "meta_verifiers",
    "DECISION_GRAMMAR": "prompts",
    "DEFAULT_SOLVE_PROMPT": "prompts",
    "DEFAULT_VERIFY_PROMPT": "prompts",
    "decision_grammar": "prompts",
    "ChatAutoMix": "runtime.chat_model",
    "AutoMixContext": "runtime.context",
    "create_automix_graph": "runtime.factory",
    "build_automix_graph": "runtime.graph",
    "AutoMixResult": "runtime.result",
    "TierAttempt": "runtime.result",
    "AutoMixRunnable": "runtime.runnable",
    "AutoMixInput": "runtime.state",
    "VerificationResult": "runtime.verification",
    "VerifierSettings": "runtime.verification",
    "parse_verification": "runtime.verification",
    "SIGNALS": "signals",
    "SignalCombiner": "signals",
    "create_app": "server.app",
}
"""Where each public name lives: imported on first use, so ``import langchain_automix``
loads neither langgraph nor the server until a name that needs them is used."""

__getattr__ = lazy_getattr(__name__, _WHERE)
