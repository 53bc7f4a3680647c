"""Call credits: a family asks for a call's charge back (it dropped, the sound was poor, it reached
the wrong number) within CALL_CREDIT_WINDOW; staff approve it (credited once through the ledger under
`call_credit:<id>`) or decline it with a reason. The holder is emailed either way."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.emails import account_email_enqueue
from accounts.models import AccountKind, User
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind, SystemAccount
from billing.statements import dunning
from billing.statements.models import CallCreditReason, CallCreditRequest, CallCreditStatus
from calls.models import CallRecord

CALL_CREDIT_WINDOW = timedelta(days=90)


class CallCreditError(DomainError):
    """A request that cannot be made or decided as asked. `message` is fit to show."""


def call_credit_eligible(*, call: CallRecord, now: datetime | None = None) -> bool:
    """Whether a credit may still be asked for this call (charged, within the window, not asked yet)."""
    now = now or timezone.now()
    return bool(call.entry_id and call.total_cents > 0 and call.started_at >= now - CALL_CREDIT_WINDOW)


def call_credit_request(
    *, call: CallRecord, holder: User, reason: str, details: str = "", now: datetime | None = None
) -> CallCreditRequest:
    """The holder of the account a call was charged to asks for its charge back. Raises
    CallCreditError (nothing stored) for someone else's call, a free call, one older than
    CALL_CREDIT_WINDOW, an unknown reason or a call already asked about."""
    if call.account is None or call.account.holder_id != holder.pk:
        raise CallCreditError(gettext("Choose a call charged to one of your accounts."))
    if reason not in CallCreditReason.values:
        raise CallCreditError(gettext("Choose what went wrong with the call."))
    if not call_credit_eligible(call=call, now=now):
        raise CallCreditError(gettext("A credit can be asked for a charged call within 90 days of the call."))
    details = " ".join(details.split())
    if len(details) > settings.REASON_MAX_LENGTH or len(details) > 500:
        raise CallCreditError(gettext("Keep the details under 500 characters."))
    try:
        with transaction.atomic():
            return CallCreditRequest.objects.create(
                call=call,
                account=call.account,
                requested_by=holder,
                reason=reason,
                details=details,
                amount_cents=call.total_cents,
            )
    except IntegrityError as exc:
        raise CallCreditError(gettext("You already asked for a credit for this call.")) from exc


def call_credit_approve(*, credit: CallCreditRequest, actor: User) -> CallCreditRequest:
    """Credit the call's total to its account once (`call_credit:<id>`, against adjustments: call
    revenue and tax stay as charged). Approving again changes nothing. Raises CallCreditError for a
    declined request."""
    with transaction.atomic():
        ledger.balance_lock(account=credit.account)  # lock order step 1
        credit = CallCreditRequest.objects.select_for_update().select_related("account", "call").get(pk=credit.pk)
        if credit.status == CallCreditStatus.APPROVED:
            return credit
        if credit.status == CallCreditStatus.DECLINED:
            raise CallCreditError("This request was declined.")
        result = ledger.post(
            idempotency_key=f"call_credit:{credit.pk}",
            kind=EntryKind.ADJUSTMENT,
            lines=[
                (ledger.account_ledger(credit.account), credit.amount_cents),
                (ledger.system_account(SystemAccount.ADJUSTMENTS), -credit.amount_cents),
            ],
            memo=f"Credit for the call of {timezone.localtime(credit.call.started_at):%b %d, %Y}",
            created_by=actor,
        )
        credit.entry = result.entry
        credit.status = CallCreditStatus.APPROVED
        credit.decided_by = actor
        credit.decided_at = timezone.now()
        credit.save(update_fields=["entry", "status", "decided_by", "decided_at"])
        if credit.account.kind == AccountKind.DIRECT_BILL:
            dunning.account_payment_received(account=credit.account)
        account_email_enqueue(
            account_id=credit.account_id,
            template="call_credit_approved",
            amount_cents=credit.amount_cents,
            call_started_at=credit.call.started_at.isoformat(),
        )
    return credit


def call_credit_decline(*, credit: CallCreditRequest, actor: User, reason: str) -> CallCreditRequest:
    """Decline an open request with a reason the holder is emailed. Raises CallCreditError without a
    reason or for a request already decided."""
    reason = " ".join(reason.split())
    if not reason:
        raise CallCreditError("Give the holder a reason.")
    with transaction.atomic():
        credit = CallCreditRequest.objects.select_for_update().select_related("call").get(pk=credit.pk)
        if credit.status != CallCreditStatus.OPEN:
            raise CallCreditError(f"This request is already {credit.get_status_display().lower()}.")
        credit.status = CallCreditStatus.DECLINED
        credit.decline_reason = reason[:500]
        credit.decided_by = actor
        credit.decided_at = timezone.now()
        credit.save(update_fields=["status", "decline_reason", "decided_by", "decided_at"])
        account_email_enqueue(
            account_id=credit.account_id,
            template="call_credit_declined",
            amount_cents=credit.amount_cents,
            reason=credit.decline_reason,
            call_started_at=credit.call.started_at.isoformat(),
        )
    return credit
