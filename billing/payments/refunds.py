"""Refunds: money FamilyLine sends back to a holder, to the card it came from or by check, without fee
(docs/domain.md). A closed account's balance (billing.closing), what a payment left above zero on a
closed or Direct Bill account, and a single call's unused part (billing.payments.single_call) are
refunded here.

A check goes to the mailing address the holder gave, else the one an earlier check refund of the
account went to, else the holder's profile; with none it waits (`needs_address`, on the staff work
queue). A check refund of an account that received a payment recorded by staff (mail, card
terminal) in the last OFFLINE_APPROVAL_WINDOW is approved by a second staff member of the billing or
supervisor group who recorded none of them before it may be marked sent.

Ledger: a check refund is posted when it is made (`refund:<id>`: account to refunds payable), so
the account's balance drops at once and what FamilyLine owes the holder is visible; mailing the
check settles it (`refund:<id>:sent`: refunds payable to mail clearing). A card refund is posted
(`refund:<id>`: account to card clearing) only once Stripe has accepted it, so the ledger never
shows money going back to a card that did not.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.emails import account_email_enqueue
from accounts.models import CallingAccount, User
from accounts.outbox import outbox_enqueue, outbox_handler
from accounts.states import US_STATES
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind, JournalEntry, SystemAccount
from billing.payments import stripe_gateway
from billing.payments.models import (
    CHECK_UNSENT_STATUSES,
    Channel,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
)

logger = logging.getLogger(__name__)

# A check refund of an account that received a staff-recorded payment this recently needs a second
# staff member's approval; only these groups approve.
OFFLINE_APPROVAL_WINDOW = timedelta(days=30)
OFFLINE_CHANNELS = (Channel.MAIL, Channel.PHONE_AGENT)
APPROVER_GROUPS = ("billing", "supervisor")


class RefundError(DomainError):
    """A refund cannot be changed as asked. `message` is fit to show; nothing was changed."""


@dataclass(frozen=True)
class MailingAddress:
    """Where a check is mailed."""

    name: str
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str

    @classmethod
    def of_holder(cls, holder: User) -> "MailingAddress | None":
        """The holder's profile address, or None when it is not complete enough to mail a check to."""
        address = cls(
            name=holder.get_full_name() or holder.email,
            line1=holder.address_line1.strip(),
            line2=holder.address_line2.strip(),
            city=holder.city.strip(),
            state=holder.state.strip(),
            postal_code=holder.postal_code.strip(),
        )
        return address if address.is_complete else None

    @property
    def is_complete(self) -> bool:
        return bool(self.line1 and self.city and self.state in dict(US_STATES) and self.postal_code)

    @property
    def one_line(self) -> str:
        return ", ".join(line for line in self.as_text().splitlines())

    def as_text(self) -> str:
        city_line = " ".join(part for part in (f"{self.city},", self.state, self.postal_code) if part.strip(", "))
        return "\n".join(line for line in (self.name, self.line1, self.line2, city_line) if line)


def check_refund_create(
    *,
    account: CallingAccount,
    amount_cents: int,
    actor: User | None,
    mailing_address: MailingAddress | None = None,
    address_known: bool = False,
) -> Refund:
    """A check refund, posted at once: the money leaves the account for refunds payable. It goes to
    `mailing_address`, else the one the account's earlier check refund went to, else the holder's
    profile; with none it waits for an address (`needs_address`). It needs a second staff member's
    approval when staff recorded a payment to the account within OFFLINE_APPROVAL_WINDOW."""
    if mailing_address is not None:
        address = mailing_address.as_text()
    else:  # `address_known`: the closing found none, so none is looked for again
        address = "" if address_known else _address_on_file(account)
    refund = Refund.objects.create(
        account=account,
        method=RefundMethod.CHECK,
        amount_cents=amount_cents,
        status=RefundStatus.PENDING if address else RefundStatus.NEEDS_ADDRESS,
        mailing_address=address,
        approval_needed=_offline_payments_recent(account=account, at=timezone.now()).exists(),
    )
    result = ledger.post(
        idempotency_key=f"refund:{refund.pk}",
        kind=EntryKind.REFUND,
        lines=[
            (ledger.account_ledger(account), -amount_cents),
            (ledger.system_account(SystemAccount.REFUNDS_PAYABLE), amount_cents),
        ],
        memo=f"Refund #{refund.pk} by check",
        created_by=actor,
    )
    refund.entry = result.entry
    refund.save(update_fields=["entry"])
    return refund


def _address_on_file(account: CallingAccount) -> str:
    earlier = (
        Refund.objects.filter(account=account, method=RefundMethod.CHECK)
        .exclude(mailing_address="")
        .order_by("-id")
        .values_list("mailing_address", flat=True)
        .first()
    )
    if earlier:
        return earlier
    address = MailingAddress.of_holder(CallingAccount.objects.select_related("holder").get(pk=account.pk).holder)
    return address.as_text() if address else ""


