"""Request limits: the body-size middleware and the size-limited input model."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langchain_automix.server.responses import error_response

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodySizeLimitMiddleware", "limited_input_model"]

logger = logging.getLogger("langchain_automix.server")

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""Default cap on a request body, in bytes (about 1 MB)."""


def _too_large(size: int | None, limit: int) -> Any:
    seen = f"{size:,} bytes" if size is not None else "more than that"
    return error_response(
        413,
        f"request body is {seen}, over the limit of {limit:,} bytes (max_body_bytes)",
        code="request_too_large",
        param="max_body_bytes",
    )


class BodySizeLimitMiddleware:
    """Answer 413 to any request whose body exceeds ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before the body is
    read; a body without one (chunked) is read up to the limit and refused as
    soon as it goes over, so a client cannot make the server buffer more than
    ``max_body_bytes``.

    Example:
        >>> from starlette.applications import Starlette
        >>> app = BodySizeLimitMiddleware(Starlette(), max_body_bytes=1024)
        >>> app.max_body_bytes
        1024
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes}")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body size, then hand the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                logger.info(
                    "refused %s %s: body of %d bytes", scope["method"], scope["path"], declared
                )
                await _too_large(declared, limit)(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the HTTP server enforces the length
            return
        # No Content-Length: read (at most limit + 1 bytes), then replay.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                logger.info(
                    "refused %s %s: chunked body over the limit", scope["method"], scope["path"]
                )
                await _too_large(None, limit)(scope, receive, send)
                return
            chunks.append(body)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _plain_string(cls: type[BaseModel], data: Any) -> Any:
    return {"question": data} if isinstance(data, str) else data


_PLAIN_STRING: Any = model_validator(mode="before")(_plain_string)


def limited_input_model(max_question_chars: int, max_context_chars: int) -> type[BaseModel]:
    """The input schema served by LangServe, with the length limits in it.

    LangServe validates every input against this model, so a context over the
    limit is answered with 422 naming ``max_length`` before any model is called;
    the playground shows the limits too.

    Example:
        >>> Model = limited_input_model(100, 10)
        >>> Model(question="Who?", context="short").context
        'short'
        >>> Model.model_validate("Who?").question
        'Who?'
        >>> Model(question="Who?", context="far too long")
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for AutoMixInput
        ...
    """
    return create_model(
        "AutoMixInput",
        __config__=ConfigDict(extra="forbid"),
        __doc__="A question and the passage it is about.",
        # a plain string is the question, as for a local invoke
        __validators__={"plain_string": _PLAIN_STRING},
        question=(
            str,
            Field(
                min_length=1,
                max_length=max_question_chars,
                description=f"The question to answer (at most {max_question_chars:,} characters).",
            ),
        ),
        context=(
            str,  # not Optional: the playground cannot render a nullable field
            Field(
                default="",
                max_length=max_context_chars,
                description=(
                    "The passage that grounds the answer (optional, empty for none; at most "
                    f"{max_context_chars:,} characters)."
                ),
            ),
        ),
    )
