import pytest
from langchain_core.messages import AIMessageChunk

from langchain_automix import AutoMixModelError, AutoMixResult, AutoMixRunnable
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel, SlowStreamChatModel

QUERY = {"question": "Who wrote Hamlet?", "context": "Hamlet is by William Shakespeare."}


def make(verdict: str) -> AutoMixRunnable:
    small = ScriptedChatModel(answer="small model answer", verdicts=[verdict])
    large = ScriptedChatModel(answer="William Shakespeare wrote it")
    return AutoMixRunnable(models=[small, large], num_verifications=2)


def _check_accepted(chunks: list[AIMessageChunk]) -> None:
    contents = [c.content for c in chunks]
    assert contents == ["small model answer", ""]
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.content == "small model answer"
    assert AutoMixResult.from_message(total).answered_by == 0
    assert total.usage_metadata is not None and total.usage_metadata["input_tokens"] == 30


def _check_escalated(chunks: list[AIMessageChunk]) -> None:
    contents = [c.content for c in chunks]
    # the small tier's rejected answer never reaches the client
    assert not any("small" in str(c) for c in contents)
    # the final tier's tokens arrive one by one, then the trace
    assert contents == ["William", " Shakespeare", " wrote", " it", ""]
    assert "automix" in chunks[-1].response_metadata
    assert all("automix" not in c.response_metadata for c in chunks[:-1])
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.content == "William Shakespeare wrote it"
    r = AutoMixResult.from_message(total)
    assert r.escalated and r.answer == "William Shakespeare wrote it"


def test_stream_accepted_emits_whole_answer_after_verification() -> None:
    _check_accepted(list(make(CORRECT).stream(QUERY)))


def test_stream_escalated_streams_final_tier_tokens() -> None:
    _check_escalated(list(make(INCORRECT).stream(QUERY)))


async def test_astream_accepted() -> None:
    _check_accepted([c async for c in make(CORRECT).astream(QUERY)])


async def test_astream_escalated() -> None:
    _check_escalated([c async for c in make(INCORRECT).astream(QUERY)])


async def test_astream_events_show_nodes_and_final_tokens() -> None:
    events = [e async for e in make(INCORRECT).astream_events(QUERY, version="v2")]
    names = {e["name"] for e in events if e["event"] == "on_chain_start"}
    assert {
        "AutoMixRunnable",
        "AutoMix",
        "solve_small",
        "self_verify",
        "meta_decide",
        "solve_large",
    } <= names
    model_tokens = [
        e["data"]["chunk"].content
        for e in events
        if e["event"] == "on_chat_model_stream" and "automix:solve_large" in e["tags"]
    ]
    assert "".join(model_tokens) == "William Shakespeare wrote it"
    ends = [e for e in events if e["event"] == "on_chain_end" and e["name"] == "AutoMixRunnable"]
    assert ends and ends[-1]["data"]["output"].content == "William Shakespeare wrote it"


def test_invoke_does_not_stream_the_final_tier() -> None:
    small = ScriptedChatModel(answer="s", verdicts=[INCORRECT])
    large = ScriptedChatModel(answer="l")
    AutoMixRunnable(models=[small, large], num_verifications=1).invoke(QUERY)
    assert large.count("solve") == 1  # via _generate, not _stream


# --- a final tier that fails mid-stream ---------------------------------------------------


def _failing_midstream() -> AutoMixRunnable:
    small = ScriptedChatModel(answer="small model answer", verdicts=[INCORRECT])
    large = SlowStreamChatModel(n_tokens=10, delay=0.0, fail_after=3)
    return AutoMixRunnable(models=[small, large], num_verifications=1)


def _check_partial_matches_the_stream(chunks: list[AIMessageChunk], exc: AutoMixModelError) -> None:
    seen = "".join(str(c.content) for c in chunks)
    assert seen == "t0 t1 t2 "
    partial = exc.partial
    assert partial is not None
    # the partial answer is what the client saw, never the small tier's rejected answer
    assert partial.answer == seen
    assert partial.answered_by == 1 and partial.answered_by_model == "slow-stream"
    assert partial.streamed_tier == 1
    small, large = partial.attempts
    assert small.answer == "small model answer" and small.decision == "escalate"
    assert large.answer is None and large.error is not None and "stream broke" in large.error
    assert large.partial_answer == seen
    assert partial.trace()["streamed_tier"] == 1


def test_stream_failure_after_tokens_partial_matches_what_was_streamed() -> None:
    chunks: list[AIMessageChunk] = []
    with pytest.raises(AutoMixModelError) as info:
        for c in _failing_midstream().stream(QUERY):
            chunks.append(c)
    _check_partial_matches_the_stream(chunks, info.value)


async def test_astream_failure_after_tokens_partial_matches_what_was_streamed() -> None:
    chunks: list[AIMessageChunk] = []
    with pytest.raises(AutoMixModelError) as info:
        async for c in _failing_midstream().astream(QUERY):
            chunks.append(c)
    _check_partial_matches_the_stream(chunks, info.value)


def test_invoke_failure_partial_keeps_the_last_answer_and_streamed_nothing() -> None:
    with pytest.raises(AutoMixModelError) as info:
        _failing_midstream().invoke(QUERY)
    partial = info.value.partial
    assert partial is not None and partial.streamed_tier is None
    assert partial.attempts[-1].partial_answer is None
    # nothing reached the client: the partial falls back to the last answer obtained
    assert partial.answer == "small model answer" and partial.answered_by == 0


def test_successful_escalated_stream_names_the_streamed_tier() -> None:
    chunks = list(make(INCORRECT).stream(QUERY))
    assert AutoMixResult.from_message(_sum(chunks)).streamed_tier == 1
    chunks = list(make(CORRECT).stream(QUERY))
    assert AutoMixResult.from_message(_sum(chunks)).streamed_tier is None


def _sum(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total
