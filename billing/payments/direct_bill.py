"""Paying a Direct Bill balance: by card (the web channel's fee applies) or by mail, recorded by staff
(no fee). Partial payments are allowed, up to what is owed; paying off the past-due balance restores
service at once."""

from django.db import transaction

from accounts.models import AccountKind, CallingAccount, User
from billing.models import Channel, Payment

from . import services


def _limits(account: CallingAccount) -> tuple[int, int | None]:
    if account.kind != AccountKind.DIRECT_BILL:
        raise services.PaymentError("Only Direct Bill balances are paid here.")
    return services.payment_limits(account=account, channel=Channel.WEB)


def direct_bill_payment_quote(*, account: CallingAccount, amount_cents: int) -> services.Quote:
    """Validate an amount (one cent up to what is owed) and show amount + fee = total before paying."""
    return services.payment_quote(
        account=account, amount_cents=amount_cents, channel=Channel.WEB, limits=_limits(account)
    )


def direct_bill_card_payment_create(
    *,
    holder: User,
    account: CallingAccount,
    amount_cents: int,
    setup_intent_id: str,
    expected_total_cents: int | None = None,
) -> Payment:
    """A card payment toward a Direct Bill balance, through the card payment service (see
    `billing.payments.services.card_payment_create` for what it guarantees). Restores service at once when it
    clears the past-due balance."""
    return services.card_payment_create(
        holder=holder,
        account=account,
        amount_cents=amount_cents,
        setup_intent_id=setup_intent_id,
        channel=Channel.WEB,
        limits=_limits(account),
        expected_total_cents=expected_total_cents,
    )


def direct_bill_mail_payment_record(
    *, account: CallingAccount, method: str, amount_cents: int, reference: str, recorded_by: User
) -> Payment:
    """Staff record a check or money order toward a Direct Bill balance (no fee), in one transaction
    with the restore of service when it clears the past-due balance (done where every payment is
    credited)."""
    with transaction.atomic():
        # Locked before reading what is owed, so two staff recording at once cannot both overpay.
        account = CallingAccount.objects.select_for_update().get(pk=account.pk)
        return services.payment_record_offline(
            account=account,
            channel=Channel.MAIL,
            method=method,
            amount_cents=amount_cents,
            reference=reference,
            recorded_by=recorded_by,
            limits=_limits(account),
        )
