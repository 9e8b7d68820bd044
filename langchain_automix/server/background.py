"""Run an ASGI app under uvicorn in a background thread (tests, notebooks, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    **uvicorn_options: Any,
) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server until the block ends; yield its base URL.

    The socket is bound before the server starts (``port=0`` picks a free port),
    so there is no race for the port. On exit the server shuts down gracefully
    and the thread is joined.

    Args:
        app: the ASGI app, e.g. from :func:`~langchain_automix.server.create_app`.
        host: address to bind (loopback by default).
        port: port to bind; 0 picks a free one.
        startup_timeout: seconds to wait for the server to start.
        **uvicorn_options: passed to ``uvicorn.Config`` (``log_config``, ``access_log``...).

    Example:
        >>> from starlette.applications import Starlette
        >>> with serve_in_thread(Starlette()) as url:  # doctest: +ELLIPSIS
        ...     url
        'http://127.0.0.1:...'
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on"}
    options.update(uvicorn_options)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="automix-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn exited during startup (see its log)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not start within {startup_timeout} s")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
