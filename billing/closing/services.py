"""Closing an account and refunding what is left on it, without fee (docs/domain.md).

Card-funded money goes back to the cards it came from, newest payment first, each payment up to
what it added (its fee was revenue for a service given and is never refunded); whatever is left
(mail-funded money, staff-entered card payments, card refunds Stripe refuses) becomes one check
refund that staff mail and record.

A check goes to the mailing address the holder gives before closing; without one no check is
prepared (the refund waits, `needs_address`, on the staff work queue: an inactivity close of a holder
with no address). A check refund of an account that received a payment recorded by staff (mail,
card terminal) in the last OFFLINE_APPROVAL_WINDOW is approved by a second staff member of the
billing or supervisor group who recorded none of them before it may be marked sent.

Ledger: a check refund is posted at close (`refund:<id>`: account to refunds payable), so the
closed account's balance is zero at once and what FamilyLine owes the holder is visible; mailing
the check settles it (`refund:<id>:sent`: refunds payable to mail clearing). A card refund is
posted (`refund:<id>`: account to card clearing) only once Stripe has accepted it, so the ledger
never shows money going back to a card that did not.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.emails import send_templated
from accounts.models import AccountStatus, CallingAccount, PhoneNumber, User
from accounts.outbox import outbox_enqueue, outbox_handler
from accounts.services import AccountError, account_mark_closed
from accounts.states import US_STATES
from billing import ledger
from billing.closing.activity import account_last_activity_at
from billing.ledger.models import EntryKind, SystemAccount
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
from calls.models import InmateDebitSponsorship

logger = logging.getLogger(__name__)

IN_FLIGHT_PAYMENT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
# A card payment still unsettled after this long was abandoned (3-D Secure never finished); it no
# longer stops the account from closing (staff reconcile it if Stripe ever settles it).
IN_FLIGHT_WINDOW = timedelta(days=1)
# A check refund of an account that received a staff-recorded payment this recently needs a second
# staff member's approval; only these groups approve.
OFFLINE_APPROVAL_WINDOW = timedelta(days=30)
OFFLINE_CHANNELS = (Channel.MAIL, Channel.PHONE_AGENT)
APPROVER_GROUPS = ("billing", "supervisor")


class CloseError(AccountError):
    """The account cannot be closed now. `message` is fit to show; nothing was changed. `field` names
    the form field at fault, if one is."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


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


@dataclass(frozen=True)
class CardRefundPlan:
    payment: Payment
    amount_cents: int


@dataclass(frozen=True)
class ClosePlan:
    """How closing would refund the balance, shown to the holder before anything happens."""

    balance_cents: int
    card: list[CardRefundPlan] = field(default_factory=list)
    check_cents: int = 0
    refusal: str = ""
    # Where the check goes: None until the holder gives an address (none is needed without a check).
    mailing_address: MailingAddress | None = None

    @property
    def refund_cents(self) -> int:
        return sum(line.amount_cents for line in self.card) + self.check_cents


def account_close_plan(
    *, account: CallingAccount, mailing_address: MailingAddress | None = None, now: datetime | None = None
) -> ClosePlan:
    """What `account_close` would do right now (it plans again under its lock). `refusal` says why
    the account cannot be closed, if it cannot."""
    return _plan(
        account=account,
        balance_cents=ledger.balance_get(account=account),
        now=now or timezone.now(),
        mailing_address=mailing_address,
    )


def _plan(
    *, account: CallingAccount, balance_cents: int, now: datetime, mailing_address: MailingAddress | None = None
) -> ClosePlan:
    refusal = _refusal(account=account, balance_cents=balance_cents, now=now)
    if refusal:
        return ClosePlan(balance_cents=balance_cents, refusal=refusal)
    left = max(0, balance_cents)
    card: list[CardRefundPlan] = []
    for payment, refundable_cents in _refundable_card_payments(account):
        if left <= 0:
            break
        amount = min(left, refundable_cents)
        if amount > 0:
            card.append(CardRefundPlan(payment=payment, amount_cents=amount))
            left -= amount
    return ClosePlan(
        balance_cents=balance_cents, card=card, check_cents=left, mailing_address=mailing_address if left else None
    )


def _refusal(*, account: CallingAccount, balance_cents: int, now: datetime) -> str:
    if account.status == AccountStatus.CLOSED:
        return gettext("This account is already closed.")
    if balance_cents < 0:
        return gettext("This account owes money. Please pay what you owe first, then close it.")
    # The money a call in progress holds may still be charged: refunding it now would leave the
    # closed account owing that call. The ledger-row lock `account_close` takes is the one call
    # authorization takes, so no new hold can appear while it decides.
    if ledger.holds_open_exist(account=account, now=now):
        return gettext("A call is in progress on this account. Please try again when it has ended.")
    in_flight = Payment.objects.filter(
        account=account, status__in=IN_FLIGHT_PAYMENT_STATUSES, created_at__gte=now - IN_FLIGHT_WINDOW
    )
    if in_flight.exists():
        return gettext("A payment to this account is still being processed. Please try again in a few minutes.")
    return ""


