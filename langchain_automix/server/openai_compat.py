"""OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Mapping of a chat request onto AutoMix:

* the **question** is the text of the last ``user`` message;
* the **context** is the extra body field ``context`` when given, otherwise the
  ``system``/``developer`` messages joined by blank lines, followed by the rest of the
  conversation (every earlier ``user``/``assistant``/``tool`` turn and any after the
  question, one neutralised line each, under "Conversation so far:"), exactly as
  :func:`langchain_automix.runtime.chat_model.conversation_query` builds it for ``ChatAutoMix``:
  both the answer and the verification see every turn;
* extra body fields ``threshold`` and ``num_verifications`` tune the request, and
  ``thread_id`` names a durable run (on a runnable with a checkpointer, a retry with the
  same id resumes the query: its finished model calls are not paid again);
* sampling parameters (``temperature``, ``max_tokens``...) are accepted and ignored,
  as AutoMix sets its own; ``n`` must be 1 (422 naming ``n``);
* ``tools``, ``tool_choice``, ``functions``, ``function_call``, ``parallel_tool_calls``
  and a non-text ``response_format`` are refused with 400 naming the field (the
  route answers in text; use ``ChatAutoMix`` with ``bind_tools`` or
  ``with_structured_output`` in Python): never silently dropped.

The response is a ``chat.completion`` whose top-level ``automix`` field holds the
routing trace (which tier answered, verifier confidence, decisions, costs); with
``stream: true`` the chunk that carries ``finish_reason`` holds it instead.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response, StreamingResponse
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ConfigDict, Field

from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.result import TRACE_KEY
from langchain_automix.server.responses import error_response

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "UNSUPPORTED_FIELDS",
    "build_openai_router",
    "question_and_context",
    "unsupported_field",
]

logger = logging.getLogger("langchain_automix.server")


class TextPart(BaseModel):
    """A text content part (``{"type": "text", "text": ...}``)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message of a chat request; only the text of its content is used."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None

    @property
    def text(self) -> str:
        """The message's text (parts joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    """``stream_options`` of a streaming request."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The accepted ``POST /v1/chat/completions`` body (OpenAI's, plus AutoMix fields)."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="Only one choice is produced.")
    context: str | None = Field(
        default=None,
        description="Grounding passage; takes precedence over system/developer messages.",
    )
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    num_verifications: int | None = Field(default=None, ge=1, le=64)
    thread_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description=(
            "Request id of a durable run (servers with --checkpoint-url): a retry with the "
            "same id resumes the query instead of paying for its model calls again."
        ),
    )


UNSUPPORTED_FIELDS = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
    "response_format",
)
"""Request fields the route refuses (400 naming the field) rather than drop silently."""


def unsupported_field(request: ChatCompletionRequest) -> str | None:
    """The first field of ``request`` this route cannot honour, or None.

    Harmless values pass: ``tool_choice: "none"`` and ``response_format: {"type": "text"}``.

    Example:
        >>> req = ChatCompletionRequest(model="automix", messages=[
        ...     {"role": "user", "content": "Hi"}], tools=[{"type": "function"}])
        >>> unsupported_field(req)
        'tools'
    """
    extra = request.model_extra or {}
    for name in UNSUPPORTED_FIELDS:
        value = extra.get(name)
        if value is None or value == [] or (name == "tool_choice" and value == "none"):
            continue
        if name == "response_format" and isinstance(value, dict) and value.get("type") == "text":
            continue
        return name
    return None


def _as_message(message: ChatMessage) -> BaseMessage:
    extra = message.model_extra or {}
    if message.role in ("system", "developer"):
        return SystemMessage(message.text)
    if message.role == "user":
        return HumanMessage(message.text)
    if message.role == "assistant":
        return AIMessage(message.text)
    name = str(extra.get("name") or extra.get("tool_call_id") or message.role)
    return ToolMessage(message.text, tool_call_id=str(extra.get("tool_call_id") or name), name=name)


def question_and_context(request: ChatCompletionRequest) -> tuple[str, str | None, str]:
    """Return ``(question, context, where the context came from)`` for a chat request.

    Every turn is kept: the turns other than the last user message go into the
    context after the system messages (or after the ``context`` field, which replaces
    the system messages), one line each under "Conversation so far:".

    Raises:
        AutoMixInputError: when there is no user message.

    Example:
        >>> req = ChatCompletionRequest(model="automix", messages=[
        ...     {"role": "system", "content": "Paris is in France."},
        ...     {"role": "user", "content": "Where is Paris?"}])
        >>> question_and_context(req)
        ('Where is Paris?', 'Paris is in France.', 'messages')
        >>> req.context = "Paris is in Texas too."
        >>> question_and_context(req)
        ('Where is Paris?', 'Paris is in Texas too.', 'context')
        >>> req = ChatCompletionRequest(model="automix", messages=[
        ...     {"role": "user", "content": "Who wrote Hamlet?"},
        ...     {"role": "assistant", "content": "Shakespeare."},
        ...     {"role": "user", "content": "When was he born?"}])
        >>> print(question_and_context(req)[1])
        Conversation so far:
        User: Who wrote Hamlet?
        Assistant: Shakespeare.
    """
    from langchain_automix.runtime.chat_model import conversation_query

    if not any(m.role == "user" for m in request.messages):
        raise AutoMixInputError("messages", "need a 'user' message: its text is the question")
    messages = [_as_message(m) for m in request.messages]
    if request.context is not None:
        messages = [m for m in messages if not isinstance(m, SystemMessage)]
    query = conversation_query(messages, context=request.context)
    return (
        query["question"],
        query["context"],
        ("context" if request.context is not None else "messages"),
    )


def _usage(message: BaseMessage) -> dict[str, int] | None:
    usage = getattr(message, "usage_metadata", None)
    if not usage:
        return None
    return {
        "prompt_tokens": int(usage.get("input_tokens", 0)),
        "completion_tokens": int(usage.get("output_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", 0)),
    }


def build_openai_router(
    runnable: Runnable[Any, Any],
    *,
    model_name: str = "automix",
    max_context_chars: int,
    created: int | None = None,
) -> APIRouter:
    """The ``/v1`` routes serving ``runnable`` under the model name ``model_name``.

    Example:
        >>> from langchain_core.runnables import RunnableLambda
        >>> router = build_openai_router(RunnableLambda(str), max_context_chars=100)
        >>> sorted(r.path for r in router.routes)
        ['/v1/chat/completions', '/v1/models']
    """
    router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
    created_at = int(time.time()) if created is None else created
    tunable = {spec.id for spec in runnable.config_specs}

    @router.get("/models")
    async def list_models() -> dict[str, Any]:
        """List the one served model."""
        return {
            "object": "list",
            "data": [
                {
                    "id": model_name,
                    "object": "model",
                    "created": created_at,
                    "owned_by": "langchain-automix",
                }
            ],
        }

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest) -> Response:
        """Answer the last user message with AutoMix (OpenAI chat format)."""
        if body.model != model_name:
            return error_response(
                404,
                f"model {body.model!r} does not exist; this server serves {model_name!r}",
                code="model_not_found",
                param="model",
            )
        refused = unsupported_field(body)
        if refused is not None:
            return error_response(
                400,
                f"{refused} is not supported by this route: AutoMix answers in text (use "
                "ChatAutoMix with bind_tools / with_structured_output from Python)",
                code="unsupported_parameter",
                param=refused,
            )
        try:
            question, context, source = question_and_context(body)
        except AutoMixInputError as exc:
            return error_response(422, str(exc), code="invalid_input", param=exc.field)
        if context is not None and len(context) > max_context_chars:
            return error_response(
                422,
                f"context is {len(context):,} characters, over the limit of "
                f"{max_context_chars:,} (max_context_chars)",
                code="context_too_long",
                param=source,
            )
        configurable: dict[str, Any] = {}
        for knob in ("threshold", "num_verifications"):
            value = getattr(body, knob)
            if value is None:
                continue
            if knob not in tunable:
                return error_response(
                    422, f"{knob} is not tunable on this server", code="invalid_input", param=knob
                )
            configurable[knob] = value
        if body.thread_id is not None:
            configurable["thread_id"] = body.thread_id
        # the completion id is the run id: a trace log row (and its feedback) match it
        run_id = uuid.uuid4()
        config: RunnableConfig = {"run_name": "automix_chat_completions", "run_id": run_id}
        if configurable:
            config["configurable"] = configurable
        value = {"question": question, "context": context}
        completion_id = f"chatcmpl-{run_id.hex}"
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return await _stream(runnable, value, config, completion_id, model_name, include_usage)
        try:
            message = await runnable.ainvoke(value, config)
        except Exception as exc:
            return failure_response(exc)
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model_name,
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": message.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(message),
                TRACE_KEY: message.response_metadata.get(TRACE_KEY),
            }
        )

    return router


def failure_response(exc: BaseException) -> JSONResponse:
    """Map a failed run to 422 (bad input), 502 (model failure, partial trace) or 500."""
    if isinstance(exc, AutoMixInputError):
        return error_response(422, str(exc), code="invalid_input", param=exc.field)
    if isinstance(exc, AutoMixModelError):
        logger.warning("model failure: %s", exc)
        partial = exc.partial.trace() if exc.partial is not None else None
        return error_response(502, str(exc), code="model_error", extra={TRACE_KEY: partial})
    logger.exception("unexpected error while answering", exc_info=exc)
    return error_response(500, f"internal error: {type(exc).__name__}", code="internal_error")


def _sse(data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n"


async def _stream(
    runnable: Runnable[Any, Any],
    value: dict[str, Any],
    config: RunnableConfig,
    completion_id: str,
    model_name: str,
    include_usage: bool,
) -> Response:
    created = int(time.time())
    stream = runnable.astream(value, config).__aiter__()

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_name,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }

    # Nothing is sent before the first chunk, so a failure before it (bad input,
    # every tier down) still gets a proper status code and JSON body.
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:  # pragma: no cover - AutoMix always yields a closing chunk
        first = None
    except Exception as exc:
        await _aclose(stream)
        return failure_response(exc)

    async def events() -> AsyncIterator[str]:
        trace: Any = None
        usage: dict[str, int] | None = None
        try:
            yield _sse(chunk({"role": "assistant", "content": ""}))
            current = first
            while current is not None:
                if current.text:
                    yield _sse(chunk({"content": current.text}))
                if TRACE_KEY in current.response_metadata:
                    trace = current.response_metadata[TRACE_KEY]
                    usage = _usage(current)
                try:
                    current = await stream.__anext__()
                except StopAsyncIteration:
                    current = None
        except Exception as exc:
            # Headers are gone: report in-band as OpenAI does, then end the stream.
            failure = failure_response(exc)
            yield _sse(json.loads(bytes(failure.body)))
            yield _sse("[DONE]")
            return
        finally:
            await _aclose(stream)
        yield _sse(chunk({}, "stop", **{TRACE_KEY: trace}))
        if include_usage:
            final = chunk({})
            final["choices"] = []
            final["usage"] = usage
            yield _sse(final)
        yield _sse("[DONE]")

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # noqa: S110 - closing a finished generator must not mask errors
            pass
