"""A cache of model calls shared by every worker and host: LangChain's cache on Redis.

Every chat model call of the graph (an answer, or the ``k`` verification samples) goes
through LangChain's cache interface (``BaseChatModel.cache``, or the process-wide
``langchain_core.globals.set_llm_cache``): the key is the prompt plus the model's
serialized settings and call parameters (model, endpoint, temperature, ``n``, stop,
seed...). With a shared cache, a question asked again, by any client, on any worker or
host, costs no model call: its answer and its verifications are read back.

The Redis cache is ``langchain-redis``'s :class:`~langchain_redis.RedisCache` (extra
``[cache]``). That class stores entries with the RedisJSON module (Redis 8, Redis
Stack); :class:`AutoMixRedisCache` keeps its keys, prefix, TTL and serialization and
falls back to plain string values on a Redis server without the module (e.g. Debian's
``redis-server`` 7). A Redis outage never fails a query: the lookup counts as a miss.

Example:
    >>> cache = cache_from_url("memory://")
    >>> type(cache).__name__
    'InMemoryCache'
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache, InMemoryCache

if TYPE_CHECKING:
    from langchain_redis import RedisCache

__all__ = ["DEFAULT_PREFIX", "CacheStats", "cache_from_url", "install_cache", "redis_cache"]

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "automix"
"""Key prefix of the AutoMix entries (``automix:<md5 prompt>:<md5 model settings>``)."""


class CacheStats:
    """Hits, misses and errors of one process's lookups (thread-safe counters)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.errors = 0

    def count(self, hit: bool | None) -> None:
        """Count a hit (True), a miss (False) or a failed lookup (None, also a miss)."""
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1
                self.errors += hit is None

    @property
    def hit_rate(self) -> float:
        """Share of lookups that hit (0.0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def redis_cache(url: str, *, ttl: int | None = None, prefix: str = DEFAULT_PREFIX) -> RedisCache:
    """An :class:`AutoMixRedisCache` on ``url`` (``redis://``, ``rediss://``, ``unix://``).

    Raises:
        ImportError: without ``langchain-redis`` (extra ``[cache]``).
        ValueError: when the server does not answer.
    """
    try:
        from langchain_redis import RedisCache
        from redis.exceptions import RedisError, ResponseError
    except ImportError as exc:
        raise ImportError(
            f"a Redis cache needs pip install 'langchain-automix[cache]' (langchain-redis): {exc}"
        ) from exc

    class AutoMixRedisCache(RedisCache):
        """``langchain_redis.RedisCache`` that also runs without RedisJSON, and counts."""

        def __init__(self) -> None:
            super().__init__(redis_url=url, ttl=ttl, prefix=prefix)
            self.stats = CacheStats()
            try:
                self.redis.json().get(f"{prefix}:probe")
                self.json_module = True
            except ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                self.json_module = False

        def __repr__(self) -> str:
            return f"AutoMixRedisCache(prefix={self.prefix!r}, ttl={self.ttl!r})"

        def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
            try:
                found = self._lookup(prompt, llm_string)
            except RedisError as exc:
                logger.warning("cache lookup failed (a miss): %s", exc)
                self.stats.count(None)
                return None
            self.stats.count(found is not None)
            return found

        def _lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
            if self.json_module:
                return super().lookup(prompt, llm_string)
            raw = self.redis.get(self._key(prompt, llm_string))
            if not raw:
                return None
            from langchain_core.load import loads

            return [loads(json.dumps(g), allowed_objects="core") for g in json.loads(raw)]

        def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
            try:
                if self.json_module:
                    super().update(prompt, llm_string, return_val)
                    return
                from langchain_core.load import dumps

                value = json.dumps([json.loads(dumps(g)) for g in return_val])
                self.redis.set(self._key(prompt, llm_string), value, ex=self.ttl)
            except RedisError as exc:
                logger.warning("cache update failed (not cached): %s", exc)

    try:
        return AutoMixRedisCache()
    except RedisError as exc:
        from langchain_automix.runtime.durable import _redacted

        raise ValueError(f"cannot use the Redis cache at {_redacted(url)}: {exc}") from exc


def cache_from_url(url: str, *, ttl: int | None = None, prefix: str = DEFAULT_PREFIX) -> BaseCache:
    """A model-call cache: ``redis://host:port/db`` (shared), or ``memory://`` (this process).

    Raises:
        ValueError: for another URL scheme, or a Redis server that does not answer.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return InMemoryCache()
    if scheme in ("redis", "rediss", "unix", "redis+sentinel"):
        return redis_cache(url, ttl=ttl, prefix=prefix)
    raise ValueError(
        f"unsupported cache URL scheme {scheme!r} (use redis://host:port/db or memory://)"
    )


def install_cache(url: str, *, ttl: int | None = None, prefix: str = DEFAULT_PREFIX) -> BaseCache:
    """Make :func:`cache_from_url` the process-wide cache of every LangChain model call.

    Models whose ``cache`` field is None (the default) use it; ``cache=False`` opts out.
    """
    from langchain_core.globals import set_llm_cache

    cache = cache_from_url(url, ttl=ttl, prefix=prefix)
    set_llm_cache(cache)
    return cache
