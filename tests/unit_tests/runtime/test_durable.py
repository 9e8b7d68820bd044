"""Durable execution: checkpointed nodes, resumed queries, thread ids in the trace."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langchain_automix import AutoMixResult, AutoMixRunnable
from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.durable import UrlCheckpointer, checkpointer_from_url
from langchain_automix.runtime.graph import build_automix_graph
from tests.unit_tests.fake_models import CORRECT, INCORRECT, ScriptedChatModel

QUERY = {"question": "What is the capital of France?", "context": "Paris is France's capital."}


class Crash(BaseException):
    """Stands in for a process dying mid-query (not an Exception: nothing catches it)."""


class CrashingModel(ScriptedChatModel):
    """A scripted model whose calls of one kind die while ``crash`` is set."""

    crash: str | None = None

    def _text(self, kind: str) -> str:
        if kind == self.crash:
            raise Crash(kind)
        return super()._text(kind)

    async def _astream(self, *args: Any, **kwargs: Any) -> Any:
        async for chunk in super()._astream(*args, **kwargs):
            if self.latency:  # slow tokens (the base class only delays whole answers)
                await asyncio.sleep(self.latency)
            yield chunk


def make(
    checkpointer: Any, small_verdicts: list[str] | None = None, k: int = 2
) -> tuple[AutoMixRunnable, CrashingModel, CrashingModel]:
    small = CrashingModel(answer="Paris", verdicts=small_verdicts or [INCORRECT])
    large = CrashingModel(answer="Paris, France")
    automix = AutoMixRunnable(models=[small, large], num_verifications=k, checkpointer=checkpointer)
    return automix, small, large


def calls(model: ScriptedChatModel) -> tuple[int, int]:
    return model.count("solve"), model.count("verify")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter at the repository root (``env`` added to ours)."""
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_default_path_uses_the_shared_graph_and_an_unchanged_trace() -> None:
    automix = AutoMixRunnable(models=[ScriptedChatModel(), ScriptedChatModel()])
    assert automix.graph is build_automix_graph()
    trace = automix.invoke(QUERY, {"configurable": {"thread_id": "x"}}).response_metadata["automix"]
    assert "thread_id" not in trace and "resumed" not in trace


def test_crash_in_the_large_tier_resumes_there() -> None:
    automix, small, large = make(InMemorySaver())
    large.crash = "solve"
    config = {"configurable": {"thread_id": "req-1"}}
    with pytest.raises(Crash):
        automix.invoke(QUERY, config)
    assert calls(small) == (1, 2) and calls(large) == (1, 0)
    state = automix.graph.get_state(config)
    assert state.next == ("solve_large",)  # solve_small, self_verify, meta_decide saved

    large.crash = None
    msg = automix.invoke(QUERY, config)
    assert msg.content == "Paris, France"
    assert calls(small) == (1, 2)  # not called again
    assert calls(large) == (2, 0)  # the interrupted call, then the resumed one
    result = AutoMixResult.from_message(msg)
    assert result.thread_id == "req-1" and result.resumed
    assert [a.decision for a in result.attempts] == ["escalate", None]
    assert result.total_cost == 52.0  # the small tier is counted once


def test_crash_after_self_verify_resumes_at_meta_decide() -> None:
    # the crash hits meta-decide's first act: deciding; nothing of the small tier reruns
    automix, small, large = make(InMemorySaver(), small_verdicts=[CORRECT])
    config = {"configurable": {"thread_id": "req-2"}}
    original = automix.context.meta_verifier.decide
    state: dict[str, Any] = {"crash": True}

    def decide(obs: Any) -> Any:
        if state["crash"]:
            raise Crash("meta_decide")
        return original(obs)

    object.__setattr__(automix.context.meta_verifier, "decide", decide)
    with pytest.raises(Crash):
        automix.invoke(QUERY, config)
    assert automix.graph.get_state(config).next == ("meta_decide",)
    state["crash"] = False
    msg = automix.invoke(QUERY, config)
    assert msg.content == "Paris"
    assert calls(small) == (1, 2) and calls(large) == (0, 0)


