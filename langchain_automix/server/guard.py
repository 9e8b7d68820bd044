"""``RequestGuardMiddleware``: the ``ServerLimits`` checks, before any route or model runs.

For every POST (``/health`` and GETs pass through), in this order:

1. 415 unless the body is ``application/json`` (a browser can send ``text/plain``
   cross-origin without a CORS preflight: a CSRF vector);
2. 403 when auth is off and the ``Host`` header is not a loopback name or in
   ``allowed_hosts`` (DNS rebinding), or an ``Origin`` header names another site than
   this host and ``allowed_origins``;
3. 429 over ``rate_limit`` (requests per minute per client);
4. 400 for JSON nested deeper than ``max_json_depth`` (the parser's recursion
   would otherwise be a 500);
5. 403 for a locked threshold, 422 for a threshold outside ``threshold_bounds`` or
   ``num_verifications`` over its cap;
6. 413 over ``max_batch_size`` or ``max_model_calls`` (worst case of the request);
7. 429 over ``budget_per_minute`` / ``budget_per_day`` (the request's worst-case cost
   is reserved, then settled from its traces).

A body that does not arrive within ``body_timeout_s`` (a short ``Content-Length``, a
trickle) is answered 408 and the connection closed. A client that disconnects before its response
is complete cancels the request's work, model calls included (streamed or not).

Refusals use the shared error body; ``error.param`` names the limit, 429s carry
``Retry-After``. Malformed JSON passes through (the routes answer 422 as before).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langchain_automix.server.auth import OPEN_PATHS
from langchain_automix.server.quotas import (
    KeyedBuckets,
    RequestCharge,
    ServerLimits,
    current_charge,
)
from langchain_automix.server.responses import error_response

__all__ = ["LANGSERVE_ENDPOINTS", "RequestGuardMiddleware", "ServedShape", "json_depth"]

logger = logging.getLogger("langchain_automix.server")

LANGSERVE_ENDPOINTS = frozenset({"invoke", "batch", "stream", "stream_log", "stream_events"})
"""LangServe endpoints that run the model (the others only describe it)."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

NO_MODEL_ENDPOINTS = frozenset({"token_feedback", "feedback"})
"""LangServe endpoints that take a body but call no model."""


def unplanned_routes(
    routes: Sequence[Any], shape: ServedShape, declared: Collection[str] = ()
) -> list[str]:
    """Paths of routes that take a body but that the guard neither meters nor knows as free.

    A route the guard has no plan for would run its models past every budget, size and
    knob check: :class:`RequestGuardMiddleware` refuses its requests (403) unless
    ``declared`` names it (``create_app(..., unmetered_routes=[...])``).

    Example:
        >>> from starlette.routing import Route
        >>> shape = ServedShape(n_tiers=2, default_k=8, sampling=True, item_cost=52.0,
        ...                     num_verifications_cap=16)
        >>> unplanned_routes([Route("/automix/invoke", lambda r: None, methods=["POST"]),
        ...                   Route("/mine", lambda r: None, methods=["POST"])], shape)
        ['/mine']
    """
    prefix = shape.langserve_path.rstrip("/") + "/"
    out = []
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str) or not (
            set(getattr(route, "methods", ()) or ()) & _BODY_METHODS
        ):
            continue
        if path in OPEN_PATHS or path == shape.chat_path or path in declared:
            continue
        if path.startswith(prefix):
            rest = path[len(prefix) :].removeprefix("c/{config_hash}/")
            if rest in LANGSERVE_ENDPOINTS or rest in NO_MODEL_ENDPOINTS:
                continue
        out.append(path)
    return out


@dataclass(frozen=True)
class ServedShape:
    """What the guard knows of the served cascade, to estimate a request's worst case.

    Attributes:
        n_tiers: tiers of the cascade (None: not an AutoMix runnable; no estimate).
        default_k: the runnable's own ``num_verifications``.
        sampling: ``verification="sampling"`` (k calls per verification) or not (1).
        item_cost: worst-case cost units of one query.
        num_verifications_cap: per-request cap on ``num_verifications``.
        langserve_path: mount point of the LangServe routes.
        chat_path: path of the OpenAI-compatible chat route.
        auth: whether an API key is required (then budgets are per key and the
            ``Origin`` check is off: browsers do not add the key by themselves).
    """

    n_tiers: int | None
    default_k: int
    sampling: bool
    item_cost: float | None
    num_verifications_cap: int
    langserve_path: str = "/automix"
    chat_path: str = "/v1/chat/completions"
    auth: bool = False

    def calls(self, k: int) -> int:
        """Worst-case model calls of one query with ``k`` verifications (0 if unknown)."""
        if self.n_tiers is None:
            return 0
        per = k if self.sampling else 1
        return self.n_tiers + (self.n_tiers - 1) * per


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counting stops once past ``limit``.

    Example:
        >>> json_depth({"a": [1, {"b": []}]}, 10), json_depth("x", 10)
        (4, 0)
        >>> json_depth([[[[[]]]]], 2)
        3
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


