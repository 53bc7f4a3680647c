"""Reconciliation with Stripe (docs/domain.md, docs/staff.md): every payment and refund compared with Stripe's own
record (amount, status, currency), paging through Stripe's lists, and the sums compared with the
card clearing account. Each difference is stored for staff with a suggested action; zero is the
expected state. Single calls' payments and refunds (no account; paid and refunded through card
clearing like any card payment) are among them."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing.ledger import kernel as ledger
from billing.ledger.models import SystemAccount
from billing.ledger.money import format_cents
from billing.payments import stripe_gateway
from billing.payments.models import (
    Channel,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
)
from billing.staff.models import ReconciliationDifference, ReconciliationRun

# Our statuses each Stripe status may sit beside without a difference.
PAYMENT_STATUS_MATCHES: dict[str, set[str]] = {
    PaymentStatus.SUCCEEDED: {"succeeded"},
    PaymentStatus.FAILED: {"requires_payment_method", "canceled"},
    PaymentStatus.CANCELED: {"canceled", "requires_payment_method"},
    PaymentStatus.REQUIRES_ACTION: {"requires_action", "requires_confirmation"},
    PaymentStatus.PROCESSING: {"processing", "requires_capture"},
    PaymentStatus.CREATED: {"requires_payment_method", "requires_confirmation", "requires_action"},
}
REFUND_STATUS_MATCHES: dict[str, set[str]] = {
    RefundStatus.SUCCEEDED: {"succeeded"},
    RefundStatus.PENDING: {"pending"},
    RefundStatus.FAILED: {"failed", "canceled"},
}


@dataclass(frozen=True)
class Difference:
    kind: str
    suggested_action: str
    payment: Payment | None = None
    refund: Refund | None = None
    stripe_id: str = ""
    ours: str = ""
    stripes: str = ""


def reconciliation_run(*, since: datetime | None = None) -> ReconciliationRun:
    """Compare everything and store one run with its differences. Stripe records created before
    `since` are not reported as unknown to FamilyLine (our own rows are always all compared). Stripe
    unreachable: the run is stored with its error and no differences."""
    run = ReconciliationRun.objects.create()
    try:
        intents = {record.id: record for record in stripe_gateway.payment_intents_list_all()}
        stripe_refunds = {record.id: record for record in stripe_gateway.refunds_list_all()}
    except stripe_gateway.GatewayError as exc:
        run.error = exc.message[:500]
        run.finished_at = timezone.now()
        run.save(update_fields=["error", "finished_at"])
        return run
    cutoff = int(since.timestamp()) if since else 0
    payments = list(_card_payments())
    refunds = list(Refund.objects.filter(method=RefundMethod.CARD).select_related("payment").order_by("id"))
    differences = [
        *_payment_differences(payments, intents, cutoff),
        *_refund_differences(refunds, stripe_refunds, cutoff),
    ]
    stripe_net = _stripe_net(payments, refunds, intents, stripe_refunds)
    ledger_net = card_clearing_expected_net()
    if stripe_net != ledger_net:
        differences.append(
            Difference(
                kind="card_clearing_total",
                ours=f"card clearing {format_cents(ledger_net)}",
                stripes=f"net {format_cents(stripe_net)}",
                suggested_action="Find the entry posted to card clearing without a Stripe charge or refund "
                "(or the charge never posted) and correct it with a reversing entry.",
            )
        )
    with transaction.atomic():
        ReconciliationDifference.objects.bulk_create(
            ReconciliationDifference(
                run=run,
                kind=d.kind,
                payment=d.payment,
                refund=d.refund,
                stripe_id=d.stripe_id,
                ours=d.ours[:200],
                stripes=d.stripes[:200],
                suggested_action=d.suggested_action[:500],
            )
            for d in differences
        )
        run.payments_checked = len(payments)
        run.refunds_checked = len(refunds)
        run.stripe_net_cents = stripe_net
        run.ledger_card_clearing_cents = ledger_net
        run.finished_at = timezone.now()
        run.save()
    return run


def reconciliation_latest() -> ReconciliationRun | None:
    return ReconciliationRun.objects.filter(finished_at__isnull=False).order_by("-started_at", "-id").first()


def _card_payments():
    """Payments that went through Stripe (a live agent's terminal payment does not)."""
    through_stripe = Q(stripe_payment_intent_id__isnull=False) | Q(recorded_by__isnull=True)
    return Payment.objects.filter(through_stripe, method=PaymentMethod.CARD).order_by("id")


def _describe(status: str, amount_cents: int, currency: str) -> str:
    return f"{status} {format_cents(amount_cents)} {currency.upper()}"


def _payment_differences(payments, intents: dict, cutoff: int) -> list[Difference]:
    differences = []
    known = set()
    for payment in payments:
        intent = intents.get(payment.stripe_payment_intent_id or "")
        known.add(payment.stripe_payment_intent_id)
        difference = _payment_difference(payment, intent)
        if difference:
            differences.append(difference)
    for intent in intents.values():
        if intent.id not in known and intent.status == "succeeded" and intent.created >= cutoff:
            differences.append(
                Difference(
                    kind="stripe_charge_unknown",
                    stripe_id=intent.id,
                    stripes=_describe(intent.status, intent.amount_cents, intent.currency),
                    suggested_action="Stripe charged a card FamilyLine has no payment for: find the payer "
                    f"(metadata {intent.metadata or 'none'}) and refund it in Stripe or record it.",
                )
            )
    return differences


def _payment_difference(payment: Payment, intent) -> Difference | None:
    ours = _describe(payment.status, payment.total_cents, "usd")
    if intent is None:
        if payment.status != PaymentStatus.SUCCEEDED:
            return None  # never charged (declined before Stripe answered, abandoned)
        return Difference(
            kind="payment_missing_at_stripe",
            payment=payment,
            stripe_id=payment.stripe_payment_intent_id or "",
            ours=ours,
            suggested_action="Credited here but Stripe has no such charge: check the payment in Stripe's "
            "dashboard; if it was never charged, reverse its entry.",
        )
    stripes = _describe(intent.status, intent.amount_cents, intent.currency)
    if intent.amount_cents != payment.total_cents or intent.currency != "usd":
        return Difference(
            kind="payment_amount_mismatch",
            payment=payment,
            stripe_id=intent.id,
            ours=ours,
            stripes=stripes,
            suggested_action="Stripe charged a different amount or currency: refund the difference in "
            "Stripe or correct the account with an adjustment.",
        )
    if intent.status not in PAYMENT_STATUS_MATCHES.get(payment.status, set()):
        action = (
            "Stripe charged it but it was not credited: use the payment's Stripe events (Process now)."
            if intent.status == "succeeded"
            else "Stripe did not charge it but it was credited: reverse the payment's entry."
        )
        return Difference(
            kind="payment_status_mismatch",
            payment=payment,
            stripe_id=intent.id,
            ours=ours,
            stripes=stripes,
            suggested_action=action,
        )
    return None


def _refund_differences(refunds, stripe_refunds: dict, cutoff: int) -> list[Difference]:
    differences = []
    known = set()
    for refund in refunds:
        known.add(refund.stripe_refund_id)
        record = stripe_refunds.get(refund.stripe_refund_id or "")
        difference = _refund_difference(refund, record)
        if difference:
            differences.append(difference)
    for record in stripe_refunds.values():
        if record.id not in known and record.status == "succeeded" and record.created >= cutoff:
            differences.append(
                Difference(
                    kind="stripe_refund_unknown",
                    stripe_id=record.id,
                    stripes=_describe(record.status, record.amount_cents, record.currency),
                    suggested_action="Stripe refunded money FamilyLine did not record: find who issued it and "
                    "record it on the account.",
                )
            )
    return differences


def _refund_difference(refund: Refund, record) -> Difference | None:
    ours = _describe(refund.status, refund.amount_cents, "usd")
    if record is None:
        if not refund.stripe_refund_id:
            return None  # not sent yet (pending) or refused before Stripe took it
        return Difference(
            kind="refund_missing_at_stripe",
            refund=refund,
            stripe_id=refund.stripe_refund_id,
            ours=ours,
            suggested_action="Stripe has no such refund: send it again or pay it by check.",
        )
    stripes = _describe(record.status, record.amount_cents, record.currency)
    if record.amount_cents != refund.amount_cents or record.currency != "usd":
        return Difference(
            kind="refund_amount_mismatch",
            refund=refund,
            stripe_id=record.id,
            ours=ours,
            stripes=stripes,
            suggested_action="Stripe refunded a different amount: correct the account with an adjustment.",
        )
    if record.status not in REFUND_STATUS_MATCHES.get(refund.status, set()):
        return Difference(
            kind="refund_status_mismatch",
            refund=refund,
            stripe_id=record.id,
            ours=ours,
            stripes=stripes,
            suggested_action="Retry the card refund (it asks Stripe how it stands) or pay it by check.",
        )
    return None


def _stripe_net(payments, refunds, intents: dict, stripe_refunds: dict) -> int:
    """What Stripe says it collected for our payments, less what it refunded for our refunds."""
    ours = {p.stripe_payment_intent_id for p in payments if p.stripe_payment_intent_id}
    charged = sum(i.amount_cents for i in intents.values() if i.id in ours and i.status == "succeeded")
    ours_refunds = {r.stripe_refund_id for r in refunds if r.stripe_refund_id}
    refunded = sum(r.amount_cents for r in stripe_refunds.values() if r.id in ours_refunds and r.status == "succeeded")
    return charged - refunded


def card_clearing_expected_net() -> int:
    """What card clearing says Stripe owes us (payments in, refunds out), leaving out what is not
    Stripe's: a live agent's terminal payments and the disputed amounts moved to disputes."""
    clearing = -ledger.balance(ledger.system_account(SystemAccount.CARD_CLEARING))
    terminal = Payment.objects.filter(
        channel=Channel.PHONE_AGENT, status=PaymentStatus.SUCCEEDED, stripe_payment_intent_id__isnull=True
    ).exclude(recorded_by__isnull=True)
    terminal_cents = sum(p.total_cents for p in terminal.only("amount_cents", "fee_cents"))
    disputed = Dispute.objects.filter(hold_entry__isnull=False).exclude(status=DisputeStatus.WON)
    disputed_cents = disputed.aggregate(total=Sum("amount_cents"))["total"] or 0
    return clearing - terminal_cents + disputed_cents
