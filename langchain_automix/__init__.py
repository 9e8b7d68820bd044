"""AutoMix for LangChain: small model first, self-verify, escalate only when needed.

Example:
    >>> from langchain_automix import AutoMixRunnable
    >>> # automix = AutoMixRunnable(models=[small_chat_model, large_chat_model])
"""

from langchain_automix._version import __version__
from langchain_automix.context import AutoMixContext
from langchain_automix.costs import CostModel, TokenPrice
from langchain_automix.errors import AutoMixError, AutoMixInputError, AutoMixModelError
from langchain_automix.graph import build_automix_graph
from langchain_automix.meta_verifiers import Decision, MetaVerifier, Observation, Threshold
from langchain_automix.prompts import DEFAULT_SOLVE_PROMPT, DEFAULT_VERIFY_PROMPT
from langchain_automix.result import AutoMixResult, TierAttempt
from langchain_automix.runnable import AutoMixRunnable
from langchain_automix.state import AutoMixInput
from langchain_automix.verification import VerificationResult, VerifierSettings, parse_verification

__all__ = [
    "DEFAULT_SOLVE_PROMPT",
    "DEFAULT_VERIFY_PROMPT",
    "AutoMixContext",
    "AutoMixError",
    "AutoMixInput",
    "AutoMixInputError",
    "AutoMixModelError",
    "AutoMixResult",
    "AutoMixRunnable",
    "CostModel",
    "Decision",
    "MetaVerifier",
    "Observation",
    "Threshold",
    "TierAttempt",
    "TokenPrice",
    "VerificationResult",
    "VerifierSettings",
    "__version__",
    "build_automix_graph",
    "parse_verification",
]
