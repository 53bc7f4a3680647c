"""Low-balance alerts and auto-reload from a saved card (docs/domain.md).

The call path writes one outbox row when a charge crosses a threshold (`accounts.alerts`); its
handler here emails the holder and, for auto-reload, records a reload payment whose off-session
charge is made by a second outbox message. So the Stripe call never runs on the call path, and the
payment row exists (committed) before Stripe is asked, which keys the charge's idempotency and lets
the webhook find it."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts import alerts
from accounts.emails import account_email_enqueue
from accounts.models import AccountKind, AccountStatus, CallingAccount, User
from accounts.outbox import outbox_enqueue, outbox_handler
from billing.ledger import kernel as ledger
from billing.ledger.money import format_cents
from billing.payments import services, stripe_gateway
from billing.payments.models import AutoReload, Channel, Payment, PaymentMethod, PaymentStatus

logger = logging.getLogger(__name__)

RELOAD_CHARGE = "billing.autoreload_charge"
# After the web fee changes (and once for the terms saved before caps counted the fee): pause the
# auto-reloads whose monthly limit no longer covers one reload with its fee.
TERMS_RECHECK = services.AUTO_RELOAD_TERMS_RECHECK
RELOAD_EVERY = timedelta(days=1)
NOT_COUNTED = (PaymentStatus.FAILED, PaymentStatus.CANCELED)


class AutoReloadError(Exception):
    """A set-up that cannot be saved. `message` is fit to show; `field` names the form field it is
    about, when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ReloadTerms:
    amount_cents: int
    threshold_cents: int
    monthly_cap_cents: int


def auto_reload_get(*, account: CallingAccount) -> AutoReload | None:
    return AutoReload.objects.filter(account=account).first()


def saved_card_setup_start(*, holder: User, reuse_setup_intent_id: str = "") -> tuple[str, str]:
    """A SetupIntent for saving a card for off-session reloads (see `services.card_setup_start`).
    Returns (id, client_secret)."""
    try:
        return services.card_setup_start(holder=holder, off_session=True, reuse_setup_intent_id=reuse_setup_intent_id)
    except services.PaymentError as exc:
        raise AutoReloadError(exc.message) from exc


def reload_fee_cents() -> int:
    """The fee each reload carries (a web card payment's)."""
    return services.fee_for_channel(channel=Channel.WEB)


def _check_terms(terms: ReloadTerms) -> None:
    low, high = settings.MIN_DEPOSIT_CENTS, settings.MAX_DEPOSIT_CENTS
    if not low <= terms.amount_cents <= high:
        raise AutoReloadError(
            gettext("A reload adds between %(low)s and %(high)s.")
            % {"low": format_cents(low), "high": format_cents(high)},
            field="amount",
        )
    if terms.threshold_cents > alerts.ALERT_THRESHOLD_MAX_CENTS:
        raise AutoReloadError(
            gettext("Choose a balance of at most %(high)s to reload at.")
            % {"high": format_cents(alerts.ALERT_THRESHOLD_MAX_CENTS)},
            field="threshold",
        )
    # The limit counts what the card pays: with it below one reload and its fee, no reload could run.
    one_reload = terms.amount_cents + reload_fee_cents()
    if terms.monthly_cap_cents < one_reload:
        raise AutoReloadError(
            gettext(
                "The monthly limit counts what your card pays: make it at least %(total)s, one reload with its fee."
            )
            % {"total": format_cents(one_reload)},
            field="monthly_cap",
        )


def _saved_card(*, holder: User, setup_intent_id: str) -> tuple[str, str]:
    """(payment method id, last 4 digits) of a SetupIntent the holder confirmed."""
    try:
        setup = stripe_gateway.setup_intent_retrieve(setup_intent_id=setup_intent_id)
    except stripe_gateway.GatewayError as exc:
        raise AutoReloadError(exc.message) from exc
    if setup.customer != holder.stripe_customer_id or setup.status != "succeeded" or not setup.payment_method:
        raise AutoReloadError(gettext("Your card details were not confirmed. Please enter your card again."))
    return setup.payment_method, stripe_gateway.payment_method_last4(payment_method_id=setup.payment_method)


