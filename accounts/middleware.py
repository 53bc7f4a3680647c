import time
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django.utils import translation


class PreferredLanguageMiddleware:
    """Show a logged-in holder the site in the language on their profile.

    Runs after LocaleMiddleware and AuthenticationMiddleware: anonymous visitors keep the language
    LocaleMiddleware negotiated (the footer switch's cookie, then the browser's Accept-Language).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "preferred_language", ""):
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class IdleSessionTimeoutMiddleware:
    """Log out a session that has been idle too long: staff after SESSION_IDLE_TIMEOUT_STAFF,
    families after SESSION_IDLE_TIMEOUT_FAMILY. Each request stamps the last activity (a session
    write at most once a minute, so busy pages do not write on every request)."""

    KEY = "last_activity"
    STAMP_EVERY_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last = request.session.get(self.KEY)
            limit = settings.SESSION_IDLE_TIMEOUT_STAFF if user.is_staff else settings.SESSION_IDLE_TIMEOUT_FAMILY
            if isinstance(last, int) and now - last > limit.total_seconds():
                logout(request)
                if request.path.startswith("/admin/"):
                    return redirect_to_login(request.get_full_path(), reverse("admin:login"))
                return redirect_to_login(request.get_full_path())
            if not isinstance(last, int) or now - last >= self.STAMP_EVERY_SECONDS:
                request.session[self.KEY] = now
        return self.get_response(request)


def stripe_csp_sources() -> dict[str, list[str]]:
    """The Stripe origins the card pages need, from the settings in force: for real Stripe its
    documented origins (js.stripe.com scripts and frames, hooks.stripe.com frames for 3-D Secure,
    api.stripe.com for Stripe.js' API calls); for a stand-in such as localstripe the origins of
    STRIPE_JS_URL and STRIPE_API_BASE."""
    js = _origin(settings.STRIPE_JS_URL)
    api = _origin(settings.STRIPE_API_BASE)
    if js == "https://js.stripe.com":
        return {
            "script-src": [js],
            "frame-src": [js, "https://hooks.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
        }
    sources = sorted({origin for origin in (js, api) if origin})
    return {"script-src": [js] if js else [], "frame-src": sources, "connect-src": sources}


def _origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class StripeCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the Stripe origins added from the settings at request time
    (tests and `make run` point Stripe at a local stand-in). The Django admin keeps 'unsafe-inline'
    for styles only: its change list writes one inline <style> block; scripts stay strict."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if report_only:
            return parts
        base = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
        extra = stripe_csp_sources()
        if request.path.startswith("/admin/"):
            extra["style-src"] = ["'unsafe-inline'"]
        replace = {directive: _merge(base.get(directive, []), sources) for directive, sources in extra.items()}
        parts.replace = {**replace, **(parts.replace or {})}
        return parts


def _merge(own: list[str], extra: list[str]) -> list[str]:
    kept = [source for source in own if source != "'none'"]
    return kept + [source for source in extra if source not in kept] or ["'none'"]
