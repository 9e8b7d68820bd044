"""Durable execution: checkpoint each node of the AutoMix graph, resume interrupted queries.

``AutoMixRunnable(models=..., checkpointer=saver)`` checkpoints the state after every
node (``solve_small``, ``self_verify``, ``meta_decide``, ``solve_large``) under the
query's thread id; a query whose process died mid-way resumes, when invoked again
with the same ``thread_id``, at the node that did not finish: the models of the nodes
already done are not called again. Any LangGraph ``BaseCheckpointSaver`` works
(``InMemorySaver`` in one process; SQLite or Postgres to survive a restart).

:func:`checkpointer_from_url` opens a SQLite file or a Postgres database from a URL
(``sqlite:///path.db``, ``postgresql://user:pass@host/db``) as one saver that serves
both sync (``invoke``) and async (``ainvoke``, the HTTP server) calls, each opened on
first use. It needs the ``[durable]`` extra (``langgraph-checkpoint-sqlite``,
``langgraph-checkpoint-postgres``, ``psycopg``).

Example:
    >>> saver = checkpointer_from_url("sqlite:///:memory:")
    >>> saver.backend
    'sqlite'
    >>> checkpointer_from_url("redis://localhost")
    Traceback (most recent call last):
    ...
    ValueError: unsupported checkpoint URL scheme 'redis' (use sqlite:///PATH or postgresql://...)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langchain_automix.errors import AutoMixInputError

__all__ = [
    "SERDE_ALLOWLIST",
    "asingle_flight",
    "check_batch_threads",
    "single_flight",
    "DurablePlan",
    "UrlCheckpointer",
    "checkpointer_from_url",
    "durable_serde",
    "plan_run",
    "thread_config",
]

SERDE_ALLOWLIST: tuple[tuple[str, str], ...] = (
    ("langchain_automix.runtime.result", "TierAttempt"),
)
"""Types of the AutoMix state that checkpoints may deserialize (LangGraph's msgpack
allowlist): the graph state holds :class:`~langchain_automix.runtime.result.TierAttempt` objects."""


def durable_serde() -> JsonPlusSerializer:
    """LangGraph's serializer, allowed to read back the AutoMix state's own types."""
    return JsonPlusSerializer(allowed_msgpack_modules=list(SERDE_ALLOWLIST))


def _sqlite_path(url: str) -> str:
    path = url[len("sqlite://") :]
    if path.startswith("/"):
        path = path[1:]  # sqlite:///rel.db -> rel.db; sqlite:////abs.db -> /abs.db
    if not path:
        raise ValueError("sqlite checkpoint URL needs a path: sqlite:///PATH (or :memory:)")
    return path


def _backend(url: str) -> str:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgres", "postgresql"):
        return "postgres"
    raise ValueError(
        f"unsupported checkpoint URL scheme {scheme!r} (use sqlite:///PATH or postgresql://...)"
    )


def _missing(backend: str, exc: ImportError) -> ImportError:
    package = (
        "langgraph-checkpoint-sqlite" if backend == "sqlite" else "langgraph-checkpoint-postgres"
    )
    return ImportError(
        f"a {backend} checkpointer needs pip install 'langchain-automix[durable]' "
        f"({package}): {exc}"
    )


_PG_CONN_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}


_PG_SETUP_LOCK = (0x41754D78, 0)
"""The Postgres advisory lock (two-int form: a space apart from the one-bigint thread
locks of :class:`_ProcessLock`) held while one process creates or migrates the tables."""


@contextlib.contextmanager
def _schema_lock(url: str, backend: str, path: str) -> Iterator[None]:
    """Hold the database's setup lock while this process creates the checkpoint tables.

    Processes that open a fresh database at the same moment (server workers, replicas,
    a script beside a server) each ran LangGraph's setup at once: on SQLite now and then
    "database is locked" (1 of 60 processes, four at a time), on Postgres a duplicate
    key in ``checkpoint_migrations`` or ``pg_type`` (7 of 24). Taking turns, the later
    ones find the tables made. SQLite: ``flock`` on ``<database>.setup.lock``; Postgres:
    an advisory lock (:data:`_PG_SETUP_LOCK`), polled, on a connection of its own.
    """
    if backend == "sqlite":
        import fcntl

        fd = os.open(f"{path}.setup.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # drops the lock
        return
    import psycopg

    with psycopg.connect(url, **_PG_CONN_KWARGS) as conn:
        # polled, not a blocking pg_advisory_lock: a session waiting inside a query holds
        # a transaction, and the setup's CREATE INDEX CONCURRENTLY waits for every open
        # transaction to end (a blocking wait deadlocked four processes in four of six
        # rounds)
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", _PG_SETUP_LOCK).fetchone()
            if row and row[0]:
                break
            time.sleep(_POLL_S)
        yield  # closing the session drops the lock


@contextlib.asynccontextmanager
async def _aschema_lock(url: str, backend: str, path: str) -> AsyncIterator[None]:
    """Async twin of :func:`_schema_lock` (waits without blocking the event loop)."""
    if backend == "sqlite":
        import fcntl

        fd = os.open(f"{path}.setup.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(_POLL_S)
            yield
        finally:
            os.close(fd)
        return
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, **_PG_CONN_KWARGS) as conn:
        while True:
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", _PG_SETUP_LOCK)
            row = await cur.fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(_POLL_S)
        yield


class UrlCheckpointer(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on a SQLite file or a Postgres database, sync and async.

    LangGraph's SQLite and Postgres savers come in a sync and an async flavour, each
    serving only its own kind of call. This saver opens the sync one on the first sync
    call and an async one per event loop on the first async call, all on the same
    database, so ``invoke`` and ``ainvoke`` (and several processes, e.g. server workers)
    see the same checkpoints. Use :func:`checkpointer_from_url` to make one.

    Args:
        url: ``sqlite:///PATH`` (``sqlite:///:memory:`` for a private one in this process,
            kept by LangGraph's ``InMemorySaver`` and shared by sync and async calls) or
            ``postgresql://user:password@host:port/dbname``.
        pool_size: Postgres connections per pool (one sync pool, one per event loop).
    """

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        super().__init__(serde=durable_serde())
        self.url = url
        self.backend = _backend(url)
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._sync: BaseCheckpointSaver[str] | None = None
        self._sync_closers: list[Any] = []
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = (
            weakref.WeakKeyDictionary()
        )
        self._opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._opening_guard = threading.Lock()
        self._memory: BaseCheckpointSaver[str] | None = None
        if self.backend == "sqlite":
            self._path = _sqlite_path(url)
            if self._path == ":memory:":
                # one in-process saver for sync and async calls alike: an in-memory SQLite
                # database lives only as long as its connection, so a per-loop async
                # connection closed after each run (and the sync one beside it) each saw
                # a database of their own, and a finished thread ran again
                from langgraph.checkpoint.memory import InMemorySaver

                self._memory = InMemorySaver(serde=self.serde)

    def __repr__(self) -> str:
        return f"UrlCheckpointer({_redacted(self.url)!r})"

    # --- opening -------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the checkpoint tables now (else done on first use); idempotent."""
        self._sync_saver()

    def _pool_args(self) -> dict[str, Any]:
        """The arguments of a Postgres connection pool (sync or async) but its URL."""
        from psycopg.rows import dict_row

        return {
            "min_size": 1,
            "max_size": self.pool_size,
            "kwargs": {**_PG_CONN_KWARGS, "row_factory": dict_row},
        }

    def _schema_lock(self) -> contextlib.AbstractContextManager[None]:
        return _schema_lock(self.url, self.backend, getattr(self, "_path", ""))

    def _aschema_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        return _aschema_lock(self.url, self.backend, getattr(self, "_path", ""))

    def _sync_saver(self) -> BaseCheckpointSaver[str]:
        if self._memory is not None:
            return self._memory
        with self._lock:
            if self._sync is None:
                self._sync = self._open_sync()
            return self._sync

    def _open_sync(self) -> BaseCheckpointSaver[str]:
        if self.backend == "sqlite":
            import sqlite3

            try:
                from langgraph.checkpoint.sqlite import SqliteSaver
            except ImportError as exc:
                raise _missing("sqlite", exc) from exc
            conn = sqlite3.connect(self._path, check_same_thread=False, timeout=30.0)
            saver: BaseCheckpointSaver[str] = SqliteSaver(conn, serde=self.serde)
            try:
                with self._schema_lock():
                    saver.setup()  # type: ignore[attr-defined]
            except BaseException:
                conn.close()
                raise
            self._sync_closers.append(conn.close)
            return saver
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise _missing("postgres", exc) from exc
        pool: Any = ConnectionPool(self.url, open=True, **self._pool_args())
        pg = PostgresSaver(pool, serde=self.serde)
        try:
            with self._schema_lock():
                pg.setup()
        except BaseException:
            pool.close()
            raise
        self._sync_closers.append(pool.close)
        return pg

    async def _async_saver(self) -> Any:
        if self._memory is not None:
            return self._memory
        loop = asyncio.get_running_loop()
        saver = self._async.get(loop)
        if saver is not None:
            return saver
        # one opening per loop at a time: concurrent first runs each opened a connection
        # and ran the schema setup side by side, and now and then took each other's
        # SQLite locks ("database is locked"; the failed connection's thread then kept
        # the process alive). Across processes, :func:`_aschema_lock` takes turns.
        with self._opening_guard:  # not self._lock: a sync open holds it through its setup
            opening = self._opening.setdefault(loop, asyncio.Lock())
        async with opening:
            saver = self._async.get(loop)
            if saver is None:
                saver = await self._open_async()
                self._async[loop] = saver
            return saver

    async def _open_async(self) -> Any:
        if self.backend == "sqlite":
            try:
                import aiosqlite
                from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
            except ImportError as exc:
                raise _missing("sqlite", exc) from exc
            conn = aiosqlite.connect(self._path, timeout=30.0)
            saver: Any = AsyncSqliteSaver(conn, serde=self.serde)
            try:
                async with self._aschema_lock():
                    await saver.setup()
            except BaseException:
                await conn.close()  # its worker thread would keep the process alive
                raise
            return saver
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
            from psycopg_pool import AsyncConnectionPool
        except ImportError as exc:
            raise _missing("postgres", exc) from exc
        pool: Any = AsyncConnectionPool(self.url, open=False, **self._pool_args())
        await pool.open()
        pg = AsyncPostgresSaver(pool, serde=self.serde)
        try:
            async with self._aschema_lock():
                await pg.setup()
        except BaseException:
            await pool.close()
            raise
        return pg

    @contextlib.asynccontextmanager
    async def alease(self) -> AsyncIterator[None]:
        """Hold this event loop's async connection for one run; the last run out closes it.

        A SQLite connection (``aiosqlite`` >= 0.22) runs a worker thread that is not a
        daemon: left open, it keeps the process from exiting after ``asyncio.run``. So
        the async runs of a loop share one connection while any of them is in flight,
        and it is closed when the last one ends (reopened by the next; a Postgres pool
        is kept for the loop's life, it holds no thread). Every async call of the saver
        holds one too, so a call made outside a run (``graph.aget_state(...)`` from user
        code) closes what it opened: it used to leave the process unable to exit.
        """
        loop = asyncio.get_running_loop()
        self._leases[loop] = self._leases.get(loop, 0) + 1
        try:
            yield
        finally:
            left = self._leases.get(loop, 1) - 1
            if left > 0:
                self._leases[loop] = left
            else:
                self._leases.pop(loop, None)
                if self.backend == "sqlite":
                    await self.aclose()

    def close(self) -> None:
        """Close the sync connections (async ones: :meth:`aclose`, or each run's lease)."""
        with self._lock:
            for close in reversed(self._sync_closers):
                close()
            self._sync_closers.clear()
            self._sync = None

    async def aclose(self) -> None:
        """Close the connections opened for the running event loop."""
        saver = self._async.pop(asyncio.get_running_loop(), None)
        if saver is None:
            return
        conn = saver.conn
        await conn.close()

    def with_allowlist(self, extra_allowlist: Any) -> UrlCheckpointer:
        """This saver: its serializer already allows the AutoMix state's types."""
        return self

    # --- sync ----------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """See ``BaseCheckpointSaver.get_tuple``."""
        return self._sync_saver().get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """See ``BaseCheckpointSaver.list``."""
        return self._sync_saver().list(config, filter=filter, before=before, limit=limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """See ``BaseCheckpointSaver.put``."""
        return self._sync_saver().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """See ``BaseCheckpointSaver.put_writes``."""
        self._sync_saver().put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """See ``BaseCheckpointSaver.delete_thread``."""
        self._sync_saver().delete_thread(thread_id)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        """See ``BaseCheckpointSaver.get_delta_channel_history``."""
        return self._sync_saver().get_delta_channel_history(config=config, channels=channels)

    # --- async ---------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """See ``BaseCheckpointSaver.aget_tuple``."""
        async with self.alease():
            return await (await self._async_saver()).aget_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """See ``BaseCheckpointSaver.alist``."""
        async with self.alease():
            saver = await self._async_saver()
            async for item in saver.alist(config, filter=filter, before=before, limit=limit):
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """See ``BaseCheckpointSaver.aput``."""
        async with self.alease():
            saver = await self._async_saver()
            return await saver.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """See ``BaseCheckpointSaver.aput_writes``."""
        async with self.alease():
            await (await self._async_saver()).aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """See ``BaseCheckpointSaver.adelete_thread``."""
        async with self.alease():
            await (await self._async_saver()).adelete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        """See ``BaseCheckpointSaver.aget_delta_channel_history``."""
        async with self.alease():
            saver = await self._async_saver()
            return await saver.aget_delta_channel_history(config=config, channels=channels)

    def get_next_version(self, current: str | None, channel: None) -> str:
        """String versions, as both the SQLite and the Postgres savers write them."""
        if current is None:
            n = 0
        elif isinstance(current, int):
            n = current
        else:
            n = int(current.split(".")[0])
        return f"{n + 1:032}.{random.random():016}"  # noqa: S311 - not a secret


def _redacted(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def checkpointer_from_url(url: str, *, pool_size: int = 4) -> UrlCheckpointer:
    """A checkpointer on ``sqlite:///PATH`` or ``postgresql://...``, for sync and async use.

    Nothing is opened before first use (:meth:`UrlCheckpointer.setup` opens it now).

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite:///:memory:``,
            or a libpq URL ``postgresql://user:password@host:port/dbname``.
        pool_size: Postgres connections per pool.

    Raises:
        ValueError: for another URL scheme.
    """
    return UrlCheckpointer(url, pool_size=pool_size)


# --- threads: which run a thread id names, and how to continue it --------------------------

_PARENT_KEYS = ("checkpoint_ns", "checkpoint_map")


def thread_config(config: RunnableConfig) -> tuple[RunnableConfig, str]:
    """The config of a durable run and its thread id (the request id of the query).

    The thread id is ``config["configurable"]["thread_id"]`` when given, else a new
    random one. Keys a parent LangGraph graph sets for its subgraphs are dropped: a
    runnable with its own checkpointer runs its own root graph. Called from inside a
    node of a parent graph (an agent calling ``ChatAutoMix``), the thread id is the
    parent's thread id and the node's task namespace: each call gets a thread of its
    own, and the same one when the parent resumes that task.

    Example:
        >>> cfg, tid = thread_config({"configurable": {"thread_id": "req-1"}})
        >>> tid, cfg["configurable"]
        ('req-1', {'thread_id': 'req-1'})
        >>> thread_config({"configurable": {"thread_id": "chat", "checkpoint_ns": "agent:7"}})[1]
        'chat/agent:7'
        >>> len(thread_config({})[1])
        32
    """
    given = config.get("configurable") or {}
    conf = {
        k: v for k, v in given.items() if not k.startswith("__pregel_") and k not in _PARENT_KEYS
    }
    thread_id = str(conf.get("thread_id") or uuid.uuid4().hex)
    if given.get("checkpoint_ns"):
        thread_id = f"{thread_id}/{given['checkpoint_ns']}"
    conf["thread_id"] = thread_id
    out: RunnableConfig = {**config, "configurable": conf}
    return out, thread_id


def check_batch_threads(
    queries: Sequence[Any], config: RunnableConfig | Sequence[RunnableConfig] | None
) -> None:
    """Refuse a batch whose configs give one thread id to two different queries.

    A thread names one query, so the second would fail (``AutoMixInputError``) only
    after the first had run and been paid for. ``queries`` are the batch's inputs in a
    comparable form; ``config`` is one config for all or one per input.

    Example:
        >>> check_batch_threads(["a", "a"], {"configurable": {"thread_id": "t"}})
        >>> try:
        ...     check_batch_threads(["a", "b"], {"configurable": {"thread_id": "t"}})
        ... except AutoMixInputError as exc:
        ...     print(exc.field)
        inputs[1].thread_id
    """
    configs = config if isinstance(config, Sequence) else [config] * len(queries)
    first: dict[str, int] = {}
    for i, (query, cfg) in enumerate(zip(queries, configs, strict=False)):
        thread_id = ((cfg or {}).get("configurable") or {}).get("thread_id")
        if thread_id is None:
            continue
        j = first.setdefault(str(thread_id), i)
        if j != i and queries[j] != query:
            raise AutoMixInputError(
                f"inputs[{i}].thread_id",
                f"thread id {str(thread_id)!r} is also given to inputs[{j}], another query; "
                "a thread id names one query: give each input its own config (a list) or "
                "none (each query then gets a new thread id)",
            )


@dataclass(frozen=True)
class DurablePlan:
    """How a durable query goes on, from its thread's last checkpoint."""

    input: Any
    """The graph's input: the query for a new run, None to resume a stopped one."""
    resumed: bool
    """True when the thread already holds part (or all) of this query's run."""
    done: dict[str, Any] | None = None
    """The final state of a thread whose run finished (nothing left to call)."""


def plan_run(snapshot: Any, state: Mapping[str, Any], thread_id: str) -> DurablePlan:
    """Start, resume or replay the run of ``thread_id`` (``snapshot``: its ``get_state``).

    * no checkpoint: a new run with ``state`` as input;
    * a run stopped before its end (a crash, a failed final tier): resume it at the node
      that did not finish, calling no model of the nodes already done;
    * a finished run: its final state, calling no model at all (a retried request gets
      the answer it would have got).

    Raises:
        AutoMixInputError: when the thread holds another question or context.

    Example:
        >>> from types import SimpleNamespace
        >>> q = {"question": "Who?", "context": None}
        >>> plan_run(SimpleNamespace(values={}, next=()), q, "t").input == q
        True
        >>> plan_run(SimpleNamespace(values=dict(q), next=("meta_decide",)), q, "t")
        DurablePlan(input=None, resumed=True, done=None)
    """
    values = dict(getattr(snapshot, "values", None) or {})
    if not values:
        return DurablePlan(input=dict(state), resumed=False)
    if (values.get("question"), values.get("context")) != (
        state.get("question"),
        state.get("context"),
    ):
        raise AutoMixInputError(
            "thread_id",
            f"{thread_id!r} already holds another query; a thread id names one query "
            "(use a new thread id for a new question)",
        )
    if getattr(snapshot, "next", ()):
        return DurablePlan(input=None, resumed=True)
    return DurablePlan(input=None, resumed=True, done=values)


# --- single flight: one run per thread at a time ------------------------------------------

_POLL_S = 0.02
"""How often a waiting request retries a lock held by another run of its thread."""


class _LocalLocks:
    """One lock per (saver, thread) in this process, dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    def enter(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
            return lock

    def leave(self, key: tuple[str, str]) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


_LOCAL = _LocalLocks()


def _key(checkpointer: Any, thread_id: str) -> tuple[str, str]:
    url = getattr(checkpointer, "url", None)
    return (f"url:{url}" if isinstance(url, str) else f"id:{id(checkpointer)}", thread_id)


def _lock_number(thread_id: str) -> int:
    """A signed 64-bit number for the thread (Postgres advisory locks, lock-file bytes)."""
    return int.from_bytes(hashlib.sha256(thread_id.encode()).digest()[:8], "big", signed=True)


class _ProcessLock:
    """The cross-process half of a thread's lock, on the checkpointer's own database.

    SQLite: a byte-range lock (``fcntl.lockf``) in ``<database>.threads.lock``, one byte
    per thread hash (the processes that share a SQLite file share a host). Postgres: a
    session advisory lock (``pg_try_advisory_lock``) on a connection of its own, held for
    the run and dropped with it. Other savers (``InMemorySaver``): none, one process is
    all there is.
    """

    def __init__(self, checkpointer: Any, thread_id: str) -> None:
        self.backend = getattr(checkpointer, "backend", None)
        self.number = _lock_number(thread_id)
        self.url = str(getattr(checkpointer, "url", ""))
        self.path = str(getattr(checkpointer, "_path", ":memory:"))
        self._fd: int | None = None
        self._conn: Any = None
        self._aconn: Any = None

    @property
    def needed(self) -> bool:
        if self.backend == "sqlite":
            return self.path != ":memory:"
        return self.backend == "postgres"

    def _try_file(self) -> bool:
        import fcntl

        if self._fd is None:
            self._fd = os.open(f"{self.path}.threads.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self.number % (1 << 40))
        except OSError:
            return False
        return True

    def try_acquire(self) -> bool:
        if self.backend == "sqlite":
            return self._try_file()
        import psycopg

        if self._conn is None:
            self._conn = psycopg.connect(self.url, autocommit=True)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.number,)).fetchone()
        return bool(row and row[0])

    async def atry_acquire(self) -> bool:
        if self.backend == "sqlite":
            return self._try_file()  # non-blocking: no thread hop needed
        import psycopg

        if self._aconn is None:
            self._aconn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        cur = await self._aconn.execute("SELECT pg_try_advisory_lock(%s)", (self.number,))
        row = await cur.fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops its byte-range lock
            self._fd = None
        if self._conn is not None:
            self._conn.close()  # a closed session drops its advisory locks
            self._conn = None

    async def arelease(self) -> None:
        if self._aconn is not None:
            await self._aconn.close()
            self._aconn = None
        self.release()


@contextlib.contextmanager
def single_flight(checkpointer: Any, thread_id: str) -> Iterator[None]:
    """Hold ``thread_id``'s run lock: one run of a thread at a time, on every worker.

    A second request for a thread whose run is in progress (a client retrying a slow
    first attempt) waits here; it then finds the run finished and replays it, calling
    no model. In one process a lock per thread; across processes the checkpointer's own
    database (see :class:`_ProcessLock`).

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> saver = InMemorySaver()
        >>> with single_flight(saver, "t1"):
        ...     len(_LOCAL)  # the thread's lock, held
        1
        >>> len(_LOCAL)  # and gone once nobody holds or waits for it
        0
    """
    key = _key(checkpointer, thread_id)
    local = _LOCAL.enter(key)
    try:
        local.acquire()
        process = _ProcessLock(checkpointer, thread_id)
        try:
            if process.needed:
                while not process.try_acquire():
                    time.sleep(_POLL_S)
            yield
        finally:
            process.release()
            local.release()
    finally:
        _LOCAL.leave(key)


@contextlib.asynccontextmanager
async def asingle_flight(checkpointer: Any, thread_id: str) -> AsyncIterator[None]:
    """Async twin of :func:`single_flight` (waits without blocking the event loop)."""
    key = _key(checkpointer, thread_id)
    local = _LOCAL.enter(key)
    lease = (
        checkpointer.alease()
        if isinstance(checkpointer, UrlCheckpointer)
        else contextlib.nullcontext()
    )
    try:
        async with lease:
            while not local.acquire(blocking=False):
                await asyncio.sleep(_POLL_S)
            process = _ProcessLock(checkpointer, thread_id)
            try:
                if process.needed:
                    while not await process.atry_acquire():
                        await asyncio.sleep(_POLL_S)
                yield
            finally:
                await process.arelease()
                local.release()
    finally:
        _LOCAL.leave(key)