def _host_name(host: str) -> str:
    """The name in a ``Host`` header: lower case, without port or IPv6 brackets.

    Example:
        >>> _host_name("[::1]:8000"), _host_name("LocalHost:80"), _host_name("evil.example")
        ('::1', 'localhost', 'evil.example')
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    """``localhost`` (and its subdomains) or a loopback address."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


@dataclass
class _Plan:
    items: int
    configurables: list[dict[str, Any]]
    batch: bool
    refusal: Any = None  # a malformed body LangServe would answer with a 500


class RequestGuardMiddleware:
    """Enforce ``ServerLimits`` on every POST before it reaches a route (module docstring).

    ``on_refusal(code)`` is called with the error code of every refusal (the server's
    ``automix_refusals_total`` metric).

    Example:
        >>> from starlette.applications import Starlette
        >>> shape = ServedShape(n_tiers=2, default_k=8, sampling=True, item_cost=52.0,
        ...                     num_verifications_cap=16)
        >>> guard = RequestGuardMiddleware(Starlette(), limits=ServerLimits(), shape=shape)
        >>> shape.calls(8), guard.limits.max_batch_size
        (10, 32)
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: ServerLimits,
        shape: ServedShape,
        routes: Sequence[Any] = (),
        unmetered_routes: Collection[str] = (),
        on_refusal: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.shape = shape
        self.on_refusal = on_refusal
        # the app's routes when the server starts (routes added after create_app included)
        unplanned = set(unplanned_routes(routes, shape, unmetered_routes))
        self._unplanned = [
            re.compile(r.path_regex.pattern)
            if hasattr(r, "path_regex")
            else re.compile(re.escape(r.path) + "$")
            for r in routes
            if getattr(r, "path", None) in unplanned
        ]
        if unplanned:
            logger.warning(
                "routes %s take a body but have no cost plan: their requests are refused "
                "(403) unless create_app(..., unmetered_routes=[...]) names them",
                sorted(unplanned),
            )
        self._rate = (
            KeyedBuckets(capacity=limits.rate_limit, rate=limits.rate_limit / 60.0)
            if limits.rate_limit
            else None
        )
        self._budgets: list[tuple[str, str, KeyedBuckets]] = []
        if limits.budget_per_minute:
            buckets = KeyedBuckets(limits.budget_per_minute, limits.budget_per_minute / 60.0)
            self._budgets.append(("budget_per_minute", "minute", buckets))
        if limits.budget_per_day:
            buckets = KeyedBuckets(limits.budget_per_day, limits.budget_per_day / 86_400.0)
            self._budgets.append(("budget_per_day", "day", buckets))

    # --- the checks ------------------------------------------------------------------------

    def _client(self, scope: Scope) -> str:
        if self.shape.auth:  # the auth middleware ran first: the key is the valid one
            token = _header(scope, b"authorization") or ""
            return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        client = scope.get("client")
        return f"ip:{client[0]}" if client else "ip:unknown"

    def _check_content_type(self, scope: Scope) -> Any:
        content_type = _header(scope, b"content-type")
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media == "application/json":
            return None
        return error_response(
            415,
            f"unsupported content-type {content_type or '(none)'!r}: send the body as "
            "'application/json'",
            code="unsupported_media_type",
            param="content-type",
        )

    def _check_host(self, scope: Scope) -> Any:
        if self.shape.auth:
            return None
        host = _host_name(_header(scope, b"host") or "")
        if _is_loopback(host) or host in self.limits.allowed_hosts:
            return None
        return error_response(
            403,
            f"request addressed to host {host or '(none)'!r} refused: with auth off only "
            "loopback hosts and allowed_hosts are served (a web page whose domain resolves "
            "to this machine must not spend model calls; use an API key, or allow the host "
            "with --allowed-host)",
            code="host_not_allowed",
            param="allowed_hosts",
        )

    def _check_origin(self, scope: Scope) -> Any:
        origin = _header(scope, b"origin")
        if self.shape.auth or origin is None:
            return None
        normalized = origin.strip().rstrip("/").lower()
        if normalized in self.limits.allowed_origins:
            return None
        host = (_header(scope, b"host") or "").strip().lower()
        if host and urlsplit(normalized).netloc == host:
            return None  # the server's own pages (the playground)
        return error_response(
            403,
            f"cross-origin request from {origin!r} refused: the origin is not in "
            "allowed_origins (use an API key, or allow the origin)",
            code="origin_not_allowed",
            param="allowed_origins",
        )

    def _check_rate(self, client: str) -> Any:
        if self._rate is None:
            return None
        wait = self._rate.take(client, 1.0)
        if wait == 0.0:
            return None
        return _too_many(
            f"rate limit of {self.limits.rate_limit:g} requests per minute exceeded",
            "rate_limit",
            wait,
        )

    def _plan(self, path: str, body: Any) -> _Plan | None:
        if not isinstance(body, dict):
            return None
        if path == self.shape.chat_path:
            knobs = {k: body[k] for k in ("threshold", "num_verifications") if k in body}
            return _Plan(items=1, configurables=[knobs], batch=False)
        prefix = self.shape.langserve_path.rstrip("/") + "/"
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix) :]
        hashed: dict[str, Any] = {}
        if rest.startswith("c/"):
            config_hash, _, rest = rest[2:].partition("/")
            hashed = _config_from_hash(config_hash)
        if rest not in LANGSERVE_ENDPOINTS:
            return None
        config = body.get("config")
        malformed = _malformed_langserve_body(rest, body)
        if malformed is not None:
            return _Plan(items=0, configurables=[], batch=False, refusal=malformed)
        if rest == "batch":
            inputs = body.get("inputs")
            if not isinstance(inputs, list):
                return None  # LangServe answers 422
            configs = config if isinstance(config, list) else [config] * len(inputs)
            return _Plan(
                items=len(inputs),
                configurables=[_configurable(hashed, c) for c in configs],
                batch=True,
            )
        return _Plan(items=1, configurables=[_configurable(hashed, config)], batch=False)

    def _check_knobs(self, plan: _Plan) -> tuple[Any, list[int]]:
        ks: list[int] = []
        lo, hi = self.limits.threshold_bounds
        cap = self.shape.num_verifications_cap
        if plan.refusal is not None:
            return plan.refusal, ks
        for knobs in plan.configurables:
            bad = _bad_knob(knobs)
            if bad is not None:  # else a 500, or a broken stream once /stream has started
                return bad, ks
            threshold = knobs.get("threshold")
            if threshold is not None:
                if self.limits.lock_threshold:
                    return error_response(
                        403,
                        "threshold is fixed on this server (lock_threshold); "
                        "leave it out of the request",
                        code="setting_forbidden",
                        param="threshold",
                    ), ks
                if _is_number(threshold) and not lo <= threshold <= hi:
                    return error_response(
                        422,
                        f"threshold {threshold:g} is outside the allowed range "
                        f"[{lo:g}, {hi:g}] (threshold_bounds)",
                        code="out_of_bounds",
                        param="threshold",
                    ), ks
            k = knobs.get("num_verifications")
            if _is_number(k) and k > cap:
                return error_response(
                    422,
                    f"num_verifications {k:g} is over the limit of {cap} (max_num_verifications)",
                    code="out_of_bounds",
                    param="num_verifications",
                ), ks
            ks.append(int(k) if _is_number(k) and k >= 1 else self.shape.default_k)
        return None, ks

    def _check_size(self, plan: _Plan, ks: list[int]) -> Any:
        limits = self.limits
        if plan.batch and limits.max_batch_size is not None and plan.items > limits.max_batch_size:
            return error_response(
                413,
                f"batch of {plan.items:,} inputs is over the limit of {limits.max_batch_size:,} "
                "(max_batch_size); split it",
                code="batch_too_large",
                param="max_batch_size",
            )
        if limits.max_model_calls is None or self.shape.n_tiers is None:
            return None
        per_item = [self.shape.calls(k) for k in ks] or [0]
        if len(per_item) < plan.items:  # one shared config
            per_item = per_item[:1] * plan.items
        calls = sum(per_item)
        if calls > limits.max_model_calls:
            return error_response(
                413,
                f"request could make up to {calls:,} model calls ({plan.items:,} input(s) x "
                f"{self.shape.n_tiers} tiers with num_verifications up to {max(ks or [0])}), "
                f"over the limit of {limits.max_model_calls:,} (max_model_calls); send fewer "
                "inputs or lower num_verifications",
                code="too_many_model_calls",
                param="max_model_calls",
            )
        return None

    def _reserve(self, client: str, plan: _Plan) -> tuple[Any, RequestCharge | None]:
        cost = self.shape.item_cost
        if not self._budgets or cost is None:
            return None, None
        charge = RequestCharge(per_item=cost, items=plan.items)
        taken: list[KeyedBuckets] = []
        for param, period, buckets in self._budgets:
            wait = buckets.take(client, charge.reserved)
            if wait == 0.0:
                taken.append(buckets)
                continue
            for done in taken:
                done.give_back(client, charge.reserved)
            if math.isinf(wait):
                return error_response(
                    413,
                    f"request could cost up to {charge.reserved:g} units ({plan.items:,} "
                    f"input(s) x {cost:g}), over the whole budget of {buckets.capacity:g} "
                    f"per {period} ({param}); send fewer inputs",
                    code="over_budget",
                    param=param,
                ), None
            return _too_many(
                f"cost budget of {buckets.capacity:g} units per {period} exhausted for this "
                f"client (this request reserves up to {charge.reserved:g})",
                param,
                wait,
            ), None
        return None, charge

    def _settle(self, client: str, charge: RequestCharge) -> None:
        refund = charge.reserved - charge.actual()
        if refund > 0:
            for _, _, buckets in self._budgets:
                buckets.give_back(client, refund)

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the checks, then hand the request on (metered when budgets are set)."""
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or scope["path"] in OPEN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        if any(p.match(scope["path"]) for p in self._unplanned):
            await self._refuse(self._unplanned_route(scope["path"]), scope, receive, send)
            return
        refusal = (
            self._check_content_type(scope) or self._check_host(scope) or self._check_origin(scope)
        )
        client = self._client(scope)
        refusal = refusal or self._check_rate(client)
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        wire = receive
        try:
            raw, receive = await asyncio.wait_for(
                _read_body(receive), timeout=self.limits.body_timeout_s
            )
        except TimeoutError:
            await self._refuse(self._too_slow(), scope, _nothing, send)
            return
        try:
            body = json.loads(raw) if raw else None
        except RecursionError:
            body, refusal = None, self._too_deep()
        except UnicodeDecodeError:  # LangServe's own json() would raise it: a 500
            body, refusal = None, _not_utf8()
        except json.JSONDecodeError:  # malformed: the route answers 422 as before
            body = None
        except ValueError as exc:  # valid JSON Python will not read (an integer of more
            # than 4,300 digits): the route's own parse would raise it again, a 500
            body, refusal = None, _unreadable_number(exc)
        if refusal is None and body is not None:
            if json_depth(body, self.limits.max_json_depth) > self.limits.max_json_depth:
                refusal = self._too_deep()
        plan = self._plan(scope["path"], body) if refusal is None else None
        charge: RequestCharge | None = None
        if plan is not None:
            refusal, ks = self._check_knobs(plan)
            refusal = refusal or self._check_size(plan, ks)
            if refusal is None:
                refusal, charge = self._reserve(client, plan)
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        if charge is None:
            await _until_disconnect(self.app, scope, receive, send, wire)
            return
        token = current_charge().set(charge)
        try:
            await _until_disconnect(self.app, scope, receive, send, wire)
        finally:
            current_charge().reset(token)
            self._settle(client, charge)

    @staticmethod
    def _unplanned_route(path: str) -> Any:
        return error_response(
            403,
            f"{path} takes a request body but the server has no cost plan for it: it could "
            "call the models past every budget and size limit. Name it in "
            "create_app(..., unmetered_routes=[...]) if it calls no model, or serve it "
            "through the /automix routes",
            code="unplanned_route",
        )

    def _too_slow(self) -> Any:
        limit = self.limits.body_timeout_s
        return error_response(
            408,
            f"the request body did not arrive within {limit:g} s (body_timeout_s)",
            code="request_timeout",
            param="body_timeout_s",
            headers={"Connection": "close"},
        )

    def _too_deep(self) -> Any:
        limit = self.limits.max_json_depth
        return error_response(
            400,
            f"JSON body is nested deeper than {limit} levels (max_json_depth)",
            code="json_too_deep",
            param="max_json_depth",
        )

    async def _refuse(self, response: Any, scope: Scope, receive: Receive, send: Send) -> None:
        error = json.loads(bytes(response.body))["error"]
        logger.info(
            "refused %s %s: %s (%d)",
            scope["method"],
            scope["path"],
            error["param"],
            response.status_code,
        )
        if self.on_refusal is not None:
            self.on_refusal(str(error.get("code") or response.status_code))
        await response(scope, receive, send)