def auto_reload_save(
    *, account: CallingAccount, holder: User, terms: ReloadTerms, setup_intent_id: str = ""
) -> AutoReload:
    """Turn auto-reload on with these terms, with the card the holder just confirmed (`setup_intent_id`)
    or the card already saved. Raises AutoReloadError, saving nothing, for a closed or Direct Bill
    account, terms out of bounds or no card."""
    if account.holder_id != holder.pk or account.kind != AccountKind.ADVANCE_CONNECT:
        raise AutoReloadError(gettext("Auto-reload is for your own AdvanceConnect accounts."))
    if account.status == AccountStatus.CLOSED:
        raise AutoReloadError(gettext("This account is closed."))
    _check_terms(terms)
    card = _saved_card(holder=holder, setup_intent_id=setup_intent_id) if setup_intent_id else None
    with transaction.atomic():
        ledger.balance_lock(account=account)  # lock order step 1, then the account row
        config = AutoReload.objects.select_for_update().filter(account=account).first()
        if card is None and (config is None or not config.stripe_payment_method_id):
            raise AutoReloadError(gettext("Enter your card details first."))
        config = config or AutoReload(account=account)
        if card is not None:
            config.stripe_payment_method_id, config.card_last4 = card
        config.amount_cents, config.threshold_cents = terms.amount_cents, terms.threshold_cents
        config.monthly_cap_cents, config.enabled, config.stopped_reason = terms.monthly_cap_cents, True, ""
        config.save()
        CallingAccount.objects.filter(pk=account.pk).update(auto_reload_threshold_cents=terms.threshold_cents)
    return config


def _stop(*, account_id: int, reason: str) -> AutoReload | None:
    with transaction.atomic():
        config = AutoReload.objects.select_for_update().filter(account_id=account_id).first()
        CallingAccount.objects.filter(pk=account_id).update(auto_reload_threshold_cents=None)
        if config is None:
            return None
        config.enabled, config.stopped_reason = False, reason
        config.save(update_fields=["enabled", "stopped_reason", "updated_at"])
    return config


def auto_reload_turn_off(*, account: CallingAccount) -> None:
    """The holder turns auto-reload off (the card stays saved)."""
    _stop(account_id=account.pk, reason=AutoReload.Stopped.HOLDER)


def saved_card_remove(*, account: CallingAccount) -> None:
    """Forget the saved card (detached from the Stripe customer) and turn auto-reload off."""
    config = _stop(account_id=account.pk, reason=AutoReload.Stopped.HOLDER)
    if config is None or not config.stripe_payment_method_id:
        return
    try:
        stripe_gateway.payment_method_detach(payment_method_id=config.stripe_payment_method_id)
    except stripe_gateway.GatewayError as exc:
        raise AutoReloadError(exc.message) from exc
    config.stripe_payment_method_id, config.card_last4 = "", ""
    config.save(update_fields=["stripe_payment_method_id", "card_last4", "updated_at"])


