"""JSON error bodies shared by every route (FastAPI's ``detail`` plus OpenAI's ``error``)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["error_body", "error_response"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_model_error",
}


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An error body readable by FastAPI-style and OpenAI-style clients alike.

    Example:
        >>> error_body(422, "context: too long", param="context")["error"]["type"]
        'invalid_request_error'
    """
    return {
        "detail": message,
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        },
        **(extra or {}),
    }


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A ``JSONResponse`` carrying :func:`error_body`."""
    return JSONResponse(
        error_body(status, message, code=code, param=param, extra=extra),
        status_code=status,
        headers=headers,
    )
