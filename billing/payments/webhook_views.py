"""Stripe's webhook: verified, stored once per event, processed by a task."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.payments import stripe_gateway, webhooks


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verified on the raw body, stored once per event id, processed by a task. Bad signature: 400; a
    body over STRIPE_WEBHOOK_MAX_BYTES (no Stripe event is that large): 413, unread past Django's limit."""
    try:
        payload = request.body
    except RequestDataTooBig:
        payload = None
    if payload is None or len(payload) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    try:
        webhooks.stripe_event_store(payload=payload, signature_header=request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.SignatureError:
        return HttpResponseBadRequest("invalid signature")
    return HttpResponse("ok")