async def _cancel_in_large_tier(run: Any, large: ScriptedChatModel) -> None:
    """Run ``run`` (a coroutine) and cancel it while the large tier answers (async stand-in
    for a dying process: langchain-core's async generate does not pass BaseException on)."""
    task = asyncio.ensure_future(run)
    while large.count("solve") == 0:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_async_resume() -> None:
    automix, small, large = make(InMemorySaver())
    large.latency = 30.0
    config = {"configurable": {"thread_id": "req-a"}}
    await _cancel_in_large_tier(automix.ainvoke(QUERY, config), large)
    assert calls(small) == (1, 2)
    large.latency = 0.0
    msg = await automix.ainvoke(QUERY, config)
    assert msg.content == "Paris, France"
    assert calls(small) == (1, 2) and calls(large) == (2, 0)
    assert msg.response_metadata["automix"]["thread_id"] == "req-a"


def test_generated_thread_id_replays_a_finished_query_without_calls() -> None:
    automix, small, large = make(InMemorySaver())
    first = AutoMixResult.from_message(automix.invoke(QUERY))
    assert first.thread_id and len(first.thread_id) == 32 and not first.resumed
    before = (calls(small), calls(large))
    again = automix.invoke(QUERY, {"configurable": {"thread_id": first.thread_id}})
    assert (calls(small), calls(large)) == before  # no model called
    replay = AutoMixResult.from_message(again)
    assert replay.answer == first.answer and replay.resumed
    # the replay called nothing: it spent 0, while total_cost still records the query's
    assert replay.spent_this_call == 0.0 and replay.total_cost == first.total_cost == 52.0
    assert first.spent_this_call is None  # a plain run: it spent its total_cost
    assert again.response_metadata["automix"]["spent_this_call"] == 0.0
    other = AutoMixResult.from_message(automix.invoke(QUERY))
    assert other.thread_id != first.thread_id


def test_a_thread_names_one_query() -> None:
    automix, _, _ = make(InMemorySaver())
    automix.invoke(QUERY, {"configurable": {"thread_id": "t"}})
    with pytest.raises(AutoMixInputError, match="thread_id"):
        automix.invoke({"question": "Another?"}, {"configurable": {"thread_id": "t"}})


def test_failed_final_tier_names_its_thread_and_a_retry_reruns_only_it() -> None:
    automix, small, large = make(InMemorySaver())
    large.fail_solve = True
    config = {"configurable": {"thread_id": "req-f"}}
    with pytest.raises(AutoMixModelError) as info:
        automix.invoke(QUERY, config)
    assert info.value.partial is not None and info.value.partial.thread_id == "req-f"
    assert info.value.partial.spent_this_call is None  # a first run: spent = total_cost
    large.fail_solve = False
    retried = AutoMixResult.from_message(automix.invoke(QUERY, config))
    assert retried.answer == "Paris, France"
    assert calls(small) == (1, 2) and calls(large) == (2, 0)
    # the retry paid for the large tier only (50); the small tier's answer and verification
    # (1 + 1) were paid by the first call
    assert retried.total_cost == 52.0 and retried.spent_this_call == 50.0


def test_stream_resumes_and_streams_the_final_tier() -> None:
    automix, small, large = make(InMemorySaver())
    large.crash = "solve"
    config = {"configurable": {"thread_id": "req-s"}}
    with pytest.raises(Crash):
        list(automix.stream(QUERY, config))
    large.crash = None
    chunks = list(automix.stream(QUERY, config))
    assert "".join(str(c.content) for c in chunks) == "Paris, France"
    trace = chunks[-1].response_metadata["automix"]
    assert trace["thread_id"] == "req-s" and trace["resumed"] is True
    assert calls(small) == (1, 2)
    # a finished thread streams its stored answer, calling nothing
    assert "".join(str(c.content) for c in automix.stream(QUERY, config)) == "Paris, France"
    assert calls(large) == (2, 0)


async def test_astream_resumes() -> None:
    automix, small, large = make(InMemorySaver())
    large.latency = 30.0
    config = {"configurable": {"thread_id": "req-as"}}

    async def consume() -> None:
        async for _ in automix.astream(QUERY, config):
            pass

    await _cancel_in_large_tier(consume(), large)
    large.latency = 0.0
    text = "".join([str(c.content) async for c in automix.astream(QUERY, config)])
    assert text == "Paris, France"
    assert calls(small) == (1, 2) and calls(large) == (2, 0)


def test_sqlite_url_serves_sync_and_async_on_one_database(tmp_path: Path) -> None:
    db = tmp_path / "ck.db"
    saver = checkpointer_from_url(f"sqlite:///{db}")
    assert isinstance(saver, UrlCheckpointer) and saver.backend == "sqlite"
    automix, small, large = make(saver)
    large.crash = "solve"
    config = {"configurable": {"thread_id": "req-db"}}
    with pytest.raises(Crash):
        automix.invoke(QUERY, config)  # sync saver writes
    saver.close()

    # a fresh saver (a restarted process) resumes it, through the async interface
    automix2, small2, large2 = make(checkpointer_from_url(f"sqlite:///{db}"))
    msg = asyncio.run(automix2.ainvoke(QUERY, config))
    assert msg.content == "Paris, France"
    assert calls(small2) == (0, 0) and calls(large2) == (1, 0)
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(
            "select count(*) from checkpoints where thread_id = 'req-db'"
        ).fetchone()
    assert n >= 5  # input, solve_small, self_verify, meta_decide, solve_large


def test_url_checkpointer_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="unsupported checkpoint URL"):
        checkpointer_from_url("mysql://x")
    assert "secret" not in repr(checkpointer_from_url("postgresql://u:secret@h/db"))


def test_tunable_runnable_keeps_its_checkpointer() -> None:
    from langchain_core.runnables import ConfigurableField

    automix, small, large = make(InMemorySaver())
    large.crash = "solve"
    tunable = automix.configurable_fields(threshold=ConfigurableField(id="threshold"))
    config: Any = {"configurable": {"thread_id": "req-t", "threshold": 0.7}}
    with pytest.raises(Crash):
        tunable.invoke(QUERY, config)
    large.crash = None
    assert tunable.invoke(QUERY, config).content == "Paris, France"
    assert calls(small) == (1, 2)


# --- ChatAutoMix runs durably through the same driver ---------------------------------------


def make_chat(checkpointer: Any) -> tuple[Any, CrashingModel, CrashingModel]:
    from langchain_automix import ChatAutoMix

    small = CrashingModel(answer="Paris", verdicts=[INCORRECT])
    large = CrashingModel(answer="Paris, France")
    chat = ChatAutoMix(models=[small, large], num_verifications=1, checkpointer=checkpointer)
    return chat, small, large


def test_chat_model_with_a_checkpointer_needs_no_thread_id() -> None:
    """Once raised LangGraph's "Checkpointer requires ... thread_id" error."""
    chat, small, large = make_chat(InMemorySaver())
    msg = chat.invoke("Capital of France?")
    assert msg.content == "Paris, France"
    result = AutoMixResult.from_message(msg)
    assert result.thread_id is not None and len(result.thread_id) == 32
    assert not result.resumed


@pytest.mark.parametrize("mode", ["invoke", "stream", "astream"])
def test_chat_model_retry_with_its_thread_id_resumes_without_calling_done_nodes(mode: str) -> None:
    chat, small, large = make_chat(InMemorySaver())
    config = {"configurable": {"thread_id": "chat-1"}}
    large.crash = "solve"

    def run() -> Any:
        if mode == "invoke":
            return chat.invoke("Capital of France?", config)
        if mode == "stream":
            chunks = list(chat.stream("Capital of France?", config))
        else:

            async def collect() -> list[Any]:
                return [c async for c in chat.astream("Capital of France?", config)]

            chunks = asyncio.run(collect())
        total = chunks[0]
        for c in chunks[1:]:
            total = total + c
        return total

    with pytest.raises(Crash):
        run()
    assert calls(small) == (1, 1) and calls(large) == (1, 0)
    large.crash = None
    msg = run()
    assert msg.content == "Paris, France"
    assert calls(small) == (1, 1)  # solve_small, self_verify, meta_decide were saved
    result = AutoMixResult.from_message(msg)
    assert result.thread_id == "chat-1" and result.resumed
    again = run()  # a finished thread: its answer, no model call
    assert again.content == "Paris, France"
    assert calls(small) == (1, 1) and calls(large) == (2, 0)
    replayed = asyncio.run(chat.ainvoke("Capital of France?", config))
    assert replayed.content == "Paris, France" and calls(large) == (2, 0)


