"""The one place FamilyLine talks to Stripe. Card data never passes through here: the browser gives
the card to Stripe (a SetupIntent) and we only ever see ids and statuses.

The API base is a setting, so the same code talks to Stripe or to the local stand-in."""

import time
from dataclasses import dataclass

import stripe
from django.conf import settings
from stripe.params import PaymentIntentCreateParams

from accounts.safe_json import JSONInputError, json_loads_bounded

JSON_MAX_DEPTH = 32  # a Stripe event nests about ten levels


class GatewayError(Exception):
    """Stripe refused or could not be reached. `message` is fit to show to the payer."""

    def __init__(self, message: str, *, declined: bool = False, code: str = ""):
        super().__init__(message)
        self.message = message
        self.declined = declined
        # Stripe's error code when it gave one (`authentication_required`, `card_declined`…).
        self.code = code


class SignatureError(Exception):
    """A webhook whose signature does not verify against the raw body."""


@dataclass(frozen=True)
class Intent:
    """What FamilyLine needs to know about a PaymentIntent."""

    id: str
    status: str
    amount_cents: int
    currency: str
    client_secret: str
    customer: str
    metadata: dict
    error_message: str = ""
    last4: str = ""

    @classmethod
    def from_stripe(cls, data) -> "Intent":
        data = data if isinstance(data, dict) else data.to_dict()
        error = data.get("last_payment_error") or {}
        return cls(
            id=data["id"],
            status=data.get("status") or "",
            amount_cents=int(data.get("amount") or 0),
            currency=(data.get("currency") or "").lower(),
            client_secret=data.get("client_secret") or "",
            customer=data.get("customer") or "",
            metadata=dict(data.get("metadata") or {}),
            error_message=(error.get("message") or "") if isinstance(error, dict) else "",
        )


@dataclass(frozen=True)
class SetupResult:
    id: str
    status: str
    customer: str
    payment_method: str
    client_secret: str = ""
    usage: str = ""


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key=settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
        # (connect, read) seconds: a payer waits on this page, so a hung connection must not hold it.
        http_client=stripe.RequestsClient(timeout=(5, 30)),
    )


def _unreachable(exc: Exception) -> GatewayError:
    return GatewayError("We could not reach our card processor. Nothing was charged; please try again shortly.")


def customer_create(*, email: str, name: str) -> str:
    try:
        customer = _client().v1.customers.create(params={"email": email, "name": name})
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return customer.id


def setup_intent_create(*, customer_id: str, usage: str = "on_session") -> tuple[str, str]:
    """A SetupIntent the browser confirms with the card element (`usage="off_session"` to save a
    card for auto-reload). Returns (id, client_secret)."""
    try:
        intent = _client().v1.setup_intents.create(params={"customer": customer_id, "usage": usage})
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    assert intent.client_secret is not None, "Stripe returns a new SetupIntent's client secret"
    return intent.id, intent.client_secret


def setup_intent_retrieve(*, setup_intent_id: str) -> SetupResult:
    try:
        intent = _client().v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as exc:
        raise GatewayError("The card details could not be found. Please enter your card again.") from exc
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    payment_method = intent.payment_method
    if payment_method is not None and not isinstance(payment_method, str):
        payment_method = payment_method.id
    customer = intent.customer
    if customer is not None and not isinstance(customer, str):
        customer = customer.id
    return SetupResult(
        id=intent.id,
        status=intent.status,
        customer=customer or "",
        payment_method=payment_method or "",
        client_secret=getattr(intent, "client_secret", None) or "",
        usage=getattr(intent, "usage", None) or "",
    )


def payment_intent_create(
    *, amount_cents: int, customer_id: str, payment_method_id: str, idempotency_key: str, metadata: dict
) -> Intent:
    """Create and confirm a PaymentIntent. A decline comes back as an Intent whose status is not
    `succeeded` and whose `error_message` says why, or as GatewayError(declined=True). An empty
    `customer_id` charges a card that belongs to no customer (a single call's card, taken by phone)."""
    params: PaymentIntentCreateParams = {
        "amount": amount_cents,
        "currency": "usd",
        "payment_method": payment_method_id,
        "confirm": True,
        "metadata": metadata,
    }
    if customer_id:  # a card tokenized without a customer (by phone) is charged on its own
        params["customer"] = customer_id
    try:
        intent = _client().v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        raise GatewayError(exc.user_message or "Your card was declined.", declined=True) from exc
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return Intent.from_stripe(intent)


