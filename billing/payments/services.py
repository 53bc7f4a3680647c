"""Payments: fees, card payments through Stripe, staff-recorded mail and phone payments, and the
Stripe webhook intake. Every credit goes through `billing.ledger.post` under `payment:<id>`."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import AccountKind, AccountStatus, CallingAccount, User
from accounts.outbox import outbox_enqueue
from accounts.services import account_mark_funded
from accounts.texts.notices import account_text_enqueue
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind, SystemAccount
from billing.ledger.money import format_cents
from billing.payments import (
    emails,  # noqa: F401  (registers the receipt's outbox handler)
    stripe_gateway,
)
from billing.payments.models import FEE_CAPS_CENTS, Channel, FeeSchedule, Payment, PaymentMethod, PaymentStatus
from billing.payments.refunds import closed_account_payment_refund
from calls.models import SingleCall, SingleCallStatus
from calls.single_calls import payment_key as single_call_payment_key

logger = logging.getLogger(__name__)

CARD_CHANNELS = (Channel.WEB, Channel.PHONE_IVR, Channel.PHONE_AGENT)
OFFLINE_CHANNELS = (Channel.MAIL, Channel.PHONE_AGENT)

IN_FLIGHT_PAYMENT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)
# A card payment still unsettled after this long was abandoned (3-D Secure never finished); it no
# longer stops the account from closing (staff reconcile it if Stripe ever settles it).
IN_FLIGHT_WINDOW = timedelta(days=1)

# Paying off a past-due Direct Bill statement restores service in the crediting transaction. The
# rule is the statements' (their dunning), a package above this one: it registers the function here
# (`billing/callbacks.py`), so payments imports nothing of statements.
DirectBillCredited = Callable[..., object]
_direct_bill_credited: list[DirectBillCredited] = []


def direct_bill_credited_register(func: DirectBillCredited) -> DirectBillCredited:
    """Register the one function run when a payment credits an open Direct Bill account:
    `func(account=…, now=…)`, inside the crediting transaction."""
    if _direct_bill_credited and _direct_bill_credited[0] is not func:
        raise RuntimeError("two functions registered for a Direct Bill payment")
    _direct_bill_credited[:] = [func]
    return func


HANDLED_EVENT_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    "payment_intent.requires_action",
)


class PaymentError(DomainError):
    """A payment that cannot be made as asked. `message` is fit to show; nothing was charged."""


class DuplicateReferenceError(PaymentError):
    """A check or money order number (or terminal confirmation) already recorded: staff confirm
    that this is a different payment before it is recorded again. `payments` are the earlier ones."""

    def __init__(self, message: str, payments: list):
        super().__init__(message)
        self.payments = payments


# The outbox message that re-checks saved auto-reload terms against the fee (handled in autoreload).
AUTO_RELOAD_TERMS_RECHECK = "billing.auto_reload_terms_recheck"


class PaymentMismatchError(Exception):
    """Stripe reports a charge that does not match our payment row. Never credited; left for staff."""


@dataclass(frozen=True)
class Quote:
    """What a payment will do, shown to the payer before the card is charged."""

    amount_cents: int
    fee_cents: int
    balance_before_cents: int
    deficit_covered_cents: int

    @property
    def total_cents(self) -> int:
        return self.amount_cents + self.fee_cents

    @property
    def balance_after_cents(self) -> int:
        return self.balance_before_cents + self.amount_cents


def fee_for_channel(*, channel: Channel | str) -> int:
    """The processing fee for one payment on `channel`: the staff-edited schedule, never above the
    channel's own cap (FEE_CAPS_CENTS), always 0 for mail and when PAYMENT_FEES_WAIVED is set."""
    if settings.PAYMENT_FEES_WAIVED or channel == Channel.MAIL:
        return 0
    row = FeeSchedule.objects.filter(channel=channel).first()
    fee = row.fee_cents if row else 0
    return max(0, min(fee, FEE_CAPS_CENTS.get(channel, 0)))


