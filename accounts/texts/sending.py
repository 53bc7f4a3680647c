"""Sending texts at most once, and the numbers that said STOP.

A message is queued (a row), then claimed: marked "sending" in a transaction of its own that commits
before the provider is asked. The provider's answer is then recorded: "sent", "failed" (refused: it did
not go out; an opted-out refusal marks the number stopped), or "unknown" (no clear answer). Nothing
picks up a "sending" or "unknown" message again: staff see them in the admin and decide."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import TextConsent, TextMessage, TextOptOut

from .backends import OPTED_OUT_ERROR, Outgoing, SendRefused, SendUnclear, backend_get
from .wording import checked, segments_count

logger = logging.getLogger(__name__)

# A message claimed this long ago and still "sending" lost its worker mid-send: it becomes "unknown".
SENDING_STALE_AFTER = timedelta(minutes=10)


def number_stopped(number: str) -> bool:
    return TextOptOut.objects.filter(number=number, opted_out_at__isnull=False).exists()


def number_stop(*, number: str, keyword: str, now: datetime | None = None) -> None:
    """The number replied STOP (or a synonym), or the carrier refused a text as opted out: nothing
    more is sent to it, from this moment, until it replies START. Queued texts to it are canceled."""
    now = now or timezone.now()
    with transaction.atomic():
        TextOptOut.objects.update_or_create(
            number=number, defaults={"keyword": keyword[:20], "opted_out_at": now, "resumed_at": None}
        )
        TextMessage.objects.filter(to_number=number, status=TextMessage.Status.QUEUED).update(
            status=TextMessage.Status.CANCELED, error_message=f"The number replied {keyword[:20]}."
        )


def number_resume(*, number: str, keyword: str, now: datetime | None = None) -> bool:
    """The number replied START: texts to it may go again (to the consents still in force). Returns
    whether it had stopped."""
    now = now or timezone.now()
    return bool(
        TextOptOut.objects.filter(number=number, opted_out_at__isnull=False).update(
            opted_out_at=None, resumed_at=now, keyword=keyword[:20]
        )
    )


def text_queue(
    *,
    to: str,
    body: str,
    purpose: str,
    language: str,
    send_after: datetime | None = None,
    account_id: int | None = None,
    template: str = "",
    dedupe_key: str = "",
    channel: str = TextMessage.Channel.SMS,
) -> TextMessage | None:
    """Queue one message; None when this cause already queued one for this number."""
    if channel == TextMessage.Channel.SMS:
        checked(body)
    try:
        with transaction.atomic():
            return TextMessage.objects.create(
                to_number=to,
                channel=channel,
                body=body,
                purpose=purpose,
                language=language,
                segments=segments_count(body) if channel == TextMessage.Channel.SMS else 0,
                account_id=account_id,
                template=template,
                dedupe_key=dedupe_key,
                send_after=send_after or timezone.now(),
            )
    except IntegrityError:
        return None


def _claim(*, message_id: int | None = None, now: datetime | None = None) -> TextMessage | None:
    """Mark one queued message "sending" and commit: the given one, or the oldest due one."""
    now = now or timezone.now()
    with transaction.atomic():
        queued = TextMessage.objects.select_for_update(skip_locked=True).filter(status=TextMessage.Status.QUEUED)
        if message_id is not None:
            message = queued.filter(pk=message_id).first()
        else:
            message = queued.filter(send_after__lte=now).order_by("send_after", "id").first()
        if message is None:
            return None
        if message.purpose != "code" and number_stopped(message.to_number):
            message.status = TextMessage.Status.CANCELED
            message.error_message = "The number replied STOP."
            message.save(update_fields=["status", "error_message"])
            return message
        message.status = TextMessage.Status.SENDING
        message.attempted_at = now
        message.save(update_fields=["status", "attempted_at"])
    return message


def _status_callback_url() -> str:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("texts:twilio_status") if base else ""


def _deliver(message: TextMessage, *, body: str | None = None) -> TextMessage:
    """Ask the provider once and record its answer. `body` is the text to send when the stored one
    is redacted (a code)."""
    outgoing = Outgoing(
        kind=message.channel,
        to=str(message.to_number),
        body=body if body is not None else message.body,
        status_callback=_status_callback_url() if message.channel == TextMessage.Channel.SMS else "",
    )
    fields = ["status", "provider_sid", "error_code", "error_message"]
    try:
        message.provider_sid = backend_get().send(outgoing)
        message.status = TextMessage.Status.SENT
    except SendUnclear as exc:
        logger.warning("text #%s: no clear answer from the provider; left for staff", message.pk)
        message.status = TextMessage.Status.UNKNOWN
        message.error_message = str(exc)[:500]
    except SendRefused as exc:
        message.status = TextMessage.Status.FAILED
        message.error_code = exc.code
        message.error_message = str(exc)[:500]
        if exc.code == OPTED_OUT_ERROR:
            number_stop(number=str(message.to_number), keyword="carrier")
    message.save(update_fields=fields)
    return message


def text_send_now(*, message: TextMessage, body: str | None = None) -> TextMessage:
    """Send a message just queued (a code) in this request. Outside any transaction, so the
    "sending" mark is committed before the provider is asked."""
    claimed = _claim(message_id=message.pk)
    if claimed is None or claimed.status != TextMessage.Status.SENDING:
        return claimed or message
    return _deliver(claimed, body=body)


def texts_send_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send the queued messages that are due, each once; returns how many were handed to the
    provider. Also turns messages stuck in "sending" (their worker died) into "unknown"."""
    now = now or timezone.now()
    TextMessage.objects.filter(status=TextMessage.Status.SENDING, attempted_at__lt=now - SENDING_STALE_AFTER).update(
        status=TextMessage.Status.UNKNOWN, error_message="The sender stopped before recording Twilio's answer."
    )
    sent = 0
    for _ in range(limit):
        message = _claim(now=now)
        if message is None:
            break
        if message.status == TextMessage.Status.SENDING:
            _deliver(message)
            sent += 1
    return sent


@shared_task(name="accounts.texts.sending.texts_send_due")
def texts_send_due_task() -> int:
    return texts_send_due()


def texts_kick() -> None:
    """After commit: send what is due now (the periodic sweep sends it otherwise)."""
    try:
        texts_send_due_task.apply_async(retry=False)
    except Exception:  # the broker is down: the periodic sweep sends it
        logger.warning("could not enqueue the text sender; the periodic sweep will send it")


def consents_for_account(account_id: int) -> list[TextConsent]:
    """The numbers that agreed to texts about this account and have not replied STOP."""
    stopped = TextOptOut.objects.filter(opted_out_at__isnull=False).values("number")
    return list(
        TextConsent.objects.filter(account_id=account_id, withdrawn_at__isnull=True)
        .exclude(number__in=stopped)
        .order_by("id")
    )
