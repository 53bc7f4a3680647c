"""A card payment left waiting for the bank's 3-D Secure check can be resumed (billing.payments.views
authenticate) or canceled here; nothing was charged either way until the bank confirms."""

from django.utils.translation import gettext

from billing.payments import stripe_gateway
from billing.payments.models import Payment, PaymentStatus
from billing.payments.services import PaymentError, payment_intent_apply


def card_payment_cancel(*, payment: Payment) -> Payment:
    """Cancel a payment waiting for card authentication. Raises PaymentError (fit to show) for a
    payment in any other state; a payment Stripe already charged is credited instead."""
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.stripe_payment_intent_id:
        raise PaymentError(gettext("This payment is not waiting for your bank any more."))
    try:
        intent = stripe_gateway.payment_intent_cancel(payment_intent_id=payment.stripe_payment_intent_id)
    except stripe_gateway.GatewayError:
        intent = None
    if intent is None:
        try:
            intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
        except stripe_gateway.GatewayError as exc:
            raise PaymentError(exc.message) from exc
    return payment_intent_apply(intent=intent) or payment