def test_each_call_inside_a_parent_graph_gets_its_own_thread() -> None:
    """An agent node calling a durable AutoMix twice in one conversation thread."""
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph import END, START, MessagesState, StateGraph

    chat, small, large = make_chat(InMemorySaver())
    automix, _, _ = make(InMemorySaver())

    def node(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        question = state["messages"][-1].content
        a = chat.invoke(question, config)
        b = automix.invoke({"question": question}, config)
        return {"messages": [a, b]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", node)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "conversation"}}
    first = graph.invoke({"messages": [("user", "Capital of France?")]}, config)
    second = graph.invoke({"messages": [("user", "And of Italy?")]}, config)  # same thread
    # before: both turns ran under "conversation", and the second raised "already
    # holds another query"; now each node task (a turn here) has a thread of its own
    for i in (-2, -1):  # ChatAutoMix, then AutoMixRunnable
        turns = [AutoMixResult.from_message(out["messages"][i]) for out in (first, second)]
        assert turns[0].thread_id != turns[1].thread_id
        assert all(t.thread_id.startswith("conversation/agent:") for t in turns)
        assert turns[1].answer == "Paris, France" and not turns[1].resumed


# --- single flight: concurrent requests for one thread make one cascade (#26) ---------------


async def test_concurrent_async_requests_for_one_thread_make_one_cascade() -> None:
    automix, small, large = make(InMemorySaver())
    large.latency = 0.3  # a slow first attempt; the client retries meanwhile
    config = {"configurable": {"thread_id": "retry-1"}}
    first = asyncio.create_task(automix.ainvoke(QUERY, config))
    for _ in range(1000):  # until the first run is under way (it holds the thread's lock)
        if small.count("solve"):
            break
        await asyncio.sleep(0.005)
    second = await automix.ainvoke(QUERY, config)
    results = [AutoMixResult.from_message(m) for m in (await first, second)]
    assert calls(small) == (1, 2) and calls(large) == (1, 0)  # once, not twice
    assert [r.answer for r in results] == ["Paris, France"] * 2
    assert not results[0].resumed and results[1].resumed and results[1].spent_this_call == 0.0


def test_concurrent_threads_for_one_thread_id_make_one_cascade() -> None:
    from concurrent.futures import ThreadPoolExecutor

    automix, small, large = make(InMemorySaver())
    large.latency = 0.2
    config = {"configurable": {"thread_id": "retry-2"}}
    with ThreadPoolExecutor(4) as pool:
        msgs = list(pool.map(lambda _: automix.invoke(QUERY, config), range(4)))
    assert {m.content for m in msgs} == {"Paris, France"}
    assert calls(small) == (1, 2) and calls(large) == (1, 0)
    assert sum(AutoMixResult.from_message(m).resumed for m in msgs) == 3


def test_other_threads_run_side_by_side_and_locks_are_dropped() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from langchain_automix.runtime import durable

    automix, small, large = make(InMemorySaver())
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: automix.invoke(QUERY, {"configurable": {"thread_id": f"t{i}"}}), range(4)
            )
        )
    assert calls(large) == (4, 0)  # four threads, four cascades
    assert len(durable._LOCAL) == 0  # no lock kept for threads nobody runs


def test_an_async_sqlite_run_lets_the_process_exit(tmp_path: Path) -> None:
    """aiosqlite >= 0.22 runs each connection on a non-daemon thread: a connection left
    open after ``asyncio.run`` kept the interpreter from exiting (a served worker, a
    script). Each run's lease closes it when the last run of the loop ends."""
    code = f"""
import asyncio
from langchain_automix import AutoMixRunnable
from langchain_automix.runtime.durable import checkpointer_from_url
from tests.unit_tests.fake_models import CORRECT, ScriptedChatModel
automix = AutoMixRunnable(models=[ScriptedChatModel(verdicts=[CORRECT]), ScriptedChatModel()],
                          num_verifications=1,
                          checkpointer=checkpointer_from_url("sqlite:///{tmp_path / "c.db"}"))
async def main():
    config = {{"configurable": {{"thread_id": "t"}}}}
    await asyncio.gather(automix.ainvoke("Q?", config), automix.ainvoke("Q2?"))
    print((await automix.ainvoke("Q?", config)).content)
asyncio.run(main())
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Paris"


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ``aiosqlite`` connection the test opens, to check each one is closed."""
    import aiosqlite

    connections: list[Any] = []
    real_connect = aiosqlite.connect

    def counting_connect(*args: Any, **kwargs: Any) -> Any:
        connections.append(real_connect(*args, **kwargs))
        return connections[-1]

    monkeypatch.setattr(aiosqlite, "connect", counting_connect)
    return connections