def _offline_payments_recent(*, account: CallingAccount, at: datetime):
    """Payments staff recorded for the account (mail, card terminal) in the window before `at`."""
    return Payment.objects.filter(
        account=account,
        channel__in=OFFLINE_CHANNELS,
        status=PaymentStatus.SUCCEEDED,
        recorded_by__isnull=False,
        succeeded_at__gte=at - OFFLINE_APPROVAL_WINDOW,
        succeeded_at__lte=at,
    )


def refund_card_send(*, refund: Refund) -> Refund:
    """Send a pending card refund to Stripe (idempotency key from the refund row) and post it.

    Callers may rely on: safe to call again (a refund not pending is returned as it is, and the row
    lock makes a second caller wait); Stripe accepting it posts `refund:<id>` and marks it sent;
    Stripe refusing it marks it failed and moves its amount to a new check refund; an unclear
    answer (the processor unreachable) leaves it pending, with the reason, to be retried."""
    with transaction.atomic():
        # Lock order: the account's ledger row (this posts to it), then the refund row.
        assert refund.account is not None, "a closed account's card refund (a single call's is sent apart)"
        ledger.balance_lock(account=refund.account)
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment", "account").get(pk=refund.pk)
        if refund.status != RefundStatus.PENDING or refund.method != RefundMethod.CARD:
            return refund
        assert refund.payment is not None and refund.account is not None, "a card refund returns its payment"
        assert refund.payment.stripe_payment_intent_id is not None, "card refunds are made of Stripe payments"
        try:
            result = stripe_gateway.refund_send(
                sent_id=refund.stripe_refund_id,
                payment_intent_id=refund.payment.stripe_payment_intent_id,
                amount_cents=refund.amount_cents,
                idempotency_key=f"familyline-refund-{refund.pk}",
                metadata={"refund_id": str(refund.pk), "account_id": str(refund.account_id)},
            )
        except stripe_gateway.GatewayError as exc:
            if not exc.declined:
                logger.warning("card refund #%s not confirmed; left pending for a retry", refund.pk)
                refund.failure_message = exc.message[:500]
                refund.save(update_fields=["failure_message"])
                return refund
            _card_refund_fail(refund=refund, message=exc.message)
            return refund
        if result.status in ("pending", "requires_action"):
            # Not money moved yet: posted only when Stripe says it succeeded (the retry task asks).
            card_refund_waiting(refund=refund, result=result)
            return refund
        if result.status != "succeeded":
            _card_refund_fail(refund=refund, message=f"The card processor answered {result.status}.")
            return refund
        posted = ledger.post(
            idempotency_key=f"refund:{refund.pk}",
            kind=EntryKind.REFUND,
            lines=[
                (ledger.account_ledger(refund.account), -refund.amount_cents),
                (ledger.system_account(SystemAccount.CARD_CLEARING), refund.amount_cents),
            ],
            memo=f"Refund #{refund.pk} to card ending {refund.payment.card_last4 or '—'}",
        )
        card_refund_succeeded(refund=refund, result=result, entry=posted.entry)
    return refund


def card_refund_waiting(*, refund: Refund, result: stripe_gateway.RefundResult) -> None:
    """Stripe took a card refund but has not moved the money yet: it is posted only once Stripe says it
    succeeded (a later send asks again)."""
    refund.stripe_refund_id = result.id
    refund.failure_message = f"The card processor is still processing this refund ({result.status})."
    refund.save(update_fields=["stripe_refund_id", "failure_message"])


def card_refund_succeeded(*, refund: Refund, result: stripe_gateway.RefundResult, entry: JournalEntry) -> None:
    """Mark a card refund Stripe accepted as sent, with the ledger entry that posted it."""
    refund.entry = entry
    refund.stripe_refund_id = result.id
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = timezone.now()
    refund.failure_message = ""
    refund.save(update_fields=["entry", "stripe_refund_id", "status", "succeeded_at", "failure_message"])


def closed_account_payment_refund(*, payment: Payment, amount_cents: int) -> Refund:
    """Refund what a payment credited to an already closed account left above zero (it raced the
    close, or its 3-D Secure step finished late; a payment toward a closed account's debt keeps
    what it paid off): a card payment back to its card, anything else by check. Runs inside the
    transaction that credited it; the card refund is sent after commit."""
    assert payment.account is not None, "a calling account's payment"
    if payment.method == PaymentMethod.CARD and payment.stripe_payment_intent_id:
        refund = Refund.objects.create(
            account=payment.account, payment=payment, method=RefundMethod.CARD, amount_cents=amount_cents
        )
        outbox_enqueue(kind="refund.card_send", payload={"refund_id": refund.pk})
        return refund
    return check_refund_create(account=payment.account, amount_cents=amount_cents, actor=None)


def _card_refund_fail(*, refund: Refund, message: str) -> None:
    assert refund.account is not None, "a closed account's card refund"
    refund.status = RefundStatus.FAILED
    refund.failure_message = message[:500]
    refund.save(update_fields=["status", "failure_message"])
    check_refund_create(account=refund.account, amount_cents=refund.amount_cents, actor=None)


