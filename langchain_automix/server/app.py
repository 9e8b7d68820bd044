"""``create_app``: AutoMix behind HTTP (LangServe, OpenAI-compatible API, health)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from langchain_automix._version import __version__
from langchain_automix.errors import AutoMixInputError, AutoMixModelError
from langchain_automix.runtime.result import TRACE_KEY
from langchain_automix.server.auth import (
    DEFAULT_API_KEY_ENV,
    BearerAuthMiddleware,
    api_key_from_env,
)
from langchain_automix.server.batch import as_served
from langchain_automix.server.configurable import find_automix, make_configurable
from langchain_automix.server.guard import RequestGuardMiddleware, ServedShape
from langchain_automix.server.limits import (
    DEFAULT_MAX_BODY_BYTES,
    BodySizeLimitMiddleware,
    limited_input_model,
)
from langchain_automix.server.monitoring import FEEDBACK_PATH, build_monitoring_router
from langchain_automix.server.openai_compat import build_openai_router
from langchain_automix.server.quotas import ServerLimits, worst_case_cost
from langchain_automix.server.responses import error_body, error_response

if TYPE_CHECKING:
    from langchain_automix.calibration.drift import DriftMonitor
    from langchain_automix.observability.metrics import AutoMixMetrics
    from langchain_automix.observability.trace_log import TraceLog

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
    limits: ServerLimits | None = None,
    unmetered_routes: Sequence[str] = (),
    metrics: bool | AutoMixMetrics = False,
    trace_log: TraceLog | None = None,
    drift: DriftMonitor | None = None,
    callbacks: Callable[[], list[BaseCallbackHandler]] | None = None,
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
    * ``GET /automix/policy``: the served meta-verifier, its provenance and drift status;
      with ``metrics``, ``GET /metrics`` (Prometheus); with a ``trace_log``,
      ``POST /automix/feedback`` (see :mod:`langchain_automix.server.monitoring` and
      docs/observability.md).

    ``limits`` (:class:`~langchain_automix.server.quotas.ServerLimits`) caps what one
    request or client may ask: batch size, worst-case model calls, per-request knobs,
    cost budgets, request rate, JSON-only bodies from allowed origins (see
    :mod:`langchain_automix.server.guard`); all refusals come before any model call.
    In ``/automix/batch`` a failed item comes back in its position as an error object
    (:class:`~langchain_automix.server.batch.BatchItemError`), the others' answers kept.

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
        limits: operator limits; default ``ServerLimits()`` (32 inputs per batch, 512
            model calls per request, 8 batch items at a time, ``num_verifications`` up to
            the larger of the runnable's and 16, no budgets, no rate limit).
        unmetered_routes: paths of routes you add to the app that take a body but call
            no model. Any other body route the request guard has no cost plan for is
            refused (403): it would run the models past every budget and limit.
        metrics: serve Prometheus metrics at ``/metrics`` (True: a new
            :class:`~langchain_automix.observability.metrics.AutoMixMetrics` with the
            served cascade's final-tier cost as the cost-saved baseline).
        trace_log: write every served query to this
            :class:`~langchain_automix.observability.trace_log.TraceLog` and take
            feedback at ``POST /automix/feedback``.
        drift: compare each decision's routing signals with the policy's training
            distribution (:class:`~langchain_automix.calibration.drift.DriftMonitor`);
            its status is in ``/automix/policy`` and, with ``metrics``, in
            ``automix_drift_statistic``.
        callbacks: called once per served query for more callback handlers (e.g. an
            OpenTelemetry tracer); each query gets its own.

    Returns:
        The FastAPI app; run it with ``uvicorn.run(app, host="127.0.0.1")``.

    Raises:
        ValueError: when ``max_context_chars`` exceeds the runnable's own limit, or the
            runnable's own ``num_verifications`` / threshold lies outside ``limits``.

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

    limits = ServerLimits() if limits is None else limits
    bare = find_automix(runnable)
    k_cap = limits.num_verifications_cap(bare.num_verifications if bare else None)
    served = make_configurable(
        runnable,
        max_num_verifications=k_cap,
        lock_threshold=limits.lock_threshold,
        threshold_bounds=limits.threshold_bounds,
    )
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

    observed: AutoMixMetrics | None = None
    if metrics is True:
        from langchain_automix.observability.metrics import AutoMixMetrics

        final_cost = automix.context.costs.unit_costs_for(len(tiers))[-1] if automix else 0.0
        observed = AutoMixMetrics(final_tier_cost=final_cost)
    elif metrics is not False:
        observed = metrics
    item_callbacks = _item_callbacks(observed, trace_log, drift, callbacks)
    # Both route families call the runnable through this binding: per-item batch
    # errors, the batch concurrency cap, cost metering when budgets are set, and the
    # observers (metrics, drift monitor, trace log) when configured.
    routed = as_served(
        served,
        input_type=limited_input_model(question_limit, max_context_chars),
        max_concurrency=limits.max_concurrency,
        item_callbacks=item_callbacks,
    )
    app.include_router(
        build_openai_router(routed, model_name=model_name, max_context_chars=max_context_chars)
    )
    with warnings.catch_warnings():  # langserve warns about pydantic v1 namespaces on import
        warnings.simplefilter("ignore", DeprecationWarning)
        add_routes(
            app,
            routed,
            path=path,
            playground_type="default",
            enabled_endpoints=None if playground else cast(Any, _ENDPOINTS_WITHOUT_PLAYGROUND),
        )
    app.include_router(
        build_monitoring_router(
            metrics=observed,
            trace_log=trace_log,
            drift=drift,
            meta_verifier=automix.context.meta_verifier if automix else None,
        )
    )
    _add_exception_handlers(app)

    api_key = api_key_from_env(api_key_env)
    app.add_middleware(
        RequestGuardMiddleware,
        limits=limits,
        shape=_shape(automix, k_cap, path, api_key),
        # the live list: routes the caller adds after create_app are checked too
        routes=app.router.routes,
        unmetered_routes=(*unmetered_routes, FEEDBACK_PATH),
        on_refusal=observed.observe_refusal if observed is not None else None,
    )
    if api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=api_key)
        logger.info("API key required (from $%s) on every route but /health", api_key_env)
    # Added last, so it runs first: oversized bodies are refused before anything else,
    # then auth, then the limits.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=max_body_bytes)
    app.state.automix = served
    app.state.max_context_chars = max_context_chars
    app.state.limits = limits
    app.state.metrics = observed
    app.state.trace_log = trace_log
    app.state.drift = drift
    app.state.routed = routed  # what the routes call (ServedRunnable)
    return app


def _item_callbacks(
    metrics: AutoMixMetrics | None,
    trace_log: TraceLog | None,
    drift: DriftMonitor | None,
    extra: Callable[[], list[BaseCallbackHandler]] | None,
) -> Callable[[], list[BaseCallbackHandler]] | None:
    """What each served query gets: a fresh observer for the sinks, plus ``extra()``."""
    if metrics is None and trace_log is None and drift is None:
        return extra
    from langchain_automix.observability.observer import AutoMixObserver

    def make() -> list[BaseCallbackHandler]:
        observer = AutoMixObserver(metrics=metrics, drift=drift, trace_log=trace_log)
        return [observer, *(extra() if extra is not None else [])]

    return make


def _shape(automix: Any, k_cap: int, path: str, api_key: str | None) -> ServedShape:
    if automix is None:  # a wrapped runnable: sizes and knobs are checked, not costs
        return ServedShape(
            n_tiers=None,
            default_k=1,
            sampling=True,
            item_cost=None,
            num_verifications_cap=k_cap,
            langserve_path=path,
            auth=api_key is not None,
        )
    n = len(automix.models)
    return ServedShape(
        n_tiers=n,
        default_k=automix.num_verifications,
        sampling=automix.verification == "sampling",
        item_cost=worst_case_cost(
            automix.costs.unit_costs_for(n), automix.costs.verify_costs_for(n)
        ),
        num_verifications_cap=k_cap,
        langserve_path=path,
        auth=api_key is not None,
    )


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
        if exc.title not in ("AutoMixRunnable", "AutoMixInput"):
            raise exc
        errors = exc.errors(include_url=False, include_input=False)
        fields = ", ".join(".".join(map(str, e["loc"])) for e in errors)
        if exc.title == "AutoMixInput":  # the served input model, checked per batch item
            first = ".".join(map(str, errors[0]["loc"])) if errors else "input"
            return error_response(
                422, f"{first}: {errors[0]['msg'] if errors else exc}", param=first
            )
        return JSONResponse(
            error_body(422, f"invalid configurable value ({fields}): {errors[0]['msg']}"),
            status_code=422,
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        # FastAPI's and LangServe's own HTTPExceptions (bad JSON, bad config hash, 404)
        # get the shared body too, ``detail`` kept as they send it.
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
        if exc.status_code < 400 or exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        body = error_body(exc.status_code, str(exc.detail))
        body["detail"] = exc.detail
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

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

    async def on_not_a_file(request: Request, exc: Exception) -> Response:
        # LangServe's playground opens any path under it as a file: a folder
        # (``/automix/playground/assets/``) raised IsADirectoryError, a 500.
        return error_response(404, "Not Found", code="not_found")

    app.add_exception_handler(IsADirectoryError, on_not_a_file)
    app.add_exception_handler(NotADirectoryError, on_not_a_file)
    app.add_exception_handler(AutoMixInputError, on_input_error)
    app.add_exception_handler(AutoMixModelError, on_model_error)
    app.add_exception_handler(ValidationError, on_validation_error)
    app.add_exception_handler(RequestValidationError, on_request_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def _without_input(error: Any) -> Any:
    if isinstance(error, dict):
        return {k: v for k, v in error.items() if k not in ("input", "url")}
    return error
