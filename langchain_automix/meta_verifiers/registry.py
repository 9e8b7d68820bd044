"""Registry of meta-verifiers by name (used by policy files and the command line)."""

from __future__ import annotations

from typing import Any

from langchain_automix.meta_verifiers.base import MetaVerifier
from langchain_automix.meta_verifiers.calibrated import Calibrated
from langchain_automix.meta_verifiers.chained import Chained
from langchain_automix.meta_verifiers.double_threshold import DoubleThreshold
from langchain_automix.meta_verifiers.fixed_answer import FixedAnswerRouting
from langchain_automix.meta_verifiers.pomdp import POMDP, GreedyPOMDP
from langchain_automix.meta_verifiers.pomdp_simple import POMDPSimple
from langchain_automix.meta_verifiers.self_consistency import SelfConsistency
from langchain_automix.meta_verifiers.threshold import Threshold
from langchain_automix.meta_verifiers.triple_threshold import TripleThreshold
from langchain_automix.meta_verifiers.union import AutomixUnion

__all__ = [
    "META_VERIFIERS",
    "available_meta_verifiers",
    "get_meta_verifier",
    "get_meta_verifier_class",
    "register_meta_verifier",
]

META_VERIFIERS: dict[str, type[MetaVerifier]] = {
    cls.name: cls
    for cls in (
        Threshold,
        DoubleThreshold,
        TripleThreshold,
        SelfConsistency,
        GreedyPOMDP,
        POMDPSimple,
        POMDP,
        AutomixUnion,
        FixedAnswerRouting,
        Calibrated,
        Chained,
    )
}
"""Registered meta-verifier classes by their ``name``."""


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def get_meta_verifier_class(name: str) -> type[MetaVerifier]:
    """Class registered as ``name`` (case, ``_`` and ``-`` ignored; class names work too).

    Example:
        >>> get_meta_verifier_class("GreedyPOMDP").name
        'greedy_pomdp'
    """
    want = _key(name)
    for key, cls in META_VERIFIERS.items():
        if want in (_key(key), _key(cls.__name__)):
            return cls
    raise KeyError(f"unknown meta-verifier {name!r}; known: {', '.join(sorted(META_VERIFIERS))}")


def get_meta_verifier(name: str, **kwargs: Any) -> MetaVerifier:
    """A new instance of the meta-verifier registered as ``name``."""
    return get_meta_verifier_class(name)(**kwargs)


def available_meta_verifiers() -> list[str]:
    """Registered names, sorted."""
    return sorted(META_VERIFIERS)


def register_meta_verifier(cls: type[MetaVerifier]) -> type[MetaVerifier]:
    """Register a custom subclass under its ``name`` (usable as a class decorator)."""
    META_VERIFIERS[cls.name] = cls
    return cls
