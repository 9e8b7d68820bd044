"""Fixtures shared by the server tests (helpers they build on: ``_served.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.unit_tests.server._served import Served, running_server


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The real server of ``running_server()`` (no API key), one per test module."""
    with running_server() as s:
        yield s


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    """A raw HTTP client of ``served``."""
    with httpx.Client(base_url=served.url, timeout=5) as c:
        yield c
