"""Stripe webhooks: verified on the raw body, stored once per event id, processed by a task, retried
by the periodic task; a PaymentIntent is credited once whichever path reports it first."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
import requests
import time_machine
from django.conf import settings
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts.services import account_open
from billing import tasks
from billing.ledger.models import JournalEntry
from billing.payments import selectors, services, stripe_gateway, webhooks
from billing.payments.models import Payment, PaymentStatus, StripeEvent
from config.celery import app as celery_app
from tests.helpers import DECLINED_CARD, balance_of, confirmed_setup_intent

WEBHOOK_URL = reverse("billing:stripe_webhook")


def signed(payload: bytes, secret: str | None = None) -> str:
    """A Stripe-Signature header, computed the way Stripe signs deliveries."""
    timestamp = int(time.time())
    secret = secret or settings.STRIPE_WEBHOOK_SECRET
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_event(client, payload: bytes, signature: str | None = None):
    return client.post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature if signature is not None else signed(payload)},
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """Post a webhook and run what the view deferred to commit (the task enqueue), as a real
    request would once its transaction commits."""

    def post(payload: bytes, signature: str | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, payload, signature)

    return post


def stripe_events(base_url: str, event_type: str):
    """Every event of this type localstripe produced, page by page."""
    params = {"type": event_type, "limit": 100}
    while True:
        page = requests.get(
            f"{base_url}/v1/events", params=params, auth=(settings.STRIPE_SECRET_KEY, ""), timeout=10
        ).json()
        yield from page["data"]
        if not page.get("has_more") or not page["data"]:
            return
        params["starting_after"] = page["data"][-1]["id"]


def stripe_event_for(base_url: str, event_type: str, payment_intent_id: str) -> dict:
    """The event localstripe itself produced for this PaymentIntent."""
    return next(e for e in stripe_events(base_url, event_type) if e["data"]["object"]["id"] == payment_intent_id)


def charge_without_server_check(base_url: str, holder, account, amount_cents: int = 2500) -> Payment:
    """Our payment row and a confirmed PaymentIntent, as if the server crashed before checking it:
    only the webhook can credit this one."""
    setup = stripe_gateway.setup_intent_retrieve(setup_intent_id=confirmed_setup_intent(base_url, holder))
    quote = services.payment_quote(account=account, amount_cents=amount_cents, channel="web")
    payment = Payment.objects.create(
        account=account, channel="web", amount_cents=amount_cents, fee_cents=quote.fee_cents
    )
    intent = stripe_gateway.payment_intent_create(
        amount_cents=payment.total_cents,
        customer_id=holder.stripe_customer_id,
        payment_method_id=setup.payment_method,
        idempotency_key=f"test-{payment.pk}",
        metadata={"payment_id": str(payment.pk)},
    )
    assert intent.status == "succeeded"
    payment.intent_id = intent.id
    return payment


def test_webhook_first_then_server_check_and_five_duplicates_credit_once(stripe_server, deliver, holder, account):
    payment = charge_without_server_check(stripe_server, holder, account)
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)
    payload = json.dumps(event).encode()

    responses = [deliver(payload) for _ in range(5)]
    # Stripe may also send the same news under other event ids; the PaymentIntent is what counts.
    for n in range(2):
        other = json.dumps({**event, "id": f"{event['id']}_again{n}"}).encode()
        responses.append(deliver(other))
    server_check = services.payment_intent_apply(
        intent=stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.intent_id)
    )

    assert [r.status_code for r in responses] == [200] * 7
    assert StripeEvent.objects.count() == 3
    assert StripeEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert server_check.pk == payment.pk and server_check.status == PaymentStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.stripe_payment_intent_id == server_check.stripe_payment_intent_id
    assert balance_of(account) == 2500
    assert JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}").count() == 1
    assert JournalEntry.objects.count() == 1
    assert selectors.ledger_violations() == []


def test_server_check_first_then_webhook_credits_once(stripe_server, deliver, holder, account):
    payment = services.card_payment_create(
        holder=holder, account=account, amount_cents=1800, setup_intent_id=confirmed_setup_intent(stripe_server, holder)
    )
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.stripe_payment_intent_id)

    for _ in range(5):
        assert deliver(json.dumps(event).encode()).status_code == 200

    stored = StripeEvent.objects.get()
    assert stored.processed_at is not None and stored.attempts == 1
    assert balance_of(account) == 1800
    assert JournalEntry.objects.count() == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda payload: signed(payload, secret="whsec_someone_else"),
        lambda payload: "",
        lambda payload: signed(payload.replace(b"2800", b"9999")),
        lambda payload: "t=1,v1=deadbeef",
    ],
    ids=["wrong-secret", "no-signature", "signed-other-body", "garbage"],
)
def test_forged_webhook_is_refused_and_stores_nothing(stripe_server, deliver, holder, account, forge):
    payment = charge_without_server_check(stripe_server, holder, account)
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)
    payload = json.dumps(event).encode()

    response = deliver(payload, signature=forge(payload))

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert not JournalEntry.objects.exists()
    assert balance_of(account) == 0


def test_payment_failed_webhook_marks_the_payment_failed(stripe_server, deliver, holder, account):
    setup_id = confirmed_setup_intent(stripe_server, holder, DECLINED_CARD)
    with pytest.raises(services.PaymentError):
        services.card_payment_create(holder=holder, account=account, amount_cents=2500, setup_intent_id=setup_id)
    payment = Payment.objects.get()
    event = next(
        e
        for e in stripe_events(stripe_server, "payment_intent.payment_failed")
        if e["data"]["object"]["metadata"].get("payment_id") == str(payment.pk)
    )

    assert deliver(json.dumps(event).encode()).status_code == 200

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.stripe_payment_intent_id == event["data"]["object"]["id"]
    assert StripeEvent.objects.get().processed_at is not None
    assert not JournalEntry.objects.exists()


def test_event_that_does_not_match_our_payment_is_kept_for_staff_and_retried(stripe_server, deliver, holder, account):
    payment = charge_without_server_check(stripe_server, holder, account)
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)
    event["data"]["object"]["amount"] = 100  # signed by us as if Stripe said so: must not be credited
    assert deliver(json.dumps(event).encode()).status_code == 200

    stored = StripeEvent.objects.get()
    assert stored.processed_at is None and stored.attempts == 1
    assert "expected 2800" in stored.last_error
    assert balance_of(account) == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert tasks.stripe_events_process_pending.delay().get() == 0
    stored.refresh_from_db()
    assert stored.attempts == 2 and balance_of(account) == 0


def test_other_event_types_are_stored_and_marked_processed(db, deliver):
    payload = json.dumps({"id": "evt_customer_1", "type": "customer.created", "data": {"object": {}}}).encode()
    assert deliver(payload).status_code == 200
    assert StripeEvent.objects.get().processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_webhook_while_the_broker_is_down_is_stored_and_processed_later(
    stripe_server, deliver, holder, broker_down, caplog
):
    account = account_open(holder=holder)
    payment = charge_without_server_check(stripe_server, holder, account)
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)

    response = deliver(json.dumps(event).encode())

    assert response.status_code == 200
    assert "could not enqueue the outbox drain" in caplog.text
    stored = StripeEvent.objects.get()
    assert stored.processed_at is None and stored.attempts == 0
    assert balance_of(account) == 0

    # The broker is back; the periodic task picks up what was left.
    celery_app.conf.task_always_eager = True
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert tasks.stripe_events_process_pending.delay().get() == 1
    stored.refresh_from_db()
    assert stored.processed_at is not None
    assert balance_of(account) == 2500
    assert selectors.ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_real_deliveries_from_stripe_after_the_server_check_credit_once(stripe_server, live_server, holder):
    """localstripe delivers `payment_intent.succeeded` itself, signed, to five registrations of our
    endpoint (five deliveries of one event) about a second after the server already credited it."""
    account = account_open(holder=holder)
    hook_ids = [f"familyline-{uuid.uuid4().hex[:8]}-{n}" for n in range(5)]
    for hook_id in hook_ids:
        requests.post(
            f"{stripe_server}/_config/webhooks/{hook_id}",
            data={"url": f"{live_server.url}{WEBHOOK_URL}", "secret": settings.STRIPE_WEBHOOK_SECRET},
            timeout=10,
        ).raise_for_status()
    try:
        payment = services.card_payment_create(
            holder=holder,
            account=account,
            amount_cents=2500,
            setup_intent_id=confirmed_setup_intent(stripe_server, holder),
        )
        assert payment.status == PaymentStatus.SUCCEEDED
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            event = StripeEvent.objects.filter(
                event_type="payment_intent.succeeded", payload__data__object__id=payment.stripe_payment_intent_id
            ).first()
            if event and event.processed_at:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the webhook never arrived")
    finally:
        for hook_id in hook_ids:  # registrations outlive the test: point them nowhere
            requests.post(
                f"{stripe_server}/_config/webhooks/{hook_id}",
                data={"url": "http://127.0.0.1:9/", "secret": "whsec_unused"},
                timeout=10,
            )

    assert balance_of(account) == 2500
    assert JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}").count() == 1
    assert (
        StripeEvent.objects.filter(
            event_type="payment_intent.succeeded", payload__data__object__id=payment.stripe_payment_intent_id
        ).count()
        == 1
    )
    assert selectors.ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_server_check_and_five_webhooks_racing_in_threads_credit_once(stripe_server, holder):
    account = account_open(holder=holder)
    payment = charge_without_server_check(stripe_server, holder, account)
    payload = json.dumps(stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)).encode()
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.intent_id)
    barrier = threading.Barrier(6)
    errors = []

    def work(i):
        try:
            barrier.wait()
            if i == 0:
                services.payment_intent_apply(intent=intent)
            else:
                webhooks.stripe_event_store(payload=payload, signature_header=signed(payload))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert balance_of(account) == 2500
    assert JournalEntry.objects.count() == 1
    stored = StripeEvent.objects.get()
    assert stored.processed_at is not None
    assert selectors.ledger_violations() == []


def test_webhook_credits_a_payment_whose_charge_response_was_lost(stripe_server, deliver, holder, account):
    """The server gave up on Stripe's answer (and told the payer so) but the card was charged."""
    payment = charge_without_server_check(stripe_server, holder, account)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.FAILED, failure_message="timeout")
    event = stripe_event_for(stripe_server, "payment_intent.succeeded", payment.intent_id)

    assert deliver(json.dumps(event).encode()).status_code == 200

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.failure_message == ""
    assert balance_of(account) == 2500
    assert selectors.ledger_violations() == []
