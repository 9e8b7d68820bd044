"""A deterministic OpenAI-compatible chat endpoint on loopback, recording every call.

Used by integration tests whose system under test reaches its models over HTTP
(``ChatOpenAI`` tiers), e.g. the LangGraph server started by ``langgraph dev``. Standard
library only, so it runs in the test process (a daemon thread) whatever the venv.

Each model name answers a fixed text; verification prompts (they contain "AI Generated
Answer:") get ``n`` copies of that model's verdict (``n=k``: all samples in one call).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CORRECT = "Verification Decision: The AI generated answer is Correct."
INCORRECT = "Verification Decision: The AI generated answer is Incorrect."


@dataclass
class FakeEndpoint:
    """Answers and verdicts per model name, and the log of calls received."""

    answers: Mapping[str, str]
    verdicts: Mapping[str, str]
    incorrect_if: str | None = None
    """Verification prompts containing this text get ``INCORRECT`` whatever the model."""
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (model, kind, n)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        model = str(body.get("model", "?"))
        last = body["messages"][-1].get("content")
        kind = "verify" if "AI Generated Answer:" in str(last) else "solve"
        n = int(body.get("n") or 1)
        with self._lock:
            self.calls.append((model, kind, n))
        text = self.verdicts.get(model, CORRECT) if kind == "verify" else self.answers[model]
        if kind == "verify" and self.incorrect_if and self.incorrect_if in str(last):
            text = INCORRECT
        return {
            "id": f"fake-{len(self.calls)}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}
                for i in range(n)
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }  # fmt: skip


def sse_events(reply: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
    """A chat completion as the chunks of an OpenAI stream: each choice's words, then usage."""
    base = {k: reply[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    for choice in reply["choices"]:
        words = choice["message"]["content"].split(" ")
        for i, word in enumerate(words):
            delta = {"content": word if i == 0 else " " + word}
            if i == 0:
                delta["role"] = "assistant"
            yield {**base, "choices": [{"index": choice["index"], "delta": delta}]}
        yield {
            **base,
            "choices": [{"index": choice["index"], "delta": {}, "finish_reason": "stop"}],
        }
    if include_usage:
        yield {**base, "choices": [], "usage": reply["usage"]}


@contextmanager
def fake_openai_endpoint(
    answers: Mapping[str, str],
    verdicts: Mapping[str, str] | None = None,
    *,
    incorrect_if: str | None = None,
) -> Iterator[FakeEndpoint]:
    """Serve a :class:`FakeEndpoint` on ``127.0.0.1`` (a free port) until the block ends."""
    endpoint = FakeEndpoint(answers=answers, verdicts=verdicts or {}, incorrect_if=incorrect_if)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            reply = endpoint.reply(body)
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                events = [json.dumps(e) for e in sse_events(reply, usage)] + ["[DONE]"]
                stream = "".join(f"data: {e}\n\n" for e in events).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(stream)))
                self.end_headers()
                self.wfile.write(stream)
                return
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
