"""Serve AutoMix over HTTP: LangServe routes, an OpenAI-compatible API, health, auth, limits.

Install with ``pip install 'langchain-automix[server]'``; see ``docs/serving.md``.

Example:
    >>> from langchain_automix.server import create_app
    >>> # app = create_app(automix); uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from langchain_automix.server.app import create_app
from langchain_automix.server.auth import DEFAULT_API_KEY_ENV, BearerAuthMiddleware
from langchain_automix.server.configurable import CONFIGURABLE_IDS, make_configurable
from langchain_automix.server.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimitMiddleware

__all__ = [
    "CONFIGURABLE_IDS",
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_MAX_BODY_BYTES",
    "BearerAuthMiddleware",
    "BodySizeLimitMiddleware",
    "create_app",
    "make_configurable",
]
