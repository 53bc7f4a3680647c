import threading
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

_clock = time.monotonic  # the seconds the limit counts in (a test holds it still)


class PlatformTokenRateThrottle(BaseThrottle):
    """At most PLATFORM_TOKEN_RATE_PER_SECOND requests per token per second in each worker process
    (0 turns it off, as in the HTTP benchmark). Counted in process memory: no Redis round trip on the
    hot path, and nothing to fail when Redis is down. With N workers a token gets at most N times
    the rate, which still bounds a leaked token."""

    _lock = threading.Lock()
    _windows: dict[int, tuple[int, int]] = {}  # token id -> (second, requests in it)

    def allow_request(self, request, view) -> bool:
        rate = settings.PLATFORM_TOKEN_RATE_PER_SECOND
        token = request.auth
        if rate <= 0 or token is None:
            return True
        second = int(_clock())
        with self._lock:
            window, count = self._windows.get(token.pk, (second, 0))
            if window != second:
                window, count = second, 0
            if count >= rate:
                return False
            self._windows[token.pk] = (window, count + 1)
        return True

    def wait(self) -> float:
        return 1.0
