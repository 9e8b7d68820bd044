"""Serve AutoMix over HTTP: LangServe routes, an OpenAI-compatible API, health, auth, limits.

Install with ``pip install 'langchain-automix[server]'``; see ``docs/serving.md``.
Names are imported on first use, so ``langchain_automix.server.langgraph_app``
(for the LangGraph server) and ``tiers`` work without FastAPI or LangServe.

Example:
    >>> from langchain_automix.server import create_app
    >>> # app = create_app(automix); uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_automix._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_automix.server.app import create_app
    from langchain_automix.server.auth import DEFAULT_API_KEY_ENV, BearerAuthMiddleware
    from langchain_automix.server.background import serve_in_thread
    from langchain_automix.server.batch import BatchItemError, ServedRunnable
    from langchain_automix.server.configurable import CONFIGURABLE_IDS, make_configurable
    from langchain_automix.server.guard import RequestGuardMiddleware
    from langchain_automix.server.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimitMiddleware
    from langchain_automix.server.quotas import ServerLimits

__all__ = [
    "CONFIGURABLE_IDS",
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_MAX_BODY_BYTES",
    "BatchItemError",
    "BearerAuthMiddleware",
    "BodySizeLimitMiddleware",
    "RequestGuardMiddleware",
    "ServedRunnable",
    "ServerLimits",
    "create_app",
    "make_configurable",
    "serve_in_thread",
]

_WHERE = {
    "create_app": "app",
    "DEFAULT_API_KEY_ENV": "auth",
    "BearerAuthMiddleware": "auth",
    "serve_in_thread": "background",
    "BatchItemError": "batch",
    "ServedRunnable": "batch",
    "RequestGuardMiddleware": "guard",
    "ServerLimits": "quotas",
    "CONFIGURABLE_IDS": "configurable",
    "make_configurable": "configurable",
    "DEFAULT_MAX_BODY_BYTES": "limits",
    "BodySizeLimitMiddleware": "limits",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
