"""Disputes (chargebacks, docs/domain.md): a family's bank takes back a card charge. The disputed amount
moves between system accounts only (card clearing to disputes while open; back when won, to dispute
losses when lost): the family's balance and calls are untouched and no fee is ever charged. The
family is told in plain words; staff read and resolve disputes in the admin."""

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.emails import account_email_enqueue
from accounts.models import User
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind, SystemAccount
from billing.payments import stripe_gateway
from billing.payments.models import (
    Dispute,
    DisputeParkedReason,
    DisputeStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)

CLOSED_STRIPE_STATUSES = {"won": DisputeStatus.WON, "lost": DisputeStatus.LOST}


class DisputeError(DomainError):
    """A dispute step that cannot be taken as asked; `message` is fit to show."""


def dispute_opened(*, data: dict) -> Dispute:
    """`charge.dispute.created` (or any dispute event seen first): record the dispute once per Stripe
    dispute id and hold its amount in disputes under `dispute:<id>:hold`. Safe to repeat.

    Only a dispute of a payment FamilyLine knows (and was paid), in dollars, up to what that payment
    took (its card refunds deducted) less what its other disputes hold, is posted; any other is
    recorded `parked` with its reason for staff, and nothing moves (a signed event can still carry
    any id or amount)."""
    with transaction.atomic():
        dispute, created = _dispute_for(data)
        if dispute.status == DisputeStatus.PARKED:
            return dispute
        if dispute.hold_entry_id is None:
            result = ledger.post(
                idempotency_key=f"dispute:{dispute.stripe_dispute_id}:hold",
                kind=EntryKind.ADJUSTMENT,
                lines=[
                    (ledger.system_account(SystemAccount.CARD_CLEARING), dispute.amount_cents),
                    (ledger.system_account(SystemAccount.DISPUTES), -dispute.amount_cents),
                ],
                memo=f"Dispute {dispute.stripe_dispute_id} opened ({dispute.reason or 'no reason given'})",
            )
            dispute.hold_entry = result.entry
            dispute.save(update_fields=["hold_entry"])
            if (
                dispute.payment is not None and dispute.payment.account_id is not None
            ):  # a single call's payer has no account
                account_email_enqueue(
                    account_id=dispute.payment.account_id,
                    template="dispute_opened",
                    amount_cents=dispute.amount_cents,
                    payment_id=dispute.payment_id,
                )
    return dispute


def dispute_closed(*, data: dict) -> Dispute:
    """`charge.dispute.closed`: won releases the amount back to card clearing, lost books it as
    FamilyLine's loss. Any other closing status (a warning closed) releases it too. Safe to repeat."""
    dispute = dispute_opened(data=data)
    outcome = CLOSED_STRIPE_STATUSES.get(str(data.get("status") or ""), DisputeStatus.WON)
    return dispute_resolve(dispute=dispute, outcome=outcome, actor=None, note=f"Stripe: {data.get('status')}")


def dispute_resolve(*, dispute: Dispute, outcome: DisputeStatus | str, actor: User | None, note: str = "") -> Dispute:
    """Close a dispute once (`dispute:<id>:close`): won moves the amount back from disputes to card
    clearing, lost to dispute losses. Resolving a closed dispute again changes nothing. Raises
    DisputeError for an outcome that is not won or lost."""
    if outcome not in (DisputeStatus.WON, DisputeStatus.LOST):
        raise DisputeError("A dispute is resolved as won or lost.")
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update(of=("self",)).select_related("payment").get(pk=dispute.pk)
        if dispute.status != DisputeStatus.OPEN:
            return dispute
        target = SystemAccount.CARD_CLEARING if outcome == DisputeStatus.WON else SystemAccount.DISPUTE_LOSSES
        result = ledger.post(
            idempotency_key=f"dispute:{dispute.stripe_dispute_id}:close",
            kind=EntryKind.ADJUSTMENT,
            lines=[
                (ledger.system_account(SystemAccount.DISPUTES), dispute.amount_cents),
                (ledger.system_account(target), -dispute.amount_cents),
            ],
            memo=f"Dispute {dispute.stripe_dispute_id} {outcome}",
            created_by=actor,
        )
        dispute.close_entry = result.entry
        dispute.status = outcome
        dispute.resolved_by = actor
        dispute.resolved_at = timezone.now()
        dispute.resolution_note = note[:500]
        dispute.save(update_fields=["close_entry", "status", "resolved_by", "resolved_at", "resolution_note"])
        if (
            dispute.payment is not None and dispute.payment.account_id is not None
        ):  # a single call's payer has no account
            account_email_enqueue(
                account_id=dispute.payment.account_id,
                template="dispute_closed",
                amount_cents=dispute.amount_cents,
                payment_id=dispute.payment_id,
            )
    return dispute


def _dispute_for(data: dict) -> tuple[Dispute, bool]:
    """The dispute row of a Stripe Dispute object, created on first sight and locked."""
    dispute_id = str(data.get("id") or "")
    amount = data.get("amount")
    if not dispute_id or not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DisputeError("not a Stripe Dispute object")
    found = (
        Dispute.objects.select_for_update(of=("self",)).select_related("payment").filter(stripe_dispute_id=dispute_id)
    )
    dispute = found.first()
    if dispute is not None:
        return dispute, False
    charge_id = _id_of(data.get("charge"))
    intent_id = _id_of(data.get("payment_intent")) or (
        stripe_gateway.charge_payment_intent(charge_id=charge_id) if charge_id else ""
    )
    # Locked so that two disputes of one payment, arriving at once, are measured one after the other.
    payment = (
        Payment.objects.select_for_update().filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    )
    currency = str(data.get("currency") or "usd")[:3].lower()
    parked = _unmatched_reason(payment=payment, amount_cents=amount, currency=currency)
    dispute, created = Dispute.objects.get_or_create(
        stripe_dispute_id=dispute_id[:255],
        defaults={
            "stripe_charge_id": charge_id[:255],
            "stripe_payment_intent_id": intent_id[:255],
            "payment": payment,
            "amount_cents": amount,
            "currency": currency,
            "reason": str(data.get("reason") or "")[:100],
            "stripe_status": str(data.get("status") or "")[:40],
            "status": DisputeStatus.PARKED if parked else DisputeStatus.OPEN,
            "parked_reason": parked,
        },
    )
    return Dispute.objects.select_for_update(of=("self",)).select_related("payment").get(pk=dispute.pk), created


def _unmatched_reason(*, payment: Payment | None, amount_cents: int, currency: str) -> str:
    """Why a dispute cannot be posted against `payment` ("" when it can)."""
    if payment is None:
        return DisputeParkedReason.UNKNOWN_PAYMENT
    if payment.status != PaymentStatus.SUCCEEDED:
        return DisputeParkedReason.PAYMENT_NOT_PAID
    if currency != "usd":
        return DisputeParkedReason.CURRENCY
    held = (
        Dispute.objects.filter(payment=payment)
        .exclude(status=DisputeStatus.PARKED)
        .aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )
    # Card refunds of this payment, sent or on their way: that money is going back to the card already.
    refunded = (
        Refund.objects.filter(payment=payment, status__in=(RefundStatus.PENDING, RefundStatus.SUCCEEDED)).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0
    )
    if amount_cents > payment.total_cents - refunded - held:
        return DisputeParkedReason.ABOVE_PAYMENT
    return ""


def _id_of(value) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")