def _refundable_card_payments(account: CallingAccount) -> list[tuple[Payment, int]]:
    """Succeeded Stripe card payments, newest first, each with what is not yet refunded of it (pending
    card refunds count, they may still go through)."""
    payments = (
        Payment.objects.filter(
            account=account,
            method=PaymentMethod.CARD,
            status=PaymentStatus.SUCCEEDED,
            stripe_payment_intent_id__isnull=False,
        )
        .annotate(
            refunded=Sum(
                "refunds__amount_cents",
                filter=Q(refunds__method=RefundMethod.CARD)
                & Q(refunds__status__in=[RefundStatus.PENDING, RefundStatus.SUCCEEDED]),
                default=0,
            )
        )
        .order_by("-created_at", "-id")
    )
    return [(payment, payment.amount_cents - payment.refunded) for payment in payments]


def account_close(
    *,
    account: CallingAccount,
    actor: User | None,
    reason: str = "",
    mailing_address: MailingAddress | None = None,
    inactive_since: datetime | None = None,
) -> list[Refund]:
    """Close an account and refund its positive balance without fee.

    Callers may rely on: a refusal raises CloseError (a message fit to show) and changes nothing:
    a negative balance, for Direct Bill anything owed or an unpaid statement, a payment still in
    flight, or an account already closed (so closing twice, even at once, refunds once). Otherwise,
    in one transaction under a row lock on the account: it is closed (`closed_at`, a `closed`
    AccountEvent with the reason), its numbers are freed for other accounts, its inmate-debit
    sponsorships end, its open call holds are released, and one refund row per card payment
    (newest first, up to what each added) plus one check refund for the rest are created, the
    check posted at once. Then each card refund is sent to Stripe (`refund_card_send`); one Stripe
    refuses becomes a check refund. The holder is emailed the list after commit. Returns the
    account's refunds from this closing. With `inactive_since` (a close for inactivity), it refuses
    when the account saw any activity after that moment, rechecked under the lock.

    A check refund needs a complete mailing address: `mailing_address`, by default the holder's
    profile address. Without one a close is refused (CloseError on the field `mailing_address`),
    except a close for inactivity, whose check refund is then owed but waits for an address
    (`needs_address`: no check is prepared)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Lock order step 1: an authorization, payment or sponsorship waiting on this lock sees the
        # closed account afterwards, never a hold placed on money already being refunded.
        balance = ledger.balance_lock(account=account)
        account = (  # step 2, before the numbers, refunds and holds it changes
            CallingAccount.objects.select_for_update(of=("self",), no_key=True)
            .select_related("holder")
            .get(pk=account.pk)
        )
        plan = _plan(account=account, balance_cents=balance, now=now, mailing_address=mailing_address)
        if plan.refusal:
            raise CloseError(plan.refusal)
        if inactive_since is not None and account_last_activity_at(account=account) > inactive_since:
            raise CloseError(gettext("This account has been used again; it is no longer inactive."))
        if mailing_address is None:
            mailing_address = MailingAddress.of_holder(account.holder)
        if plan.check_cents and inactive_since is None and (mailing_address is None or not mailing_address.is_complete):
            raise CloseError(
                gettext("Enter the mailing address your refund check should be sent to."), field="mailing_address"
            )
        numbers = PhoneNumber.objects.filter(account=account, is_active=True)
        freed = [phone.number.as_e164 for phone in numbers.order_by("id")]
        numbers.update(is_active=False, removed_at=now)
        _sponsorships_end(account=account, actor=actor, now=now)
        _holds_release(account=account, now=now)
        refunds = [
            Refund.objects.create(
                account=account, payment=line.payment, method=RefundMethod.CARD, amount_cents=line.amount_cents
            )
            for line in plan.card
        ]
        if plan.check_cents:
            refunds.append(
                _check_refund_create(
                    account=account,
                    amount_cents=plan.check_cents,
                    actor=actor,
                    mailing_address=mailing_address,
                    address_known=True,
                )
            )
        account = account_mark_closed(
            account=account,
            actor=actor,
            reason=reason,
            data={"balance_cents": balance, "numbers_freed": freed, "refunds": [refund.pk for refund in refunds]},
            now=now,
        )
    for refund in refunds:
        if refund.method == RefundMethod.CARD:
            refund_card_send(refund=refund)
    outbox_enqueue(kind="email.account_closed", payload={"account_id": account.pk})
    # An account closes once, so every refund it has comes from this closing.
    return list(Refund.objects.filter(account=account).order_by("id"))


def _sponsorships_end(*, account: CallingAccount, actor: User | None, now: datetime) -> None:
    InmateDebitSponsorship.objects.filter(account=account, ended_at__isnull=True).update(ended_at=now, ended_by=actor)


def _holds_release(*, account: CallingAccount, now: datetime) -> None:
    ledger.holds_release_for_account(account=account, now=now)


def _check_refund_create(
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
            refund.stripe_refund_id = result.id
            refund.failure_message = f"The card processor is still processing this refund ({result.status})."
            refund.save(update_fields=["stripe_refund_id", "failure_message"])
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
        refund.entry = posted.entry
        refund.stripe_refund_id = result.id
        refund.status = RefundStatus.SUCCEEDED
        refund.succeeded_at = timezone.now()
        refund.failure_message = ""
        refund.save(update_fields=["entry", "stripe_refund_id", "status", "succeeded_at", "failure_message"])
    return refund


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
    return _check_refund_create(account=payment.account, amount_cents=amount_cents, actor=None)


def _card_refund_fail(*, refund: Refund, message: str) -> None:
    assert refund.account is not None, "a closed account's card refund"
    refund.status = RefundStatus.FAILED
    refund.failure_message = message[:500]
    refund.save(update_fields=["status", "failure_message"])
    _check_refund_create(account=refund.account, amount_cents=refund.amount_cents, actor=None)


def refund_check_mark_sent(*, refund: Refund, check_number: str, actor: User) -> Refund:
    """Staff record that a pending check refund was mailed. Posts `refund:<id>:sent` (refunds
    payable to mail clearing) once. Raises CloseError with a message fit to show otherwise."""
    check_number = check_number.strip()
    if not check_number:
        raise CloseError("Enter the check number.")
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.method == RefundMethod.CHECK and refund.status == RefundStatus.NEEDS_ADDRESS:
            raise CloseError(f"Refund #{refund.pk} has no mailing address yet: ask the holder for one first.")
        if refund.method != RefundMethod.CHECK or refund.status != RefundStatus.PENDING:
            raise CloseError(f"Refund #{refund.pk} is not a pending check refund.")
        if refund.approval_needed and refund.approved_by_id is None:
            raise CloseError(
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
    """A second staff member approves a check refund that needs it. Refused (CloseError, nothing
    changed) unless `actor` is in the billing or supervisor group and recorded none of the payments
    that made the approval necessary. A refund reduced afterwards keeps its approval."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.method != RefundMethod.CHECK or refund.status not in CHECK_UNSENT_STATUSES:
            raise CloseError(f"Refund #{refund.pk} is not a check refund waiting to be sent.")
        if not refund.approval_needed or refund.approved_by_id is not None:
            raise CloseError(f"Refund #{refund.pk} needs no approval (or has one already).")
        if not actor.is_active or not actor.groups.filter(name__in=APPROVER_GROUPS).exists():
            raise CloseError("Only a member of the billing or supervisor group approves a check refund.")
        assert refund.account is not None, "check refunds are made only for calling accounts"
        recorders = _offline_payments_recent(account=refund.account, at=refund.created_at).values_list(
            "recorded_by", flat=True
        )
        if actor.pk in set(recorders):
            raise CloseError(
                f"Refund #{refund.pk}: you recorded a payment to this account; another staff member must approve it."
            )
        refund.approved_by = actor
        refund.approved_at = timezone.now()
        refund.save(update_fields=["approved_by", "approved_at"])
    return refund


def refund_check_address_from_profile(*, refund: Refund) -> Refund:
    """A check refund waiting for an address takes the holder's profile address, once there is one
    (staff ask the holder to add it). Raises CloseError when there is still none."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update(of=("self",)).select_related("account__holder").get(pk=refund.pk)
        if refund.method != RefundMethod.CHECK or refund.status != RefundStatus.NEEDS_ADDRESS:
            raise CloseError(f"Refund #{refund.pk} is not waiting for a mailing address.")
        assert refund.account is not None, "check refunds are made only for calling accounts"
        address = MailingAddress.of_holder(refund.account.holder)
        if address is None:
            raise CloseError(f"Refund #{refund.pk}: the holder's profile still has no complete mailing address.")
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


@outbox_handler("email.account_closed")
def _send_closed_email(*, account_id: int) -> None:
    account = CallingAccount.objects.select_related("holder").get(pk=account_id)
    refunds = list(Refund.objects.filter(account_id=account_id).select_related("payment").order_by("id"))
    send_templated(
        to=account.holder.email,
        template="account_closed",
        context={"account": account, "refunds": refunds},
    )
