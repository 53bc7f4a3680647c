"""Paying for a single call, for the phone menu: find the offer by its code (who is calling, the
price), charge the card the caller gave (a Stripe PaymentMethod id from `<Pay>`) through the same
card-charging code as every card payment, and give back what was not used: the rest after the call
(sent when it completes) or everything when a paid offer expires unused.

The price is the facility's rate in force at payment times its per-call maximum minutes, with tax,
and no fee (a single call's charge is passed through, never marked up). It is fixed on the offer
when the payment is created."""

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.outbox import outbox_enqueue, outbox_handler
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from billing.payments import refunds, services, stripe_gateway
from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus, Refund, RefundMethod, RefundStatus
from calls import single_calls
from calls.models import SingleCall, SingleCallStatus
from calls.selectors import FacilityInfo, facility_info_get

logger = logging.getLogger(__name__)

LIVE_PAYMENT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)


@dataclass(frozen=True)
class SingleCallOffer:
    """What the phone menu reads back for a code: who is calling, and the price."""

    id: int
    call_id: str
    facility_name: str
    inmate_name: str
    minutes: int
    rate_per_minute: Decimal
    charge_cents: int
    tax_cents: int
    expires_at: datetime.datetime
    paid: bool  # already paid: nothing more to pay

    @property
    def total_cents(self) -> int:
        return self.charge_cents + self.tax_cents


class PayOutcome:
    PAID = "paid"
    DECLINED = "declined"
    NEEDS_AUTHENTICATION = "needs_authentication"  # 3-D Secure, which a phone call cannot do
    PENDING = "pending"  # Stripe's answer is not known yet: the offer is paid when it is
    EXPIRED = "expired"  # no offer with this id can be paid now
    PRICE_CHANGED = "price_changed"


@dataclass(frozen=True)
class PayResult:
    outcome: str
    message: str = ""
    payment: Payment | None = None
    total_cents: int = 0

    @property
    def paid(self) -> bool:
        return self.outcome == PayOutcome.PAID


def _facility_info(offer: SingleCall) -> FacilityInfo | None:
    return facility_info_get(code=offer.facility.code)


def _quote(offer: SingleCall, now: datetime.datetime) -> tuple[int, Decimal, Decimal, int, int] | None:
    """(minutes, rate, tax rate, charge, tax) at the rate in force now; the price fixed at payment
    once paid. None when the facility has no paid plan in force now."""
    if offer.paid_at is not None:
        return offer.price_paid()
    info = _facility_info(offer)
    plan = info.plan_at(now) if info else None
    if info is None or plan is None or plan.is_free:
        return None
    minutes, cost = single_calls.single_call_price(info=info, plan=plan)
    return minutes, plan.rate_per_minute, plan.tax_rate, cost.charge_cents, cost.tax_cents


def single_call_offer_find(*, code: str, now: datetime.datetime | None = None) -> SingleCallOffer | None:
    """The live offer with this code (unpaid or paid, not expired), with the names and the price the
    caller hears. None for a code no live offer has (wrong, used or expired)."""
    now = now or timezone.now()
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return None
    offer = (
        SingleCall.objects.filter(
            code=code, status__in=(SingleCallStatus.OFFERED, SingleCallStatus.PAID), expires_at__gt=now
        )
        .select_related("facility", "inmate")
        .first()
    )
    if offer is None:
        return None
    quote = _quote(offer, now)
    if quote is None:
        return None
    minutes, rate, _, charge, tax = quote
    return SingleCallOffer(
        id=offer.pk,
        call_id=offer.call_id,
        facility_name=offer.facility.name,
        inmate_name=offer.inmate.full_name,
        minutes=minutes,
        rate_per_minute=rate,
        charge_cents=charge,
        tax_cents=tax,
        expires_at=offer.expires_at,
        paid=offer.status == SingleCallStatus.PAID,
    )


