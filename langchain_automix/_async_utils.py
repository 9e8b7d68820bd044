"""Async helpers: iterate a stream so that cancelling its consumer really stops it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

__all__ = ["cancellable_stream"]

T = TypeVar("T")

_DONE = object()
_RUNNING: set[asyncio.Task[None]] = set()
"""Pump tasks still cleaning up after their consumer left (kept alive until done)."""


async def cancellable_stream(source: AsyncIterator[T]) -> AsyncIterator[T]:
    """Iterate ``source`` in a task of its own; closing or cancelling the consumer stops it.

    Servers built on anyio (Starlette, sse-starlette, hence FastAPI and LangServe)
    cancel a streaming response whose client disconnected through a cancel scope,
    which cancels *every* ``await`` of the task again until it leaves the scope. A
    LangGraph stream that receives such a cancellation cannot finish its own
    cleanup (cancelling its running nodes), so the model calls of the graph went
    on generating for nobody. Here ``source`` runs in a separate task that the
    consumer cancels exactly once when it stops early (cancelled, closed or
    failed): that task closes ``source``, whose cleanup cancels the in-flight model
    calls. One item is read ahead at most.

    Example:
        >>> async def numbers():
        ...     for i in range(3):
        ...         yield i
        >>> async def first_two():
        ...     out = []
        ...     async for i in cancellable_stream(numbers()):
        ...         out.append(i)
        ...         if len(out) == 2:
        ...             break
        ...     return out
        >>> asyncio.run(first_two())
        [0, 1]
    """
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue(maxsize=1)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put((item, None))
        except Exception as exc:
            await queue.put((_DONE, exc))
            return
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()  # on cancellation: the graph cancels its running nodes
        await queue.put((_DONE, None))

    task = asyncio.create_task(pump())
    try:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        if not task.done():
            task.cancel()
            _RUNNING.add(task)
            task.add_done_callback(_RUNNING.discard)
            # Wait for the cleanup unless this task is cancelled again (anyio re-cancels
            # every await): the pump then finishes on its own.
            with contextlib.suppress(BaseException):
                await asyncio.shield(task)
