"""``automix serve`` in a process of its own for integration tests: started, healthy, stopped.

Standard library and httpx only. The server runs in its own session so that stopping it
also stops its uvicorn workers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port nothing listens on now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[Any], what: str, timeout: float = 90) -> None:
    """Poll ``url`` until it answers 200; fail if ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} not ready in {timeout:g} s"
        time.sleep(0.3)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group, SIGKILL it after 20 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def automix_serve(args: Sequence[str], **popen: Any) -> Iterator[str]:
    """Run ``automix serve ARGS --port <free>`` until the block ends; yield its URL.

    No API key and no inherited ``$PROMETHEUS_MULTIPROC_DIR`` (each server its own).
    """
    port = free_port()
    skip = ("AUTOMIX_API_KEY", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    proc = subprocess.Popen(
        [sys.executable, "-m", "langchain_automix.cli.main", "serve", *args,
         "--port", str(port), "--log-level", "warning"],
        env=env, start_new_session=True, **popen,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/health", proc, "automix serve")
        yield url
    finally:
        stop(proc)