def single_call_pay(
    *,
    offer_id: int,
    payment_method_id: str,
    expected_total_cents: int | None = None,
    now: datetime.datetime | None = None,
) -> PayResult:
    """Charge the single call's price to the card (`payment_method_id`, from `<Pay>`), no fee, through
    the card-payment code every channel uses (`stripe_gateway.payment_intent_create`, idempotency key
    from the payment row; `services.payment_intent_apply` posts it once, whichever of this call and
    Stripe's webhook sees it first).

    Callers may rely on: the same `payment_method_id` sent again for the same offer (a retried
    callback) answers what the first attempt came to and charges nothing, at Stripe or here; an
    offer expired, used or unknown is refused (EXPIRED) before anything is charged;
    `expected_total_cents` (what the caller heard) different from the price now is refused
    (PRICE_CHANGED) before anything is charged; an offer already paid answers PAID again and charges
    nothing more; while one payment of the offer is on its way, another attempt charges nothing and
    answers PENDING; a declined card (DECLINED) leaves the offer payable with another card; a card
    that asks for 3-D Secure is not charged (its PaymentIntent is canceled) and answers
    NEEDS_AUTHENTICATION."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            offer = SingleCall.objects.select_for_update().select_related("facility").filter(pk=offer_id).first()
            if offer is None:
                return PayResult(PayOutcome.EXPIRED)
            if offer.status in (SingleCallStatus.PAID, SingleCallStatus.AUTHORIZED, SingleCallStatus.COMPLETED):
                paid = Payment.objects.filter(single_call=offer, status=PaymentStatus.SUCCEEDED).first()
                return PayResult(PayOutcome.PAID, payment=paid, total_cents=offer.total_cents)
            same = Payment.objects.filter(single_call=offer, stripe_payment_method_id=payment_method_id).first()
            if same is not None:  # the same card entry sent again: its outcome, nothing charged again
                return _outcome_of(same)
            if offer.status != SingleCallStatus.OFFERED or offer.expires_at <= now:
                return PayResult(PayOutcome.EXPIRED)
            live = Payment.objects.filter(single_call=offer, status__in=LIVE_PAYMENT_STATUSES).first()
            if live is not None:
                return PayResult(PayOutcome.PENDING, payment=live, total_cents=live.total_cents)
            quote = _quote(offer, now)
            if quote is None:
                return PayResult(PayOutcome.EXPIRED)
            minutes, rate, tax_rate, charge, tax = quote
            if expected_total_cents is not None and expected_total_cents != charge + tax:
                return PayResult(PayOutcome.PRICE_CHANGED, total_cents=charge + tax)
            # The price is fixed now, on the offer and on its payment.
            offer.minutes, offer.rate_per_minute, offer.tax_rate = minutes, rate, tax_rate
            offer.charge_cents, offer.tax_cents = charge, tax
            offer.save(update_fields=["minutes", "rate_per_minute", "tax_rate", "charge_cents", "tax_cents"])
            payment = Payment.objects.create(
                single_call=offer,
                channel=Channel.PHONE_IVR,
                method=PaymentMethod.CARD,
                amount_cents=charge + tax,
                fee_cents=0,
                stripe_payment_method_id=payment_method_id[:255],
                card_last4=stripe_gateway.payment_method_last4(payment_method_id=payment_method_id),
            )
    except IntegrityError:  # another attempt created its payment at the same moment
        live = Payment.objects.filter(single_call_id=offer_id, status__in=LIVE_PAYMENT_STATUSES).first()
        return PayResult(PayOutcome.PENDING, payment=live)
    return _charge(payment=payment, payment_method_id=payment_method_id)


def _charge(*, payment: Payment, payment_method_id: str) -> PayResult:
    offer = payment.single_call
    assert offer is not None, "a single call's payment"
    try:
        intent = stripe_gateway.payment_intent_create(
            amount_cents=payment.total_cents,
            customer_id="",
            payment_method_id=payment_method_id,
            idempotency_key=f"familyline-payment-{payment.pk}",
            metadata={"payment_id": str(payment.pk), "single_call": offer.call_id},
        )
    except stripe_gateway.GatewayError as exc:
        if exc.declined:
            _fail(payment, exc.message)
            return PayResult(PayOutcome.DECLINED, message=exc.message, payment=payment, total_cents=payment.total_cents)
        # The request may have reached Stripe: its webhook settles this payment (by the payment id in
        # the intent's metadata). Until then the offer takes no other payment.
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(status=PaymentStatus.PROCESSING)
        payment.refresh_from_db()
        return PayResult(PayOutcome.PENDING, message=exc.message, payment=payment, total_cents=payment.total_cents)
    try:
        payment = services.payment_intent_apply(intent=intent) or payment
    except services.PaymentMismatchError:
        logger.exception("single call payment #%s does not match its PaymentIntent %s", payment.pk, intent.id)
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.PROCESSING, stripe_payment_intent_id=intent.id
        )
        payment.refresh_from_db()
        return PayResult(PayOutcome.PENDING, payment=payment, total_cents=payment.total_cents)
    if payment.status == PaymentStatus.SUCCEEDED:
        return PayResult(PayOutcome.PAID, payment=payment, total_cents=payment.total_cents)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        # Nobody can answer 3-D Secure on a phone call: the intent is canceled, nothing is charged.
        assert payment.stripe_payment_intent_id is not None, "a payment waiting for 3-D Secure has its intent"
        try:
            services.payment_intent_apply(
                intent=stripe_gateway.payment_intent_cancel(payment_intent_id=payment.stripe_payment_intent_id)
            )
        except stripe_gateway.GatewayError:
            logger.warning("could not cancel single call payment #%s awaiting 3-D Secure", payment.pk)
        payment.refresh_from_db()
        return PayResult(PayOutcome.NEEDS_AUTHENTICATION, payment=payment, total_cents=payment.total_cents)
    if payment.status == PaymentStatus.FAILED:
        return PayResult(PayOutcome.DECLINED, message=payment.failure_message, payment=payment)
    return PayResult(PayOutcome.PENDING, payment=payment, total_cents=payment.total_cents)


def _outcome_of(payment: Payment) -> PayResult:
    """What an earlier attempt with the same card entry came to."""
    outcomes: dict[str, str] = {
        PaymentStatus.SUCCEEDED: PayOutcome.PAID,
        PaymentStatus.FAILED: PayOutcome.DECLINED,
        PaymentStatus.CANCELED: PayOutcome.NEEDS_AUTHENTICATION,
    }
    outcome = outcomes.get(payment.status, PayOutcome.PENDING)
    return PayResult(outcome, message=payment.failure_message, payment=payment, total_cents=payment.total_cents)


def _fail(payment: Payment, message: str) -> None:
    Payment.objects.filter(pk=payment.pk).exclude(status=PaymentStatus.SUCCEEDED).update(
        status=PaymentStatus.FAILED, failure_message=message[:500]
    )
    payment.refresh_from_db()


# --- refunds -------------------------------------------------------------------------------------


def single_call_refund_send(*, refund_id: int) -> Refund:
    """Send a single call's refund to its card (Stripe idempotency key from the refund row) and post
    it (`single_call:<call_id>:refund`: single calls to card clearing) once Stripe accepts it.

    Callers may rely on: safe to call again (a refund not pending is returned as it is; the row lock
    makes a second caller wait); a refund Stripe refuses is marked failed for staff (the money stays
    on the single calls account, where the ledger shows it); an unclear answer leaves it pending, to be
    retried by the expiry sweep."""
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",)).select_related("payment", "single_call").get(pk=refund_id)
        )
        if refund.status != RefundStatus.PENDING or refund.single_call is None:
            return refund
        assert refund.payment is not None, "a single call's refund always returns its payment"
        assert refund.payment.stripe_payment_intent_id is not None, "a single call is paid by card through Stripe"
        call_id = refund.single_call.call_id
        try:
            result = stripe_gateway.refund_send(
                sent_id=refund.stripe_refund_id,
                payment_intent_id=refund.payment.stripe_payment_intent_id,
                amount_cents=refund.amount_cents,
                idempotency_key=f"familyline-refund-{refund.pk}",
                metadata={"refund_id": str(refund.pk), "single_call": call_id},
            )
        except stripe_gateway.GatewayError as exc:
            refund.failure_message = exc.message[:500]
            if exc.declined:
                refund.status = RefundStatus.FAILED
            refund.save(update_fields=["status", "failure_message"])
            return refund
        if result.status in ("pending", "requires_action"):
            refunds.card_refund_waiting(refund=refund, result=result)
            return refund
        if result.status != "succeeded":
            refund.status = RefundStatus.FAILED
            refund.stripe_refund_id = result.id
            refund.failure_message = f"The card processor answered {result.status}."
            refund.save(update_fields=["status", "stripe_refund_id", "failure_message"])
            return refund
        posted = ledger.post(
            idempotency_key=single_calls.refund_key(call_id),
            kind=EntryKind.REFUND,
            lines=[
                (ledger.system_account(SystemAccount.SINGLE_CALLS), -refund.amount_cents),
                (ledger.system_account(SystemAccount.CARD_CLEARING), refund.amount_cents),
            ],
            memo=f"Single call {call_id}: refund #{refund.pk} to card ending {refund.payment.card_last4 or '—'}",
        )
        refunds.card_refund_succeeded(refund=refund, result=result, entry=posted.entry)
    return refund


def refund_queue(*, offer: SingleCall, amount_cents: int) -> Refund:
    """Record the refund of `amount_cents` of the offer's payment to its card, sent after commit by
    `refund_send` (the caller holds the offer's row lock and the transaction). The call path reaches
    it through `calls.single_calls.refund_queue` (registered in `billing/callbacks.py`)."""
    payment = Payment.objects.get(single_call=offer, status=PaymentStatus.SUCCEEDED)
    refund = Refund.objects.create(
        single_call=offer, payment=payment, method=RefundMethod.CARD, amount_cents=amount_cents
    )
    outbox_enqueue(kind=single_calls.REFUND_SEND, payload={"refund_id": refund.pk})
    return refund


@outbox_handler(single_calls.REFUND_SEND)
def _refund_send_after_commit(*, refund_id: int) -> None:
    single_call_refund_send(refund_id=refund_id)


@dataclass(frozen=True)
class ExpiryRun:
    expired: int  # unpaid offers past their expiry
    refunded: int  # paid offers never used, refunded in full
    resent: int  # pending refunds sent again


def single_calls_expire(*, now: datetime.datetime | None = None) -> ExpiryRun:
    """Periodic: unpaid offers past their expiry are expired (their codes free again); a paid offer
    not used by its expiry, or used by a call never reported complete long after (the longest call
    plus the hold margin), is refunded in full, to its card, through the outbox; refunds left pending
    are sent again. Each offer is decided under its row lock, so a call allowed or completed at the
    same moment is never both used and refunded."""
    now = now or timezone.now()
    expired = SingleCall.objects.filter(status=SingleCallStatus.OFFERED, expires_at__lte=now).exclude(
        payments__status__in=[*LIVE_PAYMENT_STATUSES, PaymentStatus.SUCCEEDED]
    )
    expired_count = expired.update(status=SingleCallStatus.EXPIRED)
    unused = SingleCall.objects.filter(status=SingleCallStatus.PAID, expires_at__lte=now)
    never_reported = SingleCall.objects.filter(
        status=SingleCallStatus.AUTHORIZED,
        expires_at__lte=now - settings.CALL_HOLD_TTL - datetime.timedelta(minutes=240) - settings.CALL_HOLD_MARGIN,
    )
    refunded = 0
    for pk in [*unused.values_list("pk", flat=True), *never_reported.values_list("pk", flat=True)]:
        refunded += _refund_in_full(pk, now=now)
    pending = Refund.objects.filter(single_call__isnull=False, status=RefundStatus.PENDING).order_by("id")
    resent = sum(
        single_call_refund_send(refund_id=pk).status != RefundStatus.PENDING
        for pk in pending.values_list("pk", flat=True)
    )
    return ExpiryRun(expired=expired_count, refunded=refunded, resent=resent)


def _refund_in_full(pk: int, *, now: datetime.datetime) -> int:
    with transaction.atomic():
        offer = SingleCall.objects.select_for_update().get(pk=pk)
        if offer.status not in (SingleCallStatus.PAID, SingleCallStatus.AUTHORIZED):
            return 0
        refund_queue(offer=offer, amount_cents=offer.total_cents)
        offer.status = SingleCallStatus.REFUNDED
        offer.completed_at = now
        offer.save(update_fields=["status", "completed_at"])
    return 1