def payment_limits(
    *, account: CallingAccount, channel: Channel | str, balance_cents: int | None = None
) -> tuple[int, int | None]:
    """(minimum, maximum or None) cents one payment may add. AdvanceConnect card payments follow
    MIN_DEPOSIT_CENTS..MAX_DEPOSIT_CENTS; a Direct Bill payment is capped by what is owed less the
    payments already on their way (so payments made at once never add up to more than is owed);
    other cases only need a positive amount unless the caller passes limits of its own. Pass the
    locked balance (`ledger.balance_lock`) to decide under the lock."""
    if account.status == AccountStatus.CLOSED:
        # A closed account takes a payment only toward what it still owes (a call reported after it
        # closed), without reopening it.
        return 1, _payable(account=account, balance_cents=balance_cents, closed=True)
    if account.kind == AccountKind.ADVANCE_CONNECT and channel in CARD_CHANNELS:
        return settings.MIN_DEPOSIT_CENTS, settings.MAX_DEPOSIT_CENTS
    if account.kind == AccountKind.DIRECT_BILL:
        return 1, _payable(account=account, balance_cents=balance_cents, closed=False)
    return 1, None


def _payable(*, account: CallingAccount, balance_cents: int | None, closed: bool) -> int:
    """What is owed less the payments already on their way (a Direct Bill or closed account: the only
    callers). Raises PaymentError when nothing is."""
    owed = ledger.owed_cents(account=account, balance_cents=balance_cents)
    if owed <= 0 and closed:
        raise PaymentError(gettext("This account is closed and cannot take payments."))
    if owed <= 0:
        raise PaymentError(gettext("Nothing is owed on this account."))
    payable = owed - _in_flight_cents(account=account)
    if payable <= 0:
        raise PaymentError(gettext("A payment of what is owed is already being processed. Please wait a few minutes."))
    return payable


def _in_flight_cents(*, account: CallingAccount) -> int:
    """What payments created but not yet credited or failed will add (a day at most: an abandoned
    card authentication does not block paying for longer)."""
    since = timezone.now() - IN_FLIGHT_WINDOW
    in_flight = Payment.objects.filter(account=account, status__in=IN_FLIGHT_PAYMENT_STATUSES, created_at__gte=since)
    return in_flight.aggregate(total=Sum("amount_cents"))["total"] or 0


def payment_quote(
    *,
    account: CallingAccount,
    amount_cents: int,
    channel: Channel | str,
    limits: tuple[int, int | None] | None = None,
    balance_cents: int | None = None,
) -> Quote:
    """Validate an amount for `account` and say what it costs and does. Raises PaymentError with a
    message fit to show for an amount outside `limits` (default: `payment_limits`) or a closed account.
    Pass the locked balance to decide under the lock (as every payment does before it is created)."""
    if account.status == AccountStatus.CLOSED and limits is not None:
        limits = None  # a closed account is only ever paid up to what it owes
    low, high = limits or payment_limits(account=account, channel=channel, balance_cents=balance_cents)
    if amount_cents <= 0:
        raise PaymentError(gettext("Enter an amount greater than zero."))
    if amount_cents < low:
        raise PaymentError(gettext("The smallest payment is %(amount)s.") % {"amount": format_cents(low)})
    if high is not None and amount_cents > high:
        raise PaymentError(gettext("One payment can add at most %(amount)s.") % {"amount": format_cents(high)})
    balance = ledger.balance_get(account=account) if balance_cents is None else balance_cents
    # Paying what a closed account still owes (a call reported after it closed, beyond the refunds
    # it could be taken from) is settling FamilyLine's own late bill: never with a fee.
    closed = account.status == AccountStatus.CLOSED
    return Quote(
        amount_cents=amount_cents,
        fee_cents=0 if closed else fee_for_channel(channel=channel),
        balance_before_cents=balance,
        deficit_covered_cents=min(amount_cents, -balance) if balance < 0 else 0,
    )


