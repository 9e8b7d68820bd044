"""Meta-verifiers: policies that decide from noisy self-verification when to escalate."""

from langchain_automix.meta_verifiers.base import Decision, MetaVerifier, Observation
from langchain_automix.meta_verifiers.threshold import Threshold

__all__ = ["Decision", "MetaVerifier", "Observation", "Threshold"]
