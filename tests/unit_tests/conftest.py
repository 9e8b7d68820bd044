"""Unit tests run on fake models: they never compile llama.cpp or start a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_llama_cpp_compile(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A unit test that reaches the real compile step fails at once instead of compiling
    for minutes (tests that want a build replace ``build_llama_server`` itself)."""
    from langchain_automix.local import build

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a unit test tried to compile llama.cpp")

    monkeypatch.setattr(build, "_run_logged", refuse)
    monkeypatch.setattr(build, "_fetch_source", refuse)
    yield
