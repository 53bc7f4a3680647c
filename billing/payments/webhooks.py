"""Stripe webhook intake: verified on the raw body, stored once per event id, processed by a task
and retried by a periodic sweep."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.outbox import outbox_enqueue, outbox_handler
from billing.payments import disputes, stripe_gateway
from billing.payments.models import StripeEvent
from billing.payments.services import payment_intent_apply

logger = logging.getLogger(__name__)

HANDLED_EVENT_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
)
DISPUTE_HANDLERS = {
    "charge.dispute.created": disputes.dispute_opened,
    "charge.dispute.updated": disputes.dispute_opened,
    "charge.dispute.closed": disputes.dispute_closed,
}


# Stripe webhooks: stored first, processed by a task, retried by a periodic task.


def stripe_event_store(*, payload: bytes, signature_header: str) -> StripeEvent:
    """Verify a webhook on its raw body and store it once per event id, then enqueue its processing
    after commit. Raises stripe_gateway.SignatureError (nothing stored) for a bad signature. If the
    broker is down the event stays stored and the periodic task processes it later."""
    data = stripe_gateway.webhook_event_verify(payload=payload, signature_header=signature_header)
    with transaction.atomic():
        event, created = StripeEvent.objects.get_or_create(
            event_id=str(data["id"])[:255], defaults={"event_type": str(data["type"])[:100], "payload": data}
        )
        if created:
            outbox_enqueue(kind="stripe.event_process", payload={"event_pk": event.pk})
    return event


@outbox_handler("stripe.event_process")
def _stripe_event_process_after_commit(*, event_pk: int) -> None:
    stripe_event_process(event_pk=event_pk)


def stripe_event_process(*, event_pk: int) -> bool:
    """Process one stored event once. A failure is recorded on the event (attempts, last_error) and
    left for the periodic retry. Returns True when the event is (now or already) processed."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None:
            return False
        if event.processed_at:
            return True
        event.attempts += 1
        try:
            with transaction.atomic():
                _event_handle(event.event_type, event.payload)
        except Exception as exc:  # recorded for staff and retried; one bad event must not block others
            logger.exception("Stripe event %s failed", event.event_id)
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if event.attempts >= settings.STRIPE_EVENT_MAX_ATTEMPTS and event.parked_at is None:
                event.parked_at = timezone.now()
                logger.error("Stripe event %s parked for staff after %s attempts", event.event_id, event.attempts)
            event.save(update_fields=["attempts", "last_error", "parked_at"])
            return False
        event.processed_at = timezone.now()
        event.last_error = ""
        event.save(update_fields=["attempts", "last_error", "processed_at"])
    return True


def stripe_events_process_pending(*, older_than: timedelta = timedelta(seconds=30), limit: int = 500) -> int:
    """Process stored events still unprocessed after `older_than` (their task never ran or failed),
    fewest attempts first and then newest first, so events that keep failing never hold back new
    ones; an event parked after STRIPE_EVENT_MAX_ATTEMPTS is left for staff. Returns how many were
    processed."""
    cutoff = timezone.now() - older_than
    pending = (
        StripeEvent.objects.filter(processed_at__isnull=True, parked_at__isnull=True, received_at__lte=cutoff)
        .order_by("attempts", "-received_at", "-id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(stripe_event_process(event_pk=pk) for pk in list(pending))


def _event_handle(event_type: str, payload: dict) -> None:
    if event_type not in HANDLED_EVENT_TYPES:
        return
    obj = (payload.get("data") or {}).get("object") or {}
    if event_type in DISPUTE_HANDLERS and obj.get("object") == "dispute":
        DISPUTE_HANDLERS[event_type](data=obj)
        return
    if obj.get("object") != "payment_intent":
        return
    payment_intent_apply(intent=stripe_gateway.Intent.from_stripe(obj))