async def test_concurrent_first_runs_of_a_loop_open_one_sqlite_connection(
    tmp_path: Path, opened: list[Any]
) -> None:
    """Concurrent first runs each opened a connection and ran the schema setup side by
    side on a fresh file; now and then they took each other's locks ("database is
    locked" after the 30 s busy timeout, and the loser's worker thread then kept the
    process from exiting: the CI hang of ``test_an_async_sqlite_run_lets_the_process_exit``).
    """
    automix, small, _ = make(checkpointer_from_url(f"sqlite:///{tmp_path / 'c.db'}"), [CORRECT])
    queries = [automix.ainvoke(QUERY, {"configurable": {"thread_id": f"t{i}"}}) for i in range(4)]
    answers = await asyncio.gather(*queries)
    assert [a.content for a in answers] == ["Paris"] * 4
    assert len(opened) == 1  # the four runs shared one connection (four before)
    opened[0]._thread.join(timeout=10)  # the last run out closed it: its thread ends
    assert not opened[0]._thread.is_alive()


async def test_a_failed_sqlite_setup_closes_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[Any]
) -> None:
    """A connection whose schema setup fails is closed, not left to keep the process alive."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async def locked_setup(self: Any) -> None:
        await self.conn  # connected (its worker thread running), then the setup fails
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(AsyncSqliteSaver, "setup", locked_setup)
    automix, small, _ = make(checkpointer_from_url(f"sqlite:///{tmp_path / 'c.db'}"), [CORRECT])
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await automix.ainvoke(QUERY, {"configurable": {"thread_id": "t"}})
    assert len(opened) == 1
    opened[0]._thread.join(timeout=10)
    assert not opened[0]._thread.is_alive()
    assert calls(small) == (0, 0)  # nothing was asked before the database was open


async def test_processes_take_turns_creating_the_checkpoint_tables(tmp_path: Path) -> None:
    """Another process creating the tables (holding ``<db>.setup.lock``) is waited for:
    setups run side by side in several processes now and then failed with "database
    is locked" (1 of 60 processes, four at a time on fresh files)."""
    import fcntl

    db = tmp_path / "c.db"
    automix, small, _ = make(checkpointer_from_url(f"sqlite:///{db}"), [CORRECT])
    other = os.open(f"{db}.setup.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # "another process" is setting the database up
    try:
        run = asyncio.ensure_future(automix.ainvoke(QUERY, {"configurable": {"thread_id": "t"}}))
        await asyncio.sleep(0.3)
        assert not run.done() and calls(small) == (0, 0)
    finally:
        os.close(other)
    assert (await run).content == "Paris"
    sync_automix, _, _ = make(checkpointer_from_url(f"sqlite:///{db}"), [CORRECT])
    other = os.open(f"{db}.setup.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        loop = asyncio.get_running_loop()
        sync_run = loop.run_in_executor(
            None, lambda: sync_automix.invoke(QUERY, {"configurable": {"thread_id": "u"}})
        )
        await asyncio.sleep(0.3)
        assert not sync_run.done()
    finally:
        os.close(other)
    assert (await sync_run).content == "Paris"


async def test_async_calls_outside_a_run_close_what_they_open(
    tmp_path: Path, opened: list[Any]
) -> None:
    """``graph.aget_state`` or ``alist`` from user code, outside any run: the SQLite
    connection they open is closed again (left open, its thread kept ``asyncio.run``'s
    process from exiting)."""
    saver = checkpointer_from_url(f"sqlite:///{tmp_path / 'c.db'}")
    automix, _, _ = make(saver, [CORRECT])
    config = {"configurable": {"thread_id": "t"}}
    await automix.ainvoke(QUERY, config)
    snapshot = await automix.graph.aget_state(config)
    assert snapshot.values["question"] == QUERY["question"]
    assert len([c async for c in saver.alist(config)]) > 1
    for conn in opened:
        conn._thread.join(timeout=10)
        assert not conn._thread.is_alive()


async def test_an_in_memory_url_keeps_threads_across_async_and_sync_calls() -> None:
    """``sqlite:///:memory:``: a finished thread replays, whichever kind of call asks.
    Each async run used to open (and close) an in-memory database of its own, and the
    sync one was another: the same thread ran its models again every time."""
    automix, small, _ = make(checkpointer_from_url("sqlite:///:memory:"), [CORRECT])
    config = {"configurable": {"thread_id": "t"}}
    first = await automix.ainvoke(QUERY, config)
    again = await automix.ainvoke(QUERY, config)
    sync = automix.invoke(QUERY, config)
    assert [m.content for m in (first, again, sync)] == ["Paris"] * 3
    assert calls(small) == (1, 2)  # one answer, its k = 2 verifications, once
    assert again.response_metadata["automix"]["resumed"] is True
    assert sync.response_metadata["automix"]["spent_this_call"] == 0.0


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_batch_giving_one_thread_id_to_two_questions_fails_before_any_call(
    use_async: bool,
) -> None:
    automix, small, large = make(InMemorySaver(), [CORRECT])
    shared = {"configurable": {"thread_id": "x"}}
    for config in (shared, [shared, {"configurable": {"thread_id": "x"}}]):
        with pytest.raises(AutoMixInputError, match=r"inputs\[1\]\.thread_id: thread id 'x'"):
            if use_async:
                await automix.abatch(["Q1?", "Q2?"], config)
            else:
                automix.batch(["Q1?", "Q2?"], config)
    assert calls(small) == (0, 0) and calls(large) == (0, 0)
    # one thread id per input, or the same question twice (the second replays): fine
    ok = [{"configurable": {"thread_id": "a"}}, {"configurable": {"thread_id": "b"}}]
    assert len(automix.batch(["Q1?", "Q2?"], ok)) == 2
    assert len(automix.batch(["Q3?", "Q3?"], {"configurable": {"thread_id": "c"}})) == 2


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_chat_batch_giving_one_thread_id_to_two_conversations_fails_first(
    use_async: bool,
) -> None:
    from langchain_automix import ChatAutoMix

    small, large = ScriptedChatModel(verdicts=[CORRECT]), ScriptedChatModel()
    chat = ChatAutoMix(models=[small, large], num_verifications=1, checkpointer=InMemorySaver())
    shared = {"configurable": {"thread_id": "x"}}
    with pytest.raises(AutoMixInputError, match=r"inputs\[1\]\.thread_id"):
        if use_async:
            await chat.abatch(["Capital of France?", "Capital of Spain?"], shared)
        else:
            chat.batch(["Capital of France?", "Capital of Spain?"], shared)
    assert small.count("solve") == 0 and large.count("solve") == 0


def test_a_users_saver_reads_the_automix_state_back_under_strict_msgpack() -> None:
    """LangGraph's serializer warns today, and will refuse in a later version
    (``LANGGRAPH_STRICT_MSGPACK=true`` now), to read back a type outside its allowlist.
    A saver the user builds (not :func:`checkpointer_from_url`) gets the AutoMix state's
    types added to its allowlist, so a durable run resumes and replays in strict mode,
    for ``AutoMixRunnable`` and ``ChatAutoMix`` alike, with no refusal logged."""
    code = """
import logging
from langgraph.checkpoint.memory import InMemorySaver
from langchain_automix import AutoMixRunnable, ChatAutoMix
from tests.unit_tests.fake_models import INCORRECT, ScriptedChatModel
logging.basicConfig(level=logging.WARNING)
def models():
    return [ScriptedChatModel(answer="Paris", verdicts=[INCORRECT]),
            ScriptedChatModel(answer="Paris, France")]
config = {"configurable": {"thread_id": "t"}}
for automix, query in ((AutoMixRunnable(models=models(), num_verifications=2,
                                        checkpointer=InMemorySaver()), {"question": "Q?"}),
                       (ChatAutoMix(models=models(), num_verifications=2,
                                    checkpointer=InMemorySaver()), "Q?")):
    first = automix.invoke(query, config)
    again = automix.invoke(query, config)  # replayed from the saved state
    graph = automix.graph if isinstance(automix, AutoMixRunnable) else automix.automix.graph
    attempts = graph.get_state(config).values["attempts"]
    trace = again.response_metadata["automix"]
    print(first.content, again.content, type(attempts[0]).__name__, len(attempts),
          trace.get("resumed"))
"""
    done = run_python(code, LANGGRAPH_STRICT_MSGPACK="true")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["Paris, France Paris, France TierAttempt 2 True"] * 2
    assert "TierAttempt" not in done.stderr, done.stderr  # neither refused nor warned about
