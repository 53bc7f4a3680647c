"""Card payments by phone (channel `phone_ivr`): the phone menu collects the card with the phone
platform's card entry, which hands back a Stripe PaymentMethod; it is charged here through the same
card payment service as the web, with the phone channel's fee, once per call and card token.

Nothing but that service moves money. A card that is not charged (declined, needing the bank's
3-D Secure check, which a phone call cannot do, or refused before charging) is detached, so no card
collected by phone stays usable at Stripe."""

from dataclasses import dataclass
from enum import Enum

from django.utils.translation import gettext as _

from accounts.models import CallingAccount
from billing.payments import services, stripe_gateway
from billing.payments.card_errors import plain_card_error
from billing.payments.models import Channel, Payment, PaymentStatus
from billing.payments.pending import card_payment_cancel


class PhoneOutcome(Enum):
    PAID = "paid"
    DECLINED = "declined"
    NEEDS_AUTHENTICATION = "needs_authentication"
    PROCESSING = "processing"


@dataclass(frozen=True)
class PhoneCharge:
    outcome: PhoneOutcome
    payment: Payment | None
    # Why it was not paid, in plain words in the active language ("" when paid).
    message: str = ""


def phone_charge_key(*, call_sid: str, card_token: str) -> str:
    return f"phone:{call_sid}:{card_token}"


def phone_payment_quote(*, account: CallingAccount, amount_cents: int) -> services.Quote:
    """What a phone payment of `amount_cents` costs (the `phone_ivr` fee) and does, read back to the
    caller before the card is asked for. Raises PaymentError (fit to say) for an amount refused."""
    return services.payment_quote(account=account, amount_cents=amount_cents, channel=Channel.PHONE_IVR)


def phone_card_payment_charge(
    *, account: CallingAccount, amount_cents: int, expected_total_cents: int, call_sid: str, card_token: str
) -> PhoneCharge:
    """Charge the card the caller keyed in (`card_token`, a Stripe PaymentMethod id) for
    `amount_cents` plus the phone fee, after the caller confirmed `expected_total_cents`.

    Callers may rely on: the same call and token charge at most once, however often this runs (a
    repeated callback gets the first outcome); a decline, a refusal or a card that asks for 3-D
    Secure charges nothing and detaches the card; a paid payment is credited and its receipt
    emailed by the card payment service."""
    key = phone_charge_key(call_sid=call_sid, card_token=card_token)
    earlier = Payment.objects.filter(charge_key=key).first()
    if earlier is not None:
        return _outcome(earlier, card_token=card_token)
    try:
        payment = services.card_payment_create(
            holder=account.holder,
            account=account,
            amount_cents=amount_cents,
            channel=Channel.PHONE_IVR,
            expected_total_cents=expected_total_cents,
            card_token=card_token,
            charge_key=key,
        )
    except services.PaymentError as exc:
        earlier = Payment.objects.filter(charge_key=key).first()
        if earlier is not None and earlier.status != PaymentStatus.FAILED:
            return _outcome(earlier, card_token=card_token)
        _detach(card_token)
        return PhoneCharge(PhoneOutcome.DECLINED, earlier, plain_card_error(exc.message))
    return _outcome(payment, card_token=card_token)


def _outcome(payment: Payment, *, card_token: str) -> PhoneCharge:
    if payment.status == PaymentStatus.SUCCEEDED:
        return PhoneCharge(PhoneOutcome.PAID, payment)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        # The bank wants the holder to confirm in a browser or app: not possible on a call. Cancel
        # the PaymentIntent so it can never be completed later, and charge nothing.
        try:
            payment = card_payment_cancel(payment=payment)
        except services.PaymentError:
            payment.refresh_from_db()
        if payment.status == PaymentStatus.SUCCEEDED:
            return PhoneCharge(PhoneOutcome.PAID, payment)
    if payment.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.CANCELED):
        _detach(card_token)
        return PhoneCharge(
            PhoneOutcome.NEEDS_AUTHENTICATION,
            payment,
            _("Your bank asked to confirm this payment, which cannot be done by phone. Nothing was charged."),
        )
    if payment.status == PaymentStatus.FAILED:
        _detach(card_token)
        return PhoneCharge(PhoneOutcome.DECLINED, payment, plain_card_error(payment.failure_message))
    return PhoneCharge(
        PhoneOutcome.PROCESSING,
        payment,
        _("Your payment is being processed. If your card is charged, the money is added to your balance."),
    )


def phone_card_payment_detach(*, card_token: str) -> None:
    """A card keyed in but not charged (the caller canceled, or the card entry failed): detached."""
    if not Payment.objects.filter(charge_key__endswith=f":{card_token}", status=PaymentStatus.SUCCEEDED).exists():
        _detach(card_token)


def _detach(card_token: str) -> None:
    try:
        stripe_gateway.payment_method_detach(payment_method_id=card_token)
    except stripe_gateway.GatewayError:
        # Unreachable now: the card was not charged, and Stripe keeps a detached-or-not token unused.
        return
