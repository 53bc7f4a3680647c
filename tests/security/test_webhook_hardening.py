"""The Stripe webhook refuses what it cannot store or should not trust with a 4xx (never a 500),
and a stored event that keeps failing is parked so it never holds back new ones."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from billing.payments import webhooks
from billing.payments.models import StripeEvent

pytestmark = pytest.mark.django_db
WEBHOOK_URL = reverse("billing:stripe_webhook")


def signed(payload: bytes, *, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = settings.STRIPE_WEBHOOK_SECRET
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post(client, payload: bytes, signature: str | None = None):
    return client.post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature if signature is not None else signed(payload)},
    )


def event(event_id: str, **extra) -> bytes:
    return json.dumps({"id": event_id, "type": "customer.created", "data": {"object": {}}, **extra}).encode()


def test_two_thousand_levels_of_nesting_is_a_400(client):
    payload = b'{"id": "evt_deep", "type": "x", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = post(client, payload)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_signed_event_with_a_nul_character_is_a_400_and_not_stored(client):
    payload = b'{"id": "evt_nul", "type": "payment_intent.succeeded", "data": {"object": {"x": "a\\u0000b"}}}'
    response = post(client, payload)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    # Stripe redelivers on its own bounded schedule; nothing on our side retries it.
    assert webhooks.stripe_events_process_pending(older_than=timedelta(0)) == 0


def test_an_oversized_body_is_a_413_and_not_stored(client):
    payload = event("evt_big", padding="x" * (settings.STRIPE_WEBHOOK_MAX_BYTES + 1))
    assert post(client, payload).status_code == 413
    assert not StripeEvent.objects.exists()


def test_a_body_past_djangos_upload_limit_is_a_413_and_not_stored(client):
    payload = event("evt_huge", padding="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    response = post(client, payload)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
    assert not StripeEvent.objects.exists()


def test_an_event_timestamped_an_hour_in_the_future_is_refused(client):
    payload = event("evt_future")
    response = post(client, payload, signed(payload, timestamp=int(time.time()) + 3600))
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_an_event_an_hour_old_is_refused_and_a_fresh_one_accepted(client):
    payload = event("evt_old")
    assert post(client, payload, signed(payload, timestamp=int(time.time()) - 3600)).status_code == 400
    assert post(client, payload).status_code == 200
    assert StripeEvent.objects.filter(event_id="evt_old").exists()


def _stored(event_id: str, *, payload: dict, age: timedelta) -> StripeEvent:
    stored = StripeEvent.objects.create(event_id=event_id, event_type=payload["type"], payload=payload)
    StripeEvent.objects.filter(pk=stored.pk).update(received_at=timezone.now() - age)
    return stored


BROKEN = {"id": "evt_broken", "type": "payment_intent.succeeded", "data": {"object": {"object": "payment_intent"}}}


def test_an_event_that_keeps_failing_is_parked_after_the_bounded_attempts(settings):
    settings.STRIPE_EVENT_MAX_ATTEMPTS = 3
    broken = _stored("evt_broken", payload=BROKEN, age=timedelta(hours=1))
    for _ in range(5):
        webhooks.stripe_events_process_pending(older_than=timedelta(0))
    broken.refresh_from_db()
    assert broken.attempts == 3 and broken.parked_at is not None and broken.processed_at is None
    assert broken.last_error


def test_a_parked_event_does_not_delay_a_new_one(settings):
    settings.STRIPE_EVENT_MAX_ATTEMPTS = 2
    broken = _stored("evt_broken", payload=BROKEN, age=timedelta(hours=2))
    for _ in range(2):
        webhooks.stripe_events_process_pending(older_than=timedelta(0))
    broken.refresh_from_db()
    assert broken.parked_at is not None
    fresh = _stored("evt_fresh", payload={"id": "evt_fresh", "type": "customer.created"}, age=timedelta(minutes=5))
    # A sweep that can take only one event takes the new one, not the parked one.
    assert webhooks.stripe_events_process_pending(older_than=timedelta(0), limit=1) == 1
    fresh.refresh_from_db()
    assert fresh.processed_at is not None


def test_failing_events_do_not_starve_new_ones_before_they_are_parked():
    failing = [
        _stored(f"evt_bad_{i}", payload={**BROKEN, "id": f"evt_bad_{i}"}, age=timedelta(hours=3)) for i in range(3)
    ]
    webhooks.stripe_events_process_pending(older_than=timedelta(0))  # each fails once
    fresh = _stored("evt_new", payload={"id": "evt_new", "type": "customer.created"}, age=timedelta(minutes=1))
    assert webhooks.stripe_events_process_pending(older_than=timedelta(0), limit=1) == 1
    fresh.refresh_from_db()
    assert fresh.processed_at is not None
    assert all(StripeEvent.objects.get(pk=e.pk).processed_at is None for e in failing)


def test_parked_events_are_a_filter_in_the_admin(admin_client, settings):
    settings.STRIPE_EVENT_MAX_ATTEMPTS = 1
    _stored("evt_broken", payload=BROKEN, age=timedelta(hours=1))
    webhooks.stripe_events_process_pending(older_than=timedelta(0))
    response = admin_client.get(reverse("admin:billing_stripeevent_changelist") + "?parked_at__isnull=False")
    assert response.status_code == 200
    assert b"evt_broken" in response.content