def payment_intent_create_off_session(
    *, amount_cents: int, customer_id: str, payment_method_id: str, idempotency_key: str, metadata: dict
) -> Intent:
    """Charge a saved card while the holder is away (auto-reload). Stripe answers a card that needs
    the holder either with an Intent in `requires_action` or with a 402 card error whose code is
    `authentication_required`; a decline is GatewayError(declined=True, code=...)."""
    try:
        intent = _client().v1.payment_intents.create(
            params={
                "amount": amount_cents,
                "currency": "usd",
                "customer": customer_id,
                "payment_method": payment_method_id,
                "confirm": True,
                "off_session": True,
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.CardError as exc:
        raise GatewayError(exc.user_message or "Your card was declined.", declined=True, code=exc.code or "") from exc
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return Intent.from_stripe(intent)


def payment_intent_cancel(*, payment_intent_id: str) -> Intent:
    """Cancel a PaymentIntent that was never charged (an abandoned 3-D Secure step)."""
    try:
        intent = _client().v1.payment_intents.cancel(payment_intent_id)
    except stripe.InvalidRequestError as exc:
        raise GatewayError("This payment can no longer be canceled.", declined=True) from exc
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return Intent.from_stripe(intent)


def payment_method_detach(*, payment_method_id: str) -> None:
    """Remove a saved card from the Stripe customer (an already detached card is fine)."""
    try:
        _client().v1.payment_methods.detach(payment_method_id)
    except stripe.InvalidRequestError:
        return
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc


def payment_intent_retrieve(*, payment_intent_id: str) -> Intent:
    try:
        intent = _client().v1.payment_intents.retrieve(payment_intent_id)
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return Intent.from_stripe(intent)


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str
    amount_cents: int


def refund_create(*, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict) -> RefundResult:
    """Refund `amount_cents` of a PaymentIntent to its card. Stripe refusing the refund raises
    GatewayError(declined=True) (nothing was refunded); any other GatewayError means the request may
    have reached Stripe, so retry with the same idempotency key rather than pay the money another way."""
    try:
        refund = _client().v1.refunds.create(
            params={"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
    except (stripe.InvalidRequestError, stripe.CardError) as exc:
        raise GatewayError(exc.user_message or "The card processor refused the refund.", declined=True) from exc
    except stripe.StripeError as exc:
        raise GatewayError("We could not reach our card processor.") from exc
    return RefundResult(id=refund.id, status=refund.status or "", amount_cents=int(refund.amount or 0))


def refund_send(
    *, sent_id: str | None, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict
) -> RefundResult:
    """A refund row's one request to Stripe: how it stands when it was sent before (`sent_id`, still
    settling), else `refund_create` (same errors)."""
    if sent_id:
        return refund_retrieve(refund_id=sent_id)
    return refund_create(
        payment_intent_id=payment_intent_id,
        amount_cents=amount_cents,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )


def refund_retrieve(*, refund_id: str) -> RefundResult:
    """How a refund already sent to Stripe stands now (pending refunds settle later)."""
    try:
        refund = _client().v1.refunds.retrieve(refund_id)
    except stripe.StripeError as exc:
        raise GatewayError("We could not reach our card processor.") from exc
    return RefundResult(id=refund.id, status=refund.status or "", amount_cents=int(refund.amount or 0))


@dataclass(frozen=True)
class CardToken:
    """A PaymentMethod someone else collected (the phone platform's card entry): whose it is, if
    anyone's, and the last four digits, for the receipt."""

    id: str
    customer: str
    last4: str


def payment_method_retrieve(*, payment_method_id: str) -> CardToken:
    try:
        method = _client().v1.payment_methods.retrieve(payment_method_id)
    except stripe.InvalidRequestError as exc:
        raise GatewayError("The card details could not be found. Nothing was charged.", declined=True) from exc
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    data = method.to_dict()
    customer = data.get("customer") or ""
    if not isinstance(customer, str):
        customer = customer.get("id", "")
    card = data.get("card") or {}
    return CardToken(id=data["id"], customer=customer, last4=str(card.get("last4") or "")[:4])


def test_card_token_create(*, number: str) -> str:
    """Stand in for the phone platform's card entry in test mode only (the `make run` phone page):
    a PaymentMethod for one of Stripe's published test cards, on a customer of its own as the
    connector creates. Refuses any live key: real card numbers never pass through FamilyLine."""
    if not settings.STRIPE_SECRET_KEY.startswith("sk_test_"):
        raise GatewayError("Test cards are only for a test-mode Stripe account.")
    client = _client()
    try:
        customer = client.v1.customers.create(params={"description": "phone card entry (test)"})
        method = client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
        )
        client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    except stripe.StripeError as exc:
        raise _unreachable(exc) from exc
    return method.id


def payment_method_last4(*, payment_method_id: str) -> str:
    try:
        method = _client().v1.payment_methods.retrieve(payment_method_id)
    except stripe.StripeError:
        return ""
    card = method.to_dict().get("card") or {}
    return str(card.get("last4") or "")[:4]


def webhook_event_verify(*, payload: bytes, signature_header: str) -> dict:
    """Verify a webhook on its raw body and return the event as plain JSON data. Raises
    SignatureError for a bad signature, a timestamp outside STRIPE_WEBHOOK_TOLERANCE_SECONDS either
    way (Stripe's library checks only the past), or a body that is not a storable event (oversized,
    deeply nested, a NUL character)."""
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise SignatureError(str(exc)) from exc
    timestamp = _signature_timestamp(signature_header)
    if timestamp is None or timestamp > time.time() + tolerance:
        raise SignatureError("timestamp outside the tolerance zone")
    try:
        data = json_loads_bounded(payload, max_bytes=settings.STRIPE_WEBHOOK_MAX_BYTES, max_depth=JSON_MAX_DEPTH)
    except JSONInputError as exc:
        raise SignatureError(str(exc)) from exc
    if not isinstance(data, dict) or not data.get("id") or not data.get("type"):
        raise SignatureError("not an event")
    return data


def _signature_timestamp(header: str) -> int | None:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# --- lists, for reconciliation -----------------------------------------------------------------


@dataclass(frozen=True)
class StripeRecord:
    """One PaymentIntent or Refund as Stripe lists it: what reconciliation compares."""

    id: str
    status: str
    amount_cents: int
    currency: str
    metadata: dict
    payment_intent: str = ""
    created: int = 0  # Unix seconds


def _record(data: dict) -> StripeRecord:
    payment_intent = data.get("payment_intent") or ""
    if not isinstance(payment_intent, str):
        payment_intent = payment_intent.get("id", "")
    return StripeRecord(
        id=data["id"],
        status=data.get("status") or "",
        amount_cents=int(data.get("amount") or 0),
        currency=(data.get("currency") or "").lower(),
        metadata=dict(data.get("metadata") or {}),
        payment_intent=payment_intent,
        created=int(data.get("created") or 0),
    )


def _list_all(resource, page_size: int):
    """Every object of a Stripe list, page by page with `starting_after` (the only paging both Stripe
    and the local stand-in take, with `limit`)."""
    params: dict = {"limit": page_size}
    while True:
        try:
            page = resource.list(params=params)
        except stripe.StripeError as exc:
            raise GatewayError("We could not reach our card processor.") from exc
        data = [item.to_dict() for item in page.data]
        yield from (_record(item) for item in data)
        if not page.has_more or not data:
            return
        params = {"limit": page_size, "starting_after": data[-1]["id"]}


def payment_intents_list_all(*, page_size: int = 100):
    """Every PaymentIntent on the Stripe account (an iterator; one request per page)."""
    return _list_all(_client().v1.payment_intents, page_size)


def refunds_list_all(*, page_size: int = 100):
    """Every Refund on the Stripe account (an iterator; one request per page)."""
    return _list_all(_client().v1.refunds, page_size)


def charge_payment_intent(*, charge_id: str) -> str:
    """The PaymentIntent a charge belongs to ("" when Stripe does not say)."""
    try:
        charge = _client().v1.charges.retrieve(charge_id)
    except stripe.StripeError as exc:
        raise GatewayError("We could not reach our card processor.") from exc
    payment_intent = charge.to_dict().get("payment_intent") or ""
    return payment_intent if isinstance(payment_intent, str) else payment_intent.get("id", "")