# A SetupIntent the holder has not confirmed yet can still take a card: offered again, not replaced.
SETUP_REUSABLE_STATUSES = ("requires_payment_method", "requires_confirmation")


def card_setup_start(*, holder: User, off_session: bool = False, reuse_setup_intent_id: str = "") -> tuple[str, str]:
    """A Stripe SetupIntent for the holder's Stripe customer (created on first use), which the
    browser confirms with the card element; `off_session` to save the card for auto-reload. Called
    when the holder submits a card, never to show a page. `reuse_setup_intent_id` (the one offered
    last) is returned again while it is the holder's, of the same use, and still open, so asking
    twice creates one. Returns (setup_intent_id, client_secret)."""
    usage = "off_session" if off_session else "on_session"
    try:
        if reuse_setup_intent_id and holder.stripe_customer_id:
            offered = stripe_gateway.setup_intent_retrieve(setup_intent_id=reuse_setup_intent_id)
            reusable = offered.status in SETUP_REUSABLE_STATUSES and offered.client_secret
            if reusable and offered.customer == holder.stripe_customer_id and offered.usage in ("", usage):
                return offered.id, offered.client_secret
        if not holder.stripe_customer_id:
            customer_id = stripe_gateway.customer_create(email=holder.email, name=holder.display_name)
            # Only fill an empty id: two tabs racing here must not overwrite each other's customer.
            User.objects.filter(pk=holder.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
            holder.refresh_from_db(fields=["stripe_customer_id"])
        return stripe_gateway.setup_intent_create(customer_id=holder.stripe_customer_id, usage=usage)
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(exc.message) from exc


def card_payment_create(
    *,
    holder: User,
    account: CallingAccount,
    amount_cents: int,
    setup_intent_id: str = "",
    channel: Channel | str = Channel.WEB,
    limits: tuple[int, int | None] | None = None,
    expected_total_cents: int | None = None,
    card_token: str = "",
    charge_key: str = "",
) -> Payment:
    """Charge the card the holder confirmed in SetupIntent `setup_intent_id` for `amount_cents` plus
    the channel's fee, and credit `amount_cents` to `account` once Stripe says it succeeded.

    A card collected elsewhere (the phone menu's card entry returns a Stripe PaymentMethod) is given
    as `card_token` with a `charge_key` naming its cause instead of a SetupIntent: the same key
    charges once, as the same SetupIntent does.

    Callers may rely on: bad input (amount, someone else's account, an unconfirmed card) raises
    PaymentError before anything is charged or stored; a decline raises PaymentError after marking
    the payment failed, with nothing posted; the returned payment is `succeeded` (credited) or
    `requires_action` (the browser must run 3-D Secure on `payment_client_secret`, then call
    `card_payment_refresh`). Submitting the same SetupIntent twice charges once. Pass
    `expected_total_cents` (the total the payer saw) to refuse a charge if the fee changed since."""
    if account.holder_id != holder.pk:
        raise PaymentError(gettext("Choose one of your own accounts."))
    quote = payment_quote(account=account, amount_cents=amount_cents, channel=channel, limits=limits)
    if expected_total_cents is not None and expected_total_cents != quote.total_cents:
        raise PaymentError(
            gettext("The processing fee changed since you reviewed this payment. Please check the new total.")
        )
    card = _card_to_charge(holder=holder, setup_intent_id=setup_intent_id, card_token=card_token, charge_key=charge_key)
    try:
        with transaction.atomic():
            # Decided again under the account's ledger-row lock: what is owed, the account's status
            # and the payments already on their way are what they are when this payment is created.
            balance = ledger.balance_lock(account=account)
            account.refresh_from_db(fields=["status"])
            quote = payment_quote(
                account=account, amount_cents=amount_cents, channel=channel, limits=limits, balance_cents=balance
            )
            payment = Payment.objects.create(
                account=account,
                channel=channel,
                method=PaymentMethod.CARD,
                amount_cents=quote.amount_cents,
                fee_cents=quote.fee_cents,
                stripe_setup_intent_id=card.setup_intent_id,
                charge_key=card.charge_key,
                card_last4=card.last4,
            )
    except IntegrityError:
        # The same confirmed card submitted twice (a double click, a reload, a repeated callback):
        # one charge only.
        if card.charge_key:
            return Payment.objects.get(charge_key=card.charge_key, account__holder=holder)
        return Payment.objects.get(stripe_setup_intent_id=card.setup_intent_id, account__holder=holder)
    try:
        intent = stripe_gateway.payment_intent_create(
            amount_cents=payment.total_cents,
            customer_id=card.customer,
            payment_method_id=card.payment_method,
            idempotency_key=f"familyline-payment-{payment.pk}",
            metadata={"payment_id": str(payment.pk), "account_id": str(account.pk)},
        )
    except stripe_gateway.GatewayError as exc:
        message = exc.message
        if not exc.declined:
            # The request may have reached Stripe: if it charged the card, its webhook credits this
            # payment (found by the payment id in the intent's metadata).
            message = (
                "We could not confirm your payment with our card processor. If your card was charged, "
                "the amount will be added to your balance automatically; otherwise please try again."
            )
        _payment_fail(payment=payment, message=message)
        raise PaymentError(message) from exc
    try:
        payment = payment_intent_apply(intent=intent) or payment
    except PaymentMismatchError:
        # Stripe took a different sum than we asked for: never credited by guesswork. The payment
        # stays `processing` for staff (the webhook's stored event carries the same error).
        logger.exception("payment #%s does not match its PaymentIntent %s", payment.pk, intent.id)
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CREATED).update(
            status=PaymentStatus.PROCESSING, stripe_payment_intent_id=intent.id
        )
        payment.refresh_from_db()
        return payment
    if payment.status == PaymentStatus.FAILED:
        raise PaymentError(payment.failure_message or "Your card was declined.")
    return payment


