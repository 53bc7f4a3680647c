"""Paying a Direct Bill balance: by card (the web channel's fee applies) or by mail, recorded by staff
(no fee). Partial payments are allowed, up to what is owed; paying off the past-due balance restores
service at once."""

from accounts.models import AccountKind, CallingAccount, User
from billing.payments import services
from billing.payments.models import Channel, Payment


def _direct_bill_only(account: CallingAccount) -> None:
    if account.kind != AccountKind.DIRECT_BILL:
        raise services.PaymentError("Only Direct Bill balances are paid here.")


def direct_bill_payment_quote(*, account: CallingAccount, amount_cents: int) -> services.Quote:
    """Validate an amount (one cent up to what is owed, less payments on their way) and show
    amount + fee = total before paying. The limit is decided again under the lock when paying."""
    _direct_bill_only(account)
    return services.payment_quote(account=account, amount_cents=amount_cents, channel=Channel.WEB)


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
    _direct_bill_only(account)
    return services.card_payment_create(
        holder=holder,
        account=account,
        amount_cents=amount_cents,
        setup_intent_id=setup_intent_id,
        channel=Channel.WEB,
        expected_total_cents=expected_total_cents,
    )


def direct_bill_mail_payment_record(
    *,
    account: CallingAccount,
    method: str,
    amount_cents: int,
    reference: str,
    recorded_by: User,
    duplicate_confirmed: bool = False,
) -> Payment:
    """Staff record a check or money order toward a Direct Bill balance (no fee), in one transaction
    with the restore of service when it clears the past-due balance (done where every payment is
    credited). A number already recorded needs `duplicate_confirmed`, as for any offline payment."""
    _direct_bill_only(account)
    # What is owed is decided under the account's ledger-row lock, inside the offline payment service.
    return services.payment_record_offline(
        account=account,
        channel=Channel.MAIL,
        method=method,
        amount_cents=amount_cents,
        reference=reference,
        recorded_by=recorded_by,
        duplicate_confirmed=duplicate_confirmed,
    )