def _too_many(message: str, param: str, wait: float) -> Any:
    seconds = max(1, math.ceil(wait))
    return error_response(
        429,
        f"{message} ({param}); retry after {seconds} s",
        code="rate_limit_exceeded",
        param=param,
        headers={"Retry-After": str(seconds)},
    )


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unreadable_number(exc: ValueError) -> Any:
    return error_response(
        400, f"body: a number too long to read ({exc})", code="invalid_input", param="body"
    )


def _not_utf8() -> Any:
    return error_response(422, "body: not UTF-8 encoded JSON", code="invalid_input", param="body")


def _malformed_langserve_body(endpoint: str, body: dict[str, Any]) -> Any:
    """422 for the body shapes LangServe 0.3.3 answers with a 500 (a ``TypeError``)."""
    config = body.get("config", {})
    allowed: tuple[type, ...] = (dict, list) if endpoint == "batch" else (dict,)
    if not isinstance(config, allowed):
        kind = "an object or a list of objects" if endpoint == "batch" else "an object"
        return error_response(
            422,
            f"config must be {kind}, got {type(config).__name__}",
            code="invalid_input",
            param="config",
        )
    if endpoint == "batch" and "inputs" in body and not isinstance(body["inputs"], list):
        return error_response(
            422,
            f"inputs must be a list, got {type(body['inputs']).__name__}",
            code="invalid_input",
            param="inputs",
        )
    return None


