"""Registry of meta-verifiers by name (used by policy files and the command line).

Each policy registers itself where it is defined
(:func:`~langchain_automix.meta_verifiers.base.register_meta_verifier`); this module, at
the top of the package, imports every built-in one, so the table is complete once it is
imported (as ``import langchain_automix.meta_verifiers`` does).
"""

from __future__ import annotations

from typing import Any

# the built-in policies, imported for their registration (their classes add themselves)
from langchain_automix.meta_verifiers import (  # noqa: F401
    calibrated,
    chained,
    double_threshold,
    fixed_answer,
    pomdp,
    pomdp_simple,
    self_consistency,
    threshold,
    triple_threshold,
    union,
)
from langchain_automix.meta_verifiers.base import (
    META_VERIFIERS,
    MetaVerifier,
    meta_verifier_class,
    register_meta_verifier,
)

__all__ = [
    "META_VERIFIERS",
    "available_meta_verifiers",
    "get_meta_verifier",
    "get_meta_verifier_class",
    "register_meta_verifier",
]


def get_meta_verifier_class(name: str) -> type[MetaVerifier]:
    """Class registered as ``name`` (case, ``_`` and ``-`` ignored; class names work too).

    Example:
        >>> get_meta_verifier_class("GreedyPOMDP").name
        'greedy_pomdp'
    """
    return meta_verifier_class(name)


def get_meta_verifier(name: str, **kwargs: Any) -> MetaVerifier:
    """A new instance of the meta-verifier registered as ``name``."""
    return meta_verifier_class(name)(**kwargs)


def available_meta_verifiers() -> list[str]:
    """Registered names, sorted."""
    return sorted(META_VERIFIERS)