def refund_check_mark_sent(*, refund: Refund, check_number: str, actor: User) -> Refund:
    """Staff record that a pending check refund was mailed. Posts `refund:<id>:sent` (refunds
    payable to mail clearing) once. Raises RefundError with a message fit to show otherwise."""
    check_number = check_number.strip()
    if not check_number:
        raise RefundError("Enter the check number.")
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.method == RefundMethod.CHECK and refund.status == RefundStatus.NEEDS_ADDRESS:
            raise RefundError(f"Refund #{refund.pk} has no mailing address yet: ask the holder for one first.")
        if refund.method != RefundMethod.CHECK or refund.status != RefundStatus.PENDING:
            raise RefundError(f"Refund #{refund.pk} is not a pending check refund.")
        if refund.approval_needed and refund.approved_by_id is None:
            raise RefundError(
                f"Refund #{refund.pk} needs a second staff member's approval first (staff recorded a payment "
                "to this account in the last 30 days)."
            )
        posted = ledger.post(
            idempotency_key=f"refund:{refund.pk}:sent",
            kind=EntryKind.REFUND,
            lines=[
                (ledger.system_account(SystemAccount.REFUNDS_PAYABLE), -refund.amount_cents),
                (ledger.system_account(SystemAccount.MAIL_CLEARING), refund.amount_cents),
            ],
            memo=f"Refund #{refund.pk}: check {check_number} mailed",
            created_by=actor,
        )
        refund.sent_entry = posted.entry
        refund.check_number = check_number[:100]
        refund.recorded_by = actor
        refund.status = RefundStatus.SUCCEEDED
        refund.succeeded_at = timezone.now()
        refund.save(update_fields=["sent_entry", "check_number", "recorded_by", "status", "succeeded_at"])
    return refund


def refund_check_approve(*, refund: Refund, actor: User) -> Refund:
    """A second staff member approves a check refund that needs it. Refused (RefundError, nothing
    changed) unless `actor` is in the billing or supervisor group and recorded none of the payments
    that made the approval necessary. A refund reduced afterwards keeps its approval."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.method != RefundMethod.CHECK or refund.status not in CHECK_UNSENT_STATUSES:
            raise RefundError(f"Refund #{refund.pk} is not a check refund waiting to be sent.")
        if not refund.approval_needed or refund.approved_by_id is not None:
            raise RefundError(f"Refund #{refund.pk} needs no approval (or has one already).")
        if not actor.is_active or not actor.groups.filter(name__in=APPROVER_GROUPS).exists():
            raise RefundError("Only a member of the billing or supervisor group approves a check refund.")
        assert refund.account is not None, "check refunds are made only for calling accounts"
        recorders = _offline_payments_recent(account=refund.account, at=refund.created_at).values_list(
            "recorded_by", flat=True
        )
        if actor.pk in set(recorders):
            raise RefundError(
                f"Refund #{refund.pk}: you recorded a payment to this account; another staff member must approve it."
            )
        refund.approved_by = actor
        refund.approved_at = timezone.now()
        refund.save(update_fields=["approved_by", "approved_at"])
    return refund


def refund_check_address_from_profile(*, refund: Refund) -> Refund:
    """A check refund waiting for an address takes the holder's profile address, once there is one
    (staff ask the holder to add it). Raises RefundError when there is still none."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("account__holder").get(pk=refund.pk)
        if refund.method != RefundMethod.CHECK or refund.status != RefundStatus.NEEDS_ADDRESS:
            raise RefundError(f"Refund #{refund.pk} is not waiting for a mailing address.")
        assert refund.account is not None, "check refunds are made only for calling accounts"
        address = MailingAddress.of_holder(refund.account.holder)
        if address is None:
            raise RefundError(f"Refund #{refund.pk}: the holder's profile still has no complete mailing address.")
        refund.mailing_address = address.as_text()
        refund.status = RefundStatus.PENDING
        refund.save(update_fields=["mailing_address", "status"])
    return refund


def refunds_card_retry_pending() -> int:
    """Send again every card refund left pending (Stripe unreachable, a crash after close).
    Returns how many were sent or moved to a check."""
    pending = Refund.objects.filter(
        method=RefundMethod.CARD, status=RefundStatus.PENDING, single_call__isnull=True
    ).order_by("id")
    return sum(refund_card_send(refund=refund).status != RefundStatus.PENDING for refund in pending)


@outbox_handler("refund.card_send")
def _refund_card_send_after_commit(*, refund_id: int) -> None:
    refund_card_send(refund=Refund.objects.get(pk=refund_id))


def refund_check_sent_record(*, refund: Refund, check_number: str, actor: User) -> Refund:
    """Mark a pending check refund mailed (`refund_check_mark_sent`) and email the holder in the
    same transaction (through the outbox). Raises RefundError with a message fit to show."""
    with transaction.atomic():
        refund = refund_check_mark_sent(refund=refund, check_number=check_number, actor=actor)
        assert refund.account_id is not None, "check refunds are made only for calling accounts"
        account_email_enqueue(
            account_id=refund.account_id,
            template="refund_check_sent",
            amount_cents=refund.amount_cents,
            check_number=refund.check_number,
            mailing_address=refund.mailing_address,
        )
    return refund
