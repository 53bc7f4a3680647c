"""Account notices by text, beside their emails: the service that emails also calls
`account_text_enqueue` in its transaction; after commit the outbox handler queues one text per number
that agreed to texts about the account, in the holder's language.

Alerts that would arrive between 9 pm and 8 am in the holder's time zone wait until 8 am; receipts go
at once."""

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import CallingAccount, TextConsent, TextPurpose
from accounts.outbox import outbox_enqueue, outbox_handler

from .sending import consents_for_account, text_queue, texts_kick
from .wording import account_notice_text

TEXT_ACCOUNT = "text.account"
# The emails that also go by text, and what kind of text each is.
TEXTED = {
    "low_balance": TextPurpose.ALERT,
    "calls_stopped": TextPurpose.ALERT,
    "auto_reload_stopped": TextPurpose.ALERT,
    "account_suspended": TextPurpose.ALERT,
    "statement_ready": TextPurpose.ALERT,
    "payment_receipt": TextPurpose.RECEIPT,
}
QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)


def quiet_hours_end(*, now: datetime, zone: str) -> datetime:
    """`now`, or 8 am (the holder's zone) when `now` falls between 9 pm and 8 am there."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return now
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=tz)


def account_text_enqueue(*, account_id: int, template: str, **context) -> None:
    """In the caller's transaction: text the account's opted-in numbers after commit, when `template`
    goes by text. `context` (JSON values: amount_cents, balance_cents, due_date) fills the text."""
    # One indexed read spares an outbox row for every notice of the many accounts with no texts.
    if template in TEXTED and TextConsent.objects.filter(account_id=account_id, withdrawn_at__isnull=True).exists():
        outbox_enqueue(
            kind=TEXT_ACCOUNT,
            payload={"account_id": account_id, "template": template, "context": context, "key": uuid.uuid4().hex},
        )


@outbox_handler(TEXT_ACCOUNT)
def account_text_queue(*, account_id: int, template: str, context: dict, key: str) -> int:
    """Queue the texts (once per `key` and number, however often the outbox runs this)."""
    consents = consents_for_account(account_id)
    if not consents:
        return 0
    account = CallingAccount.objects.select_related("holder").get(pk=account_id)
    purpose = TEXTED[template]
    now = timezone.now()
    send_after = now if purpose == TextPurpose.RECEIPT else quiet_hours_end(now=now, zone=account.holder.time_zone)
    language = account.holder.preferred_language
    body = account_notice_text(template=template, language=language, context={**context, "account_id": account_id})
    queued = 0
    for consent in consents:
        message = text_queue(
            to=str(consent.number),
            body=body,
            purpose=purpose,
            language=language,
            send_after=send_after,
            account_id=account_id,
            template=template,
            dedupe_key=f"{TEXT_ACCOUNT}:{key}",
        )
        queued += message is not None
    if queued and send_after <= now:
        transaction.on_commit(texts_kick, robust=True)
    return queued