def card_payment_refresh(*, payment: Payment) -> Payment:
    """Ask Stripe how a card payment stands (after 3-D Secure in the browser) and apply it. Safe to
    call any number of times; credits at most once."""
    if not payment.stripe_payment_intent_id or payment.status == PaymentStatus.SUCCEEDED:
        return payment
    try:
        intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(exc.message) from exc
    return payment_intent_apply(intent=intent) or payment


def payment_client_secret(*, payment: Payment) -> str:
    """The PaymentIntent's client secret, for the browser's 3-D Secure step (a card payment: it has one)."""
    assert payment.stripe_payment_intent_id is not None, "only a card payment waits for 3-D Secure"
    try:
        intent = stripe_gateway.payment_intent_retrieve(payment_intent_id=payment.stripe_payment_intent_id)
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(exc.message) from exc
    return intent.client_secret


def payment_intent_apply(*, intent: stripe_gateway.Intent) -> Payment | None:
    """Bring our payment in line with a PaymentIntent, from whichever path saw it first: the server's
    own check or a webhook. Credits the account exactly once (row lock on the payment plus the ledger
    key `payment:<id>`). Returns None for an intent that is not one of ours."""
    now = timezone.now()
    with transaction.atomic():
        payment = _payment_for_intent_locked(intent)
        if payment is None:
            return None
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = intent.id
            payment.save(update_fields=["stripe_payment_intent_id"])
        elif payment.stripe_payment_intent_id != intent.id:
            logger.error("payment #%s is tied to %s, not %s", payment.pk, payment.stripe_payment_intent_id, intent.id)
            return payment
        if payment.status == PaymentStatus.SUCCEEDED:
            return payment
        if intent.status == "succeeded":
            _succeeded(payment=payment, intent=intent, now=now)
        elif intent.status in ("requires_action", "processing"):
            payment.status = PaymentStatus(intent.status)
            payment.save(update_fields=["status"])
        elif intent.status == "canceled":
            payment.status = PaymentStatus.CANCELED
            payment.save(update_fields=["status"])
        elif intent.status == "requires_payment_method":
            payment.status = PaymentStatus.FAILED
            payment.failure_message = (intent.error_message or "Your card was declined.")[:500]
            payment.save(update_fields=["status", "failure_message"])
    return payment


