"""Integration tests need the [local] extra (llama.cpp + embedded weights); they never skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_automix.local import LocalModelServer


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="session")
def local_pair() -> Iterator[LocalModelServer]:
    with LocalModelServer(n_ctx=4096, n_threads=int(os.environ.get("AUTOMIX_THREADS", "2"))) as s:
        yield s
