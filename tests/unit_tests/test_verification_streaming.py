"""One verification request per verified tier, whatever streaming is attached (#24).

A streaming callback handler (``astream_events``, LangServe's stream_events, a LangGraph
agent in messages mode) makes ``BaseChatModel`` stream a call; a streamed ``n = k``
request comes back as one collapsed choice and was topped up with ``k - 1`` more.
"""

from __future__ import annotations

from typing import Any

import pytest

from langchain_automix import AutoMixRunnable, Threshold
from tests.unit_tests.fake_models import INCORRECT, NChatModel

QUESTION = {"question": "Capital of France?", "context": "Paris is the capital of France."}


def _pair() -> tuple[NChatModel, NChatModel]:
    # the small model doubts its answer: the query escalates after one verification
    return NChatModel(answer="Lyon", verdicts=[INCORRECT]), NChatModel(answer="Paris")


def _automix(small: NChatModel, large: NChatModel) -> AutoMixRunnable:
    return AutoMixRunnable(models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5))


def _check(small: NChatModel) -> None:
    verify_calls = [kw for kind, kw in small.calls if kind == "verify"]
    assert len(verify_calls) == 1, [kw.get("n") for kw in verify_calls]
    assert verify_calls[0]["n"] == 8 and verify_calls[0]["stream"] is False


def test_invoke() -> None:
    small, large = _pair()
    assert _automix(small, large).invoke(QUESTION).content == "Paris"
    _check(small)


def test_stream() -> None:
    small, large = _pair()
    chunks = list(_automix(small, large).stream(QUESTION))
    assert "".join(str(c.content) for c in chunks) == "Paris"
    _check(small)


async def test_astream() -> None:
    small, large = _pair()
    chunks = [c async for c in _automix(small, large).astream(QUESTION)]
    assert "".join(str(c.content) for c in chunks) == "Paris"
    _check(small)


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_astream_events(version: Any) -> None:
    small, large = _pair()
    events = [e async for e in _automix(small, large).astream_events(QUESTION, version=version)]
    assert events
    _check(small)


async def test_astream_events_chat_model() -> None:
    from langchain_automix import ChatAutoMix

    small, large = _pair()
    chat = ChatAutoMix(models=[small, large], num_verifications=8, meta_verifier=Threshold(0.5))
    events = [e async for e in chat.astream_events("Capital of France?", version="v2")]
    assert events
    _check(small)
