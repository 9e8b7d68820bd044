"""Every docstring example in the package runs (modules needing optional extras excepted)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import langchain_automix

# Modules whose import needs an optional extra; their examples run in their own suites.
OPTIONAL = (
    "langchain_automix.plotting",
    "langchain_automix.server",
    "langchain_automix.local",
    "langchain_automix.observability.tracing",  # [otel]; run by observability/test_tracing.py
)


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(langchain_automix.__path__, "langchain_automix."):
        if not info.name.startswith(OPTIONAL):
            names.append(info.name)
    return sorted(names)


def test_module_list_is_not_empty() -> None:
    assert {"langchain_automix.runtime.runnable", "langchain_automix.meta_verifiers.pomdp"} <= set(
        _modules()
    )


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
