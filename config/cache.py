"""A Redis cache that keeps answering while Redis is down.

allauth's rate limits, the facility cache and the token rate limit all use the default cache. With
Django's plain RedisCache an unreachable Redis turns each of those calls into an exception (a 500 on
login, sign-up and password reset). This backend answers from a per-process local-memory cache
instead, logs the outage once per retry window, and goes back to Redis when it answers again.
Rate limits are then counted per process: looser than shared counts, never a refused login.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

# Seconds before Redis is tried again after a failure (OPTIONS["FALLBACK_RETRY_SECONDS"]).
RETRY_SECONDS = 5.0
# A blackholed host must not hold a request for long (redis-py waits forever by default).
SOCKET_TIMEOUT_SECONDS = 0.5


class FallbackRedisCache(RedisCache):
    def __init__(self, server, params):
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self._retry_seconds = float(options.pop("FALLBACK_RETRY_SECONDS", RETRY_SECONDS))
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT_SECONDS)
        params["OPTIONS"] = options
        super().__init__(server, params)
        self._fallback = LocMemCache(f"fallback:{server}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._down_until = 0.0

    @property
    def redis_available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, name: str, fallback: Callable[[], Any], primary: Callable[[], Any]) -> Any:
        if not self.redis_available:
            return fallback()
        try:
            return primary()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self._retry_seconds
            logger.warning(
                "cache: Redis unavailable (%s during %s); using local memory for %.0f s",
                type(exc).__name__,
                name,
                self._retry_seconds,
            )
            return fallback()

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            "add",
            lambda: self._fallback.add(key, value, timeout, version),
            lambda: super(FallbackRedisCache, self).add(key, value, timeout, version),
        )

    def get(self, key, default=None, version=None):
        return self._call(
            "get",
            lambda: self._fallback.get(key, default, version),
            lambda: super(FallbackRedisCache, self).get(key, default, version),
        )

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            "set",
            lambda: self._fallback.set(key, value, timeout, version),
            lambda: super(FallbackRedisCache, self).set(key, value, timeout, version),
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            "touch",
            lambda: self._fallback.touch(key, timeout, version),
            lambda: super(FallbackRedisCache, self).touch(key, timeout, version),
        )

    def delete(self, key, version=None):
        return self._call(
            "delete",
            lambda: self._fallback.delete(key, version),
            lambda: super(FallbackRedisCache, self).delete(key, version),
        )

    def get_many(self, keys, version=None):
        return self._call(
            "get_many",
            lambda: self._fallback.get_many(keys, version),
            lambda: super(FallbackRedisCache, self).get_many(keys, version),
        )

    def has_key(self, key, version=None):
        return self._call(
            "has_key",
            lambda: self._fallback.has_key(key, version),
            lambda: super(FallbackRedisCache, self).has_key(key, version),
        )

    def incr(self, key, delta=1, version=None):
        return self._call(
            "incr",
            lambda: self._fallback.incr(key, delta, version),
            lambda: super(FallbackRedisCache, self).incr(key, delta, version),
        )

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            "set_many",
            lambda: self._fallback.set_many(data, timeout, version),
            lambda: super(FallbackRedisCache, self).set_many(data, timeout, version),
        )

    def delete_many(self, keys, version=None):
        return self._call(
            "delete_many",
            lambda: self._fallback.delete_many(keys, version),
            lambda: super(FallbackRedisCache, self).delete_many(keys, version),
        )

    def clear(self):
        return self._call("clear", lambda: self._fallback.clear(), lambda: super(FallbackRedisCache, self).clear())
