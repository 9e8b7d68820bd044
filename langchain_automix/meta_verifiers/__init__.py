"""Meta-verifiers: policies that decide from noisy self-verification when to escalate."""

from langchain_automix.meta_verifiers.base import (
    POLICY_VERSION,
    Decision,
    MetaVerifier,
    Observation,
    PolicyError,
    Routing,
    Target,
)
from langchain_automix.meta_verifiers.calibrated import Calibrated
from langchain_automix.meta_verifiers.chained import Chained
from langchain_automix.meta_verifiers.double_threshold import DoubleThreshold
from langchain_automix.meta_verifiers.fixed_answer import FixedAnswerRouting
from langchain_automix.meta_verifiers.pomdp import POMDP, GreedyPOMDP
from langchain_automix.meta_verifiers.pomdp_simple import POMDPSimple
from langchain_automix.meta_verifiers.provenance import (
    PolicyMismatchError,
    PolicyMismatchWarning,
    Provenance,
    check_provenance,
)
from langchain_automix.meta_verifiers.registry import (
    META_VERIFIERS,
    available_meta_verifiers,
    get_meta_verifier,
    get_meta_verifier_class,
    register_meta_verifier,
)
from langchain_automix.meta_verifiers.self_consistency import SelfConsistency
from langchain_automix.meta_verifiers.threshold import Threshold
from langchain_automix.meta_verifiers.triple_threshold import TripleThreshold
from langchain_automix.meta_verifiers.union import AutomixUnion

__all__ = [
    "META_VERIFIERS",
    "POLICY_VERSION",
    "POMDP",
    "POMDPSimple",
    "AutomixUnion",
    "Calibrated",
    "Chained",
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
    "Routing",
    "SelfConsistency",
    "Target",
    "Threshold",
    "TripleThreshold",
    "available_meta_verifiers",
    "check_provenance",
    "get_meta_verifier",
    "get_meta_verifier_class",
    "register_meta_verifier",
]