def _month_start(now: datetime) -> datetime:
    local = timezone.localtime(now, timezone.get_default_timezone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def reloads_this_month_cents(*, account: CallingAccount, now: datetime | None = None) -> int:
    """What the card paid (or is paying) for this month's reloads: amounts and fees."""
    reloads = Payment.objects.filter(
        account=account, auto_reload=True, created_at__gte=_month_start(now or timezone.now())
    ).exclude(status__in=NOT_COUNTED)
    return reloads.aggregate(total=Sum(F("amount_cents") + F("fee_cents")))["total"] or 0


def _may_reload(*, config: AutoReload, balance_cents: int, now: datetime) -> bool:
    account = config.account
    if not config.enabled or account.status in (AccountStatus.CLOSED, AccountStatus.SUSPENDED):
        return False
    if balance_cents >= config.threshold_cents:
        return False  # a payment since the call already lifted the balance
    if Payment.objects.filter(account=account, auto_reload=True, created_at__gt=now - RELOAD_EVERY).exists():
        return False  # at most one reload a day (even a failed one: it turned auto-reload off)
    next_reload = config.amount_cents + reload_fee_cents()
    return reloads_this_month_cents(account=account, now=now) + next_reload <= config.monthly_cap_cents


def auto_reload_attempt(*, account_id: int, now: datetime | None = None) -> Payment | None:
    """Record a reload payment when the terms allow one now (balance below the threshold, none in
    the last day, under the monthly cap); its card charge follows after commit. Decided under the
    account's ledger-row lock, so two triggers at once record one reload."""
    now = now or timezone.now()
    with transaction.atomic():
        account = CallingAccount.objects.get(pk=account_id)
        balance = ledger.balance_lock(account=account)
        config = AutoReload.objects.select_for_update().select_related("account").filter(account=account).first()
        if config is None or not _may_reload(config=config, balance_cents=balance, now=now):
            return None
        payment = Payment.objects.create(
            account=account,
            channel=Channel.WEB,
            method=PaymentMethod.CARD,
            amount_cents=config.amount_cents,
            fee_cents=reload_fee_cents(),
            card_last4=config.card_last4,
            auto_reload=True,
        )
        outbox_enqueue(kind=RELOAD_CHARGE, payload={"payment_id": payment.pk})
    return payment


@outbox_handler(TERMS_RECHECK)
def auto_reload_terms_recheck() -> int:
    """Pause each auto-reload whose monthly limit is below one reload with today's fee (no reload
    could ever run) and email its holder, who can save terms that work. Returns how many were
    paused. Runs after a fee change; safe to run again."""
    fee = reload_fee_cents()
    impossible = AutoReload.objects.filter(enabled=True, monthly_cap_cents__lt=F("amount_cents") + fee)
    paused = 0
    for account_id in impossible.order_by("account_id").values_list("account_id", flat=True):
        with transaction.atomic():
            config = AutoReload.objects.select_for_update().get(account_id=account_id)
            if not config.enabled or config.monthly_cap_cents >= config.amount_cents + fee:
                continue
            _stop(account_id=account_id, reason=AutoReload.Stopped.CAP_BELOW_COST)
            account_email_enqueue(
                account_id=account_id,
                template="auto_reload_stopped",
                reason=AutoReload.Stopped.CAP_BELOW_COST,
                one_reload_cents=config.amount_cents + fee,
                monthly_cap_cents=config.monthly_cap_cents,
            )
            paused += 1
    return paused


@outbox_handler(alerts.BALANCE_CROSSED)
def balance_crossed(*, account_id: int, crossed: list[str], balance_cents: int) -> None:
    if alerts.LOW_BALANCE in crossed:
        account_email_enqueue(account_id=account_id, template="low_balance", balance_cents=balance_cents)
    if alerts.NEGATIVE in crossed:
        account_email_enqueue(account_id=account_id, template="calls_stopped", balance_cents=balance_cents)
    if alerts.AUTO_RELOAD in crossed:
        auto_reload_attempt(account_id=account_id)


def _reload_failed(*, payment: Payment, reason: str, message: str) -> None:
    Payment.objects.filter(pk=payment.pk).exclude(status=PaymentStatus.SUCCEEDED).update(
        status=PaymentStatus.FAILED if reason == AutoReload.Stopped.DECLINED else PaymentStatus.CANCELED,
        failure_message=message[:500],
    )
    assert payment.account_id is not None, "a reload is a calling account's payment"
    _stop(account_id=payment.account_id, reason=reason)
    account_email_enqueue(account_id=payment.account_id, template="auto_reload_stopped", reason=reason)


@outbox_handler(RELOAD_CHARGE)
def auto_reload_charge(*, payment_id: int) -> None:
    """The off-session charge of a recorded reload. A card that needs the holder (either Stripe
    answer) or is declined turns auto-reload off and emails the holder; a success is credited and
    receipted by the payment service, exactly once."""
    payment = Payment.objects.select_related("account__holder").get(pk=payment_id)
    config = AutoReload.objects.filter(account_id=payment.account_id).first()
    if payment.status != PaymentStatus.CREATED or config is None or not config.stripe_payment_method_id:
        return
    assert payment.account is not None, "a reload is a calling account's payment"
    try:
        intent = stripe_gateway.payment_intent_create_off_session(
            amount_cents=payment.total_cents,
            customer_id=payment.account.holder.stripe_customer_id,
            payment_method_id=config.stripe_payment_method_id,
            idempotency_key=f"familyline-payment-{payment.pk}",
            metadata={"payment_id": str(payment.pk), "account_id": str(payment.account_id), "auto_reload": "1"},
        )
    except stripe_gateway.GatewayError as exc:
        if not exc.declined:
            raise  # unreachable: the outbox retries with the same idempotency key
        needs_holder = exc.code == "authentication_required"
        reason = AutoReload.Stopped.AUTHENTICATION if needs_holder else AutoReload.Stopped.DECLINED
        _reload_failed(payment=payment, reason=reason, message=exc.message)
        return
    payment = services.payment_intent_apply(intent=intent) or payment
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        # Nobody is there to confirm with the bank: cancel it (nothing was charged) and stop.
        try:
            stripe_gateway.payment_intent_cancel(payment_intent_id=intent.id)
        except stripe_gateway.GatewayError:
            logger.warning("could not cancel reload intent %s", intent.id)
        _reload_failed(
            payment=payment, reason=AutoReload.Stopped.AUTHENTICATION, message="Your bank asked to confirm the payment."
        )
    elif payment.status == PaymentStatus.FAILED:
        _reload_failed(payment=payment, reason=AutoReload.Stopped.DECLINED, message=payment.failure_message)
