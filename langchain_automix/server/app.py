"""``create_app``: AutoMix behind HTTP (LangServe, OpenAI-compatible API, health)."""

from __future__ import annotations

import logging
import warnings
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from langchain_core.runnables import Runnable
from pydantic import ValidationError

from langchain_automix._version import __version__
from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.result import TRACE_KEY
from langchain_automix.server.auth import (
    DEFAULT_API_KEY_ENV,
    BearerAuthMiddleware,
    api_key_from_env,
)
from langchain_automix.server.configurable import find_automix, make_configurable
from langchain_automix.server.limits import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimitMiddleware,
    limited_input_model,
)
from langchain_automix.server.openai_compat import build_openai_router
from langchain_automix.server.responses import error_body, error_response

__all__ = ["create_app"]

logger = logging.getLogger("langchain_automix.server")

_DEFAULT_MAX_CONTEXT_CHARS = 50_000
_DEFAULT_MAX_QUESTION_CHARS = 8_000


def create_app(
    runnable: Runnable[Any, Any],
    *,
    api_key_env: str | None = DEFAULT_API_KEY_ENV,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_context_chars: int | None = None,
    title: str = "AutoMix",
    path: str = "/automix",
    model_name: str = "automix",
    playground: bool = True,
) -> FastAPI:
    """Build a FastAPI app serving an AutoMix runnable.

    Routes:

    * LangServe at ``path`` (``/automix``): ``invoke``, ``batch``, ``stream``,
      ``stream_log``, ``stream_events``, ``input_schema``, ``output_schema``,
      ``config_schema`` and the ``playground/``. ``threshold`` and
      ``num_verifications`` are tunable per request via
      ``config={"configurable": {...}}``.
    * OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``
      (see :mod:`langchain_automix.server.openai_compat`).
    * ``GET /health`` (never needs the API key).

    Args:
        runnable: an ``AutoMixRunnable`` (made tunable per request here), or any
            runnable wrapping one (served as is).
        api_key_env: environment variable holding the API key, read once now; when it
            is set, every route but ``/health`` needs ``Authorization: Bearer <key>``.
            None disables auth whatever the environment says.
        max_body_bytes: larger request bodies get 413.
        max_context_chars: longer contexts get 422 before any model call; defaults to
            the runnable's ``max_context_chars`` and may not exceed it.
        title: title of the OpenAPI docs.
        path: mount point of the LangServe routes.
        model_name: the model id of the OpenAI-compatible API.
        playground: serve the LangServe playground.

    Returns:
        The FastAPI app; run it with ``uvicorn.run(app, host="127.0.0.1")``.

    Raises:
        ValueError: when ``max_context_chars`` exceeds the runnable's own limit.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from langchain_automix import AutoMixRunnable
        >>> small = FakeListChatModel(responses=["Paris", "... is Correct."])
        >>> automix = AutoMixRunnable(models=[small, small], num_verifications=1)
        >>> app = create_app(automix, api_key_env=None)
        >>> from fastapi.testclient import TestClient
        >>> TestClient(app).get("/health").json()["status"]
        'ok'
    """
    from langserve import add_routes  # heavy; only the server needs it

    served = make_configurable(runnable)
    automix = find_automix(served)
    runnable_limit = automix.max_context_chars if automix else _DEFAULT_MAX_CONTEXT_CHARS
    question_limit = automix.max_question_chars if automix else _DEFAULT_MAX_QUESTION_CHARS
    if max_context_chars is None:
        max_context_chars = runnable_limit
    elif max_context_chars > runnable_limit:
        raise ValueError(
            f"max_context_chars={max_context_chars:,} exceeds the runnable's own limit of "
            f"{runnable_limit:,}; raise AutoMixRunnable(max_context_chars=...) instead"
        )
    tiers = list(automix.context.model_names) if automix else []

    app = FastAPI(
        title=title,
        version=__version__,
        description="AutoMix: a small model answers, verifies itself, and escalates when needed.",
    )

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """Liveness probe (open even when an API key is set)."""
        return {"status": "ok", "model": model_name, "tiers": tiers, "version": __version__}

    app.include_router(
        build_openai_router(served, model_name=model_name, max_context_chars=max_context_chars)
    )
    with warnings.catch_warnings():  # langserve warns about pydantic v1 namespaces on import
        warnings.simplefilter("ignore", DeprecationWarning)
        add_routes(
            app,
            served.with_types(input_type=limited_input_model(question_limit, max_context_chars)),
            path=path,
            playground_type="default",
            enabled_endpoints=None if playground else cast(Any, _ENDPOINTS_WITHOUT_PLAYGROUND),
        )
    _add_exception_handlers(app)

    api_key = api_key_from_env(api_key_env)
    if api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=api_key)
        logger.info("API key required (from $%s) on every route but /health", api_key_env)
    # Added last, so it runs first: oversized bodies are refused before anything else.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    app.state.automix = served
    app.state.max_context_chars = max_context_chars
    return app


_ENDPOINTS_WITHOUT_PLAYGROUND = (
    "invoke",
    "batch",
    "stream",
    "stream_log",
    "stream_events",
    "input_schema",
    "output_schema",
    "config_schema",
)


def _add_exception_handlers(app: FastAPI) -> None:
    """Map AutoMix errors raised under the LangServe routes to 422 / 502."""

    async def on_input_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AutoMixInputError)  # noqa: S101 - registered for this type
        return error_response(422, str(exc), code="invalid_input", param=exc.field)

    async def on_model_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AutoMixModelError)  # noqa: S101 - registered for this type
        logger.warning("model failure on %s: %s", request.url.path, exc)
        partial = exc.partial.trace() if exc.partial is not None else None
        return error_response(502, str(exc), code="model_error", extra={TRACE_KEY: partial})

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        # A configurable value the runnable's own validators reject (e.g. k=0).
        assert isinstance(exc, ValidationError)  # noqa: S101 - registered for this type
        if exc.title != "AutoMixRunnable":
            raise exc
        errors = exc.errors(include_url=False, include_input=False)
        fields = ", ".join(".".join(map(str, e["loc"])) for e in errors)
        return JSONResponse(
            error_body(422, f"invalid configurable value ({fields}): {errors[0]['msg']}"),
            status_code=422,
        )

    async def on_request_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
        # Inputs are not echoed back: a rejected 50,000-character context stays out
        # of the response (and of client logs).
        errors = [_without_input(e) for e in jsonable_encoder(exc.errors())]
        first = errors[0] if errors else "invalid request"
        if isinstance(first, dict):
            loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
            message = f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
        else:
            loc, message = None, str(first)
        if not request.url.path.startswith("/v1/"):  # FastAPI's shape, plus "error"
            body = error_body(422, message, param=loc)
            body["detail"] = errors
            return JSONResponse(body, status_code=422)
        return JSONResponse(
            error_body(422, message, param=loc, extra={"errors": errors}),
            status_code=422,
        )

    app.add_exception_handler(AutoMixInputError, on_input_error)
    app.add_exception_handler(AutoMixModelError, on_model_error)
    app.add_exception_handler(ValidationError, on_validation_error)
    app.add_exception_handler(RequestValidationError, on_request_error)


def _without_input(error: Any) -> Any:
    if isinstance(error, dict):
        return {k: v for k, v in error.items() if k not in ("input", "url")}
    return error
