"""AutoMix for LangChain: small model first, self-verify, escalate only when needed."""

from langchain_automix._version import __version__
from langchain_automix.meta_verifiers import Decision, MetaVerifier, Observation, Threshold

__all__ = ["Decision", "MetaVerifier", "Observation", "Threshold", "__version__"]