def _bad_knob(knobs: dict[str, Any]) -> Any:
    """422 naming a ``threshold`` / ``num_verifications`` of the wrong type or range.

    Checked here because a value the runnable rejects once ``/stream`` has started
    can no longer be answered with a status code.
    """
    threshold = knobs.get("threshold")
    if threshold is not None and not (_is_number(threshold) and 0.0 <= threshold <= 1.0):
        return error_response(
            422,
            f"threshold must be a number from 0 to 1, got {threshold!r}",
            code="invalid_input",
            param="threshold",
        )
    k = knobs.get("num_verifications")
    if k is not None and not (_is_number(k) and float(k).is_integer() and k >= 1):
        return error_response(
            422,
            f"num_verifications must be an integer of at least 1, got {k!r}",
            code="invalid_input",
            param="num_verifications",
        )
    return None


def _configurable(hashed: dict[str, Any], config: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for source in (hashed, config):
        if isinstance(source, dict) and isinstance(source.get("configurable"), dict):
            merged.update(source["configurable"])
    return merged


def _config_from_hash(config_hash: str) -> dict[str, Any]:
    try:
        from langserve.api_handler import _config_from_hash as decode

        config = decode(config_hash)
    except Exception:  # LangServe answers 400 for a bad hash itself
        return {}
    return config if isinstance(config, dict) else {}


async def _until_disconnect(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, wire: Receive
) -> None:
    """Run ``app``, cancelled when the client disconnects before the response is complete.

    Starlette stops a *streamed* response when the client leaves, but a plain request
    runs to the end: every model call of an answer nobody will read. The body has been
    read (``receive`` replays it), so the next message on the ``wire`` is the client's
    disconnect; when it comes before the response's last byte, the app's task is
    cancelled, and with it the model calls in flight (their HTTP requests are closed).
    """
    done = False

    async def tracked(message: Message) -> None:
        nonlocal done
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done = True  # before the send: the disconnect that follows it is no departure
        await send(message)

    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while True:
                message = await wire()
                if message["type"] == "http.disconnect":
                    if not done:
                        logger.info("client left %s: its model calls are cancelled", scope["path"])
                        tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch)
        await app(scope, receive, tracked)
        tg.cancel_scope.cancel()


async def _nothing() -> Message:
    """A receive for a refusal sent while the body is still owed: the client is gone."""
    return {"type": "http.disconnect"}


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (the size middleware bounds it), and a receive that replays it."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
    raw = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return raw, replay
