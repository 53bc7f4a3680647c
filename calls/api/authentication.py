import math
import threading
import time

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.security import client_ip
from calls import selectors

_clock = time.time  # the seconds failure windows count in (a test moves it)


class TokenGuessingThrottled(exceptions.Throttled):
    default_detail = "Too many requests with a wrong token from this address."


class FailedTokenAttempts:
    """Wrong bearer tokens counted per client address in fixed windows of
    PLATFORM_TOKEN_FAILURE_WINDOW_SECONDS, in the shared cache (so every worker counts together).
    Past PLATFORM_TOKEN_FAILURES_PER_WINDOW failures, the address gets 429s until its window ends,
    whatever token it sends, and no token it sends is looked up.

    A valid token from an address that has not failed costs nothing here: the count is touched only
    on a failure, and the check before a lookup reads the cache only for an address this process has
    itself seen go over the limit (an empty dict otherwise)."""

    _lock = threading.Lock()
    _blocked: dict[str, float] = {}  # address -> end of the window it went over the limit in

    @staticmethod
    def _key(address: str, window_start: int) -> str:
        return f"platform-token-failures:{address}:{window_start}"

    @staticmethod
    def _window(now: float) -> tuple[int, int]:
        length = settings.PLATFORM_TOKEN_FAILURE_WINDOW_SECONDS
        start = int(now // length) * length
        return start, start + length

    @classmethod
    def refuse_if_blocked(cls, request) -> None:
        if not cls._blocked:
            return
        address = client_ip(request)
        end = cls._blocked.get(address)
        if end is None:
            return
        now = _clock()
        start, _ = cls._window(now)
        # The shared count decides: the window may have ended, or staff may have cleared it.
        if now >= end or (cache.get(cls._key(address, start)) or 0) <= settings.PLATFORM_TOKEN_FAILURES_PER_WINDOW:
            with cls._lock:
                cls._blocked.pop(address, None)
            return
        raise TokenGuessingThrottled(wait=math.ceil(end - now))

    @classmethod
    def record(cls, request) -> None:
        """Count one failure of the request's address; raise TokenGuessingThrottled past the limit."""
        limit = settings.PLATFORM_TOKEN_FAILURES_PER_WINDOW
        if limit <= 0:
            return
        address = client_ip(request)
        now = _clock()
        start, end = cls._window(now)
        key = cls._key(address, start)
        cache.add(key, 0, timeout=end - start + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=end - start + 1)
            count = 1
        if count > limit:
            with cls._lock:
                if len(cls._blocked) > 10_000:  # stay bounded under a spread-out attack
                    cls._blocked = {a: e for a, e in cls._blocked.items() if e > now}
                cls._blocked[address] = end
            raise TokenGuessingThrottled(wait=math.ceil(end - now))


class PlatformTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` with a token staff issued to the phone platform in the admin.
    Wrong tokens are throttled per client address (FailedTokenAttempts)."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        FailedTokenAttempts.refuse_if_blocked(request)
        if len(parts) != 2:
            self._fail(request, "The Authorization header must be 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            self._fail(request, "Invalid token.")
        token = selectors.platform_token_authenticate(raw=raw)
        if token is None:
            self._fail(request, "Invalid or revoked token.")
        return (token, token)

    @staticmethod
    def _fail(request, message: str):
        FailedTokenAttempts.record(request)
        raise exceptions.AuthenticationFailed(message)

    def authenticate_header(self, request):
        return 'Bearer realm="familyline-platform"'


class PlatformTokenScheme(OpenApiAuthenticationExtension):
    target_class = PlatformTokenAuthentication
    name = "platformToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token issued to the platform by FamilyLine staff.",
        }
