"""Closing an account and refunding what is left on it, without fee (docs/domain.md).

Card-funded money goes back to the cards it came from, newest payment first, each payment up to
what it added (its fee was revenue for a service given and is never refunded); whatever is left
(mail-funded money, staff-entered card payments, card refunds Stripe refuses) becomes one check
refund that staff mail and record.

A check goes to the mailing address the holder gives before closing; without one no check is
prepared (the refund waits, `needs_address`, on the staff work queue: an inactivity close of a holder
with no address). How refunds are sent, approved and posted is the payments workflow's
(`billing/payments/refunds.py`).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.emails import send_templated
from accounts.models import AccountStatus, CallingAccount, PhoneNumber, User
from accounts.outbox import outbox_enqueue, outbox_handler
from accounts.services import AccountError, account_mark_closed
from billing.closing.activity import account_last_activity_at
from billing.ledger import kernel as ledger
from billing.payments.models import (
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
)
from billing.payments.refunds import MailingAddress, check_refund_create, refund_card_send
from billing.payments.services import IN_FLIGHT_PAYMENT_STATUSES, IN_FLIGHT_WINDOW
from calls.models import InmateDebitSponsorship

logger = logging.getLogger(__name__)


class CloseError(AccountError):
    """The account cannot be closed now. `message` is fit to show; nothing was changed. `field` names
    the form field at fault, if one is."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


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
                check_refund_create(
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


@outbox_handler("email.account_closed")
def _send_closed_email(*, account_id: int) -> None:
    account = CallingAccount.objects.select_related("holder").get(pk=account_id)
    refunds = list(Refund.objects.filter(account_id=account_id).select_related("payment").order_by("id"))
    send_templated(
        to=account.holder.email,
        template="account_closed",
        context={"account": account, "refunds": refunds},
    )
