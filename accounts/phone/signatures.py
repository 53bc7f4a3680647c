"""Twilio signs every webhook request (X-Twilio-Signature: an HMAC of the URL it called and the form
fields, keyed by the account's auth token). A request whose signature does not match is refused with
403 before anything is read or written."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "HTTP_X_TWILIO_SIGNATURE"


def public_url(request: HttpRequest) -> str:
    """The address Twilio called: PUBLIC_BASE_URL (the proxy's public address) and the path with its
    query string; without that setting, the address this server was reached at."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if base:
        return base + request.get_full_path()
    return request.build_absolute_uri()


def twilio_request_valid(request: HttpRequest) -> bool:
    """True when the request carries Twilio's signature for its URL and POST fields. Without an auth
    token nothing is valid: an unsigned request is never trusted."""
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.META.get(SIGNATURE_HEADER, "")
    if not token or not signature:
        return False
    params = request.POST.dict() if request.method == "POST" else {}
    return RequestValidator(token).validate(public_url(request), params, signature)


def twilio_signed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A Twilio webhook view: POST only (Twilio posts form fields), 403 unless signed."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST" or not twilio_request_valid(request):
            return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapped
