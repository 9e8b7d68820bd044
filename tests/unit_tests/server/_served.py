"""A real uvicorn server on loopback, backed by scripted fake models, for the server tests.

The fixtures built on it (``served``, ``http``) are in ``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_automix import AutoMixRunnable
from langchain_automix.server import create_app
from langchain_automix.server.background import serve_in_thread
from tests.unit_tests.fake_models import CORRECT, INCORRECT, RecordingChatModel, ScriptedChatModel

__all__ = [
    "LATENCY",
    "MAX_BODY_BYTES",
    "MAX_CONTEXT_CHARS",
    "Served",
    "make_automix",
    "running_server",
]

LATENCY = 0.02
"""Fixed latency of every fake model call, in seconds."""

MAX_CONTEXT_CHARS = 2_000
MAX_BODY_BYTES = 20_000


@dataclass
class Served:
    url: str
    small: RecordingChatModel
    large: ScriptedChatModel
    automix: AutoMixRunnable


def make_automix() -> tuple[AutoMixRunnable, RecordingChatModel, ScriptedChatModel]:
    """Small answers "Paris" with verdicts Correct/Incorrect in turn, so with k=2 its
    confidence is 0.5 on every sequential request: kept at the default threshold 0.5,
    escalated to "Paris, France" at threshold 0.9."""
    small = RecordingChatModel(answer="Paris", verdicts=[CORRECT, INCORRECT], latency=LATENCY)
    large = ScriptedChatModel(answer="Paris, France", latency=LATENCY)
    automix = AutoMixRunnable(
        models=[small, large], num_verifications=2, max_context_chars=MAX_CONTEXT_CHARS
    )
    return automix, small, large


@contextmanager
def running_server(
    api_key: str | None = None, env_var: str = "AUTOMIX_TEST_API_KEY", **uvicorn_options: Any
) -> Iterator[Served]:
    automix, small, large = make_automix()
    old = os.environ.pop(env_var, None)
    if api_key is not None:
        os.environ[env_var] = api_key
    try:
        app = create_app(automix, api_key_env=env_var, max_body_bytes=MAX_BODY_BYTES)
    finally:
        os.environ.pop(env_var, None)
        if old is not None:
            os.environ[env_var] = old
    with serve_in_thread(app, **uvicorn_options) as url:
        yield Served(url=url, small=small, large=large, automix=automix)
