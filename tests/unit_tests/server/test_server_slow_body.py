"""A client that owes the server its body gets 408 and the connection back (#26)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from langchain_automix.server import ServerLimits, create_app
from langchain_automix.server.background import serve_in_thread
from tests.unit_tests.server._served import make_automix


def _post_short(url: str, announced: int, sent: bytes, wait_s: float) -> tuple[bytes, float]:
    """POST announcing ``announced`` body bytes, send ``sent``, then read what comes back."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=wait_s) as sock:
        head = (
            f"POST /automix/invoke HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: application/json\r\nContent-Length: {announced}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        sock.sendall(head + sent)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks), time.monotonic() - started


def test_a_body_that_never_arrives_is_408_within_the_limit() -> None:
    automix, small, large = make_automix()
    app = create_app(automix, limits=ServerLimits(body_timeout_s=0.5))
    with serve_in_thread(app) as url:
        reply, took = _post_short(url, 1000, b'{"input": {"question": "Ca', wait_s=10)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"body_timeout_s" in reply and b"connection: close" in reply.lower()
    assert took < 5  # answered at the limit, not when the client gives up
    assert small.calls == [] and large.calls == []  # no model was called


def test_body_timeout_is_checked() -> None:
    with pytest.raises(ValueError, match="body_timeout_s must be positive"):
        ServerLimits(body_timeout_s=0)
