"""Optional bearer-token authentication, read from an environment variable."""

from __future__ import annotations

import hmac
import logging
import os

from starlette.types import ASGIApp, Receive, Scope, Send

from langchain_automix.server.responses import error_response

__all__ = ["DEFAULT_API_KEY_ENV", "OPEN_PATHS", "BearerAuthMiddleware", "api_key_from_env"]

logger = logging.getLogger("langchain_automix.server")

DEFAULT_API_KEY_ENV = "AUTOMIX_API_KEY"
"""Environment variable holding the API key; when unset or empty, auth is off."""

OPEN_PATHS = frozenset({"/health"})
"""Paths served without a token (load balancers probe them)."""


def api_key_from_env(env_var: str | None) -> str | None:
    """The API key in ``env_var``, or None when auth is off.

    Example:
        >>> api_key_from_env(None) is None
        True
    """
    if not env_var:
        return None
    key = os.environ.get(env_var, "").strip()
    return key or None


class BearerAuthMiddleware:
    """Refuse with 401 every request without ``Authorization: Bearer <key>``.

    Only ``OPEN_PATHS`` (``/health``) stay open. The token is compared in
    constant time and is never logged: a refusal logs the method and path only.

    Example:
        >>> from starlette.applications import Starlette
        >>> app = BearerAuthMiddleware(Starlette(), api_key="s3cret")
        >>> app.open_paths == OPEN_PATHS
        True
    """

    def __init__(self, app: ASGIApp, api_key: str, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.app = app
        self._expected = f"Bearer {api_key}".encode()
        self.open_paths = open_paths

    def __repr__(self) -> str:
        return f"BearerAuthMiddleware(open_paths={sorted(self.open_paths)})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the bearer token, then hand the request on."""
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        if not hmac.compare_digest(given, self._expected):
            reason = "missing" if not given else "wrong"
            logger.warning(
                "refused %s %s: %s bearer token", scope.get("method", "WS"), scope["path"], reason
            )
            response = error_response(
                401,
                f"{reason} API key: send 'Authorization: Bearer <key>'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
