"""The outbox: work after commit (docs/architecture.md).

A domain service calls `outbox_enqueue(kind=…, payload=…)` inside its transaction. After commit the
drain task is kicked (never raising: with the broker down the row simply waits), and a periodic sweep
drains whatever is left. Each kind has one handler, registered with `@outbox_handler(kind)` by the
module that owns the work (emails, refunds…); the Celery worker imports them all through the apps'
task modules. Delivery is at least once: handlers are idempotent on their payload.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# After this many failures a message stays in the table for staff (the admin lists it), untried.
MAX_ATTEMPTS = 8
_HANDLERS: dict[str, Callable[..., object]] = {}


def outbox_handler(kind: str) -> Callable:
    """Register the function that does the work of `kind`; it receives the payload as keywords."""

    def register(func: Callable) -> Callable:
        if _HANDLERS.get(kind, func) is not func:
            raise RuntimeError(f"two outbox handlers for {kind!r}")
        _HANDLERS[kind] = func
        return func

    return register


def outbox_enqueue(*, kind: str, payload: dict, delay: timedelta | None = None) -> OutboxMessage:
    """Record work to do after the current transaction commits (or at once, outside one)."""
    message = OutboxMessage.objects.create(
        kind=kind, payload=payload, available_at=timezone.now() + (delay or timedelta())
    )
    if delay is None:
        transaction.on_commit(_kick, robust=True)
    return message


def _kick() -> None:
    try:
        outbox_drain_task.apply_async(retry=False)
    except Exception:  # the broker is down: the periodic sweep sends it once the broker is back
        logger.warning("could not enqueue the outbox drain; the periodic sweep will send it")


def outbox_drain(*, limit: int = 200, now: datetime | None = None) -> int:
    """Run due messages, oldest first, each in its own transaction under a row lock (skipping rows
    another worker holds). A failure is recorded and retried later with a growing delay. Returns
    how many messages were done."""
    done = 0
    for _ in range(limit):
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(done_at__isnull=True, available_at__lte=now or timezone.now(), attempts__lt=MAX_ATTEMPTS)
                .order_by("available_at", "id")
                .first()
            )
            if message is None:
                break
            done += _run(message)
    return done


def _run(message: OutboxMessage) -> int:
    message.attempts += 1
    handler = _HANDLERS.get(message.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for outbox kind {message.kind!r} in this process")
        with transaction.atomic():
            handler(**message.payload)
    except Exception as exc:  # recorded and retried; one failing message never blocks the others
        logger.exception("outbox message #%s (%s) failed", message.pk, message.kind)
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.available_at = timezone.now() + timedelta(seconds=30 * 2**message.attempts)
        message.save(update_fields=["attempts", "last_error", "available_at"])
        return 0
    message.done_at = timezone.now()
    message.last_error = ""
    message.save(update_fields=["attempts", "last_error", "done_at"])
    return 1


@shared_task(name="accounts.outbox.outbox_drain")
def outbox_drain_task() -> int:
    """After commit and periodically: run the outbox's due messages."""
    return outbox_drain()
