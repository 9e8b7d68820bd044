from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "langchain_automix.replay",
    "langchain_automix.metrics",
    "langchain_automix.synthetic",
    "langchain_automix.meta_verifiers.base",
    "langchain_automix.meta_verifiers.threshold",
    "langchain_automix.meta_verifiers.double_threshold",
    "langchain_automix.meta_verifiers.self_consistency",
    "langchain_automix.meta_verifiers.pomdp",
    "langchain_automix.meta_verifiers.union",
    "langchain_automix.meta_verifiers.fixed_answer",
    "langchain_automix.meta_verifiers.registry",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