def _succeeded(*, payment: Payment, intent: stripe_gateway.Intent, now: datetime) -> None:
    if intent.amount_cents != payment.total_cents or intent.currency != "usd":
        raise PaymentMismatchError(
            f"payment #{payment.pk}: Stripe charged {intent.amount_cents} {intent.currency}, "
            f"expected {payment.total_cents} usd"
        )
    if payment.single_call_id is not None:
        _single_call_credit(payment=payment, now=now)
    else:
        _credit(payment=payment, now=now)


def payment_record_offline(
    *,
    account: CallingAccount,
    channel: Channel | str,
    method: PaymentMethod | str,
    amount_cents: int,
    reference: str,
    recorded_by: User,
    limits: tuple[int, int | None] | None = None,
    duplicate_confirmed: bool = False,
) -> Payment:
    """Staff record a mail payment (check or money order, never a fee) or a live-agent phone payment
    (card, the phone_agent fee). Validated like any payment, then credited at once through the ledger.
    Raises PaymentError with a message fit to show; nothing is stored then. A reference already
    recorded for the same method raises DuplicateReferenceError unless `duplicate_confirmed`."""
    if channel not in OFFLINE_CHANNELS:
        raise PaymentError("Staff record mail and live-agent phone payments only.")
    if channel == Channel.MAIL and method not in (PaymentMethod.CHECK, PaymentMethod.MONEY_ORDER):
        raise PaymentError("A mail payment is a check or a money order.")
    if channel == Channel.PHONE_AGENT and method != PaymentMethod.CARD:
        raise PaymentError("A live-agent phone payment is a card payment.")
    if not reference.strip():
        raise PaymentError("Enter the check or money order number, or the card terminal confirmation number.")
    earlier = payments_with_reference(method=method, reference=reference)
    if earlier and not duplicate_confirmed:
        raise DuplicateReferenceError(
            f"{PaymentMethod(method).label} {reference.strip()} was already recorded "
            f"({', '.join(f'payment #{p.pk}' for p in earlier)}). Confirm that this is a different payment.",
            earlier,
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock order step 1, and what is owed decided under it: two staff recording at once cannot
        # both overpay.
        balance = ledger.balance_lock(account=account)
        account.refresh_from_db(fields=["status"])
        quote = payment_quote(
            account=account, amount_cents=amount_cents, channel=channel, limits=limits, balance_cents=balance
        )
        payment = Payment.objects.create(
            account=account,
            channel=channel,
            method=method,
            amount_cents=quote.amount_cents,
            fee_cents=quote.fee_cents,
            reference=reference.strip(),
            recorded_by=recorded_by,
        )
        _credit(payment=payment, now=now)
    return payment


def payments_with_reference(*, method: PaymentMethod | str, reference: str) -> list[Payment]:
    """Succeeded staff-recorded payments of `method` with this reference (case and spaces ignored)."""
    reference = reference.strip()
    if not reference:
        return []
    found = Payment.objects.filter(
        method=method, reference__iexact=reference, status=PaymentStatus.SUCCEEDED, recorded_by__isnull=False
    )
    return list(found.order_by("id")[:5])


@dataclass(frozen=True)
class _Card:
    payment_method: str
    customer: str
    last4: str
    setup_intent_id: str | None
    charge_key: str | None


def _card_to_charge(*, holder: User, setup_intent_id: str, card_token: str, charge_key: str) -> _Card:
    """The card a payment charges: the holder's confirmed SetupIntent, or a card token collected by
    the phone menu (charged with the customer it belongs to, if any: Stripe requires it)."""
    if not card_token:
        setup = _confirmed_setup(holder=holder, setup_intent_id=setup_intent_id)
        last4 = stripe_gateway.payment_method_last4(payment_method_id=setup.payment_method)
        return _Card(setup.payment_method, holder.stripe_customer_id, last4, setup.id, None)
    if not charge_key:
        raise PaymentError("A card token is charged under a key naming its cause.")
    try:
        token = stripe_gateway.payment_method_retrieve(payment_method_id=card_token)
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(exc.message) from exc
    return _Card(token.id, token.customer, token.last4, None, charge_key)


def _confirmed_setup(*, holder: User, setup_intent_id: str) -> stripe_gateway.SetupResult:
    if not setup_intent_id or not holder.stripe_customer_id:
        raise PaymentError(gettext("Enter your card details first."))
    try:
        setup = stripe_gateway.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    except stripe_gateway.GatewayError as exc:
        raise PaymentError(exc.message) from exc
    if setup.customer != holder.stripe_customer_id:
        raise PaymentError(
            gettext("These card details were not entered on your account. Please enter your card again.")
        )
    if setup.status != "succeeded" or not setup.payment_method:
        raise PaymentError(gettext("Your card details were not confirmed. Please enter your card again."))
    return setup


def _payment_for_intent_locked(intent: stripe_gateway.Intent) -> Payment | None:
    """The payment of an intent, locked in the lock order: its account's ledger row, then the
    payment row (which serializes the server's check and the webhook)."""
    payments = Payment.objects.select_related("account")
    payment = payments.filter(stripe_payment_intent_id=intent.id).first()
    if payment is None and str(intent.metadata.get("payment_id", "")).isdigit():
        payment = payments.filter(pk=int(intent.metadata["payment_id"]), method=PaymentMethod.CARD).first()
    if payment is None:
        return None
    if payment.single_call_id is not None:
        # A single call's payment: its offer's row first (the offer's payment and use wait on it).
        SingleCall.objects.select_for_update().filter(pk=payment.single_call_id).first()
    else:
        assert payment.account is not None, "a payment is a calling account's or a single call's"
        ledger.balance_lock(account=payment.account)
    return payments.select_for_update(of=("self",)).get(pk=payment.pk)


def _payment_fail(*, payment: Payment, message: str) -> None:
    Payment.objects.filter(pk=payment.pk).exclude(status=PaymentStatus.SUCCEEDED).update(
        status=PaymentStatus.FAILED, failure_message=message[:500]
    )
    payment.refresh_from_db()


def _single_call_credit(*, payment: Payment, now: datetime) -> None:
    """Post a single call's payment to the single calls account (`single_call:<call_id>:payment`) and
    mark its offer paid at the price fixed on it (caller holds the offer's and the payment's row
    locks). No fee, no calling account. Paid after its offer expired (a late 3-D Secure or webhook),
    it is refunded by the expiry sweep like any paid offer not used in time."""
    assert payment.single_call_id is not None, "only a single call's payment comes here"
    offer = SingleCall.objects.get(pk=payment.single_call_id)
    result = ledger.post(
        idempotency_key=single_call_payment_key(offer.call_id),
        kind=EntryKind.PAYMENT,
        lines=[
            (ledger.system_account(SystemAccount.CARD_CLEARING), -payment.total_cents),
            (ledger.system_account(SystemAccount.SINGLE_CALLS), payment.total_cents),
        ],
        memo=f"Single call {offer.call_id}: payment #{payment.pk}",
    )
    payment.entry = result.entry
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.failure_message = ""
    payment.save(update_fields=["entry", "status", "succeeded_at", "failure_message"])
    if offer.status in (SingleCallStatus.OFFERED, SingleCallStatus.EXPIRED):
        offer.status = SingleCallStatus.PAID
        offer.paid_at = now
        offer.save(update_fields=["status", "paid_at"])


def _credit(*, payment: Payment, now: datetime) -> None:
    """Post the payment (caller holds the transaction and the payment row lock)."""
    account = payment.account
    assert account is not None, "a single call's payment is credited by _single_call_credit"
    clearing = SystemAccount.MAIL_CLEARING if payment.channel == Channel.MAIL else SystemAccount.CARD_CLEARING
    lines = [
        (ledger.system_account(clearing), -payment.total_cents),
        (ledger.account_ledger(account), payment.amount_cents),
    ]
    if payment.fee_cents:
        lines.append((ledger.system_account(SystemAccount.FEE_REVENUE), payment.fee_cents))
    # The caller holds lock order step 1 (the ledger row); this takes step 2 (the account row).
    account_mark_funded(account=account, now=now, actor=payment.recorded_by)
    result = ledger.post(
        idempotency_key=f"payment:{payment.pk}",
        kind=EntryKind.PAYMENT,
        lines=lines,
        memo=f"{payment.get_channel_display()} payment #{payment.pk}",
        created_by=payment.recorded_by,
    )
    payment.entry = result.entry
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.failure_message = ""
    payment.save(update_fields=["entry", "status", "succeeded_at", "failure_message"])
    # The account is locked (account_mark_funded), so this status is the one in force.
    closed = CallingAccount.objects.filter(pk=account.pk, status=AccountStatus.CLOSED).exists()
    if closed or account.kind == AccountKind.DIRECT_BILL:
        # Money a closed or Direct Bill account does not owe goes straight back: a late 3-D Secure,
        # a race with a close, or a charge Stripe took after answering us unclearly while the holder
        # paid again. A payment never leaves more than what was owed.
        extra = min(payment.amount_cents, result.balances.get(ledger.account_ledger(account).pk, 0))
        if extra > 0:
            closed_account_payment_refund(payment=payment, amount_cents=extra)
    if not closed and account.kind == AccountKind.DIRECT_BILL:
        # Whichever path credits it (page, 3-D Secure return, webhook, staff), paying off a
        # past-due statement restores service in the same transaction.
        if not _direct_bill_credited:
            raise RuntimeError("nothing registered for a Direct Bill payment: is billing/callbacks.py loaded?")
        _direct_bill_credited[0](account=account, now=now)
    outbox_enqueue(kind="email.payment_receipt", payload={"payment_id": payment.pk})
    account_text_enqueue(account_id=account.pk, template="payment_receipt", amount_cents=payment.amount_cents)


def fee_schedule_check(*, channel: Channel | str, fee_cents: int) -> None:
    """Raise PaymentError (a message fit to show staff) for a fee outside the channel's own cap."""
    if channel == Channel.MAIL and fee_cents:
        raise PaymentError("Mail payments never carry a fee.")
    cap = FEE_CAPS_CENTS[Channel(channel)]
    if fee_cents < 0:
        raise PaymentError("A fee cannot be negative.")
    if fee_cents > cap:
        raise PaymentError(f"No {Channel(channel).label} fee may exceed {format_cents(cap)} (47 CFR 64.6020).")


def fee_schedule_update(*, row: FeeSchedule, fee_cents: int) -> FeeSchedule:
    """Staff change a channel's fee. Refused above the channel's own cap (automated $3.00, live agent
    $5.95, mail $0.00; the database checks the same caps). The fee applies to payments quoted from now on.
    A change of the web fee (the one auto-reloads pay) pauses, after commit, the auto-reloads whose
    monthly limit no longer covers one reload with its fee (`autoreload.auto_reload_terms_recheck`)."""
    fee_schedule_check(channel=row.channel, fee_cents=fee_cents)
    with transaction.atomic():
        row.fee_cents = fee_cents
        row.save(update_fields=["fee_cents", "updated_at"])
        if row.channel == Channel.WEB:
            outbox_enqueue(kind=AUTO_RELOAD_TERMS_RECHECK, payload={})
    return row
