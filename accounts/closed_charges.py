"""Charges that reach an account after it closed (a call reported late, docs/domain.md).

Such a charge is first taken from the account's refunds that have not left yet; only the rest is a
deficit. That work belongs to the closing workflow (`billing.closing.late_charges`), a layer above
the call path that posts the charge: the call path calls `account_charged` in the charge's
transaction, which writes one outbox row for a closed account and nothing otherwise; the closing
workflow handles it right after commit (and the periodic sweep, should that fail).

On the call path it costs nothing for an open account: it reads only the account's status as the
path loaded it and the balance the charge left. A close that committed while the charge waited for
the account's ledger-row lock left a balance of zero, so the charge takes it below zero, which is
enough to look (the handler then reads the status under the lock; for an open account it does
nothing)."""

from collections.abc import Iterable

from .models import AccountStatus, CallingAccount
from .outbox import outbox_enqueue

CLOSED_ACCOUNT_CHARGED = "billing.closed_account_charged"


def account_charged(*, account: CallingAccount, balance_after_cents: int, charged_cents: int, cause: str) -> None:
    """Call in the transaction that posted a charge of `charged_cents` under the key `cause` (e.g.
    `call:<platform call id>`), which left `balance_after_cents`."""
    if charged_cents <= 0:
        return
    crossed_zero = balance_after_cents < 0 <= balance_after_cents + charged_cents
    if account.status == AccountStatus.CLOSED or crossed_zero:
        outbox_enqueue(
            kind=CLOSED_ACCOUNT_CHARGED,
            payload={"account_id": account.pk, "cause": cause, "charged_cents": charged_cents},
        )


def accounts_charged(*, charges: Iterable[tuple[CallingAccount, int, int, str]]) -> None:
    """`account_charged` for many charges: (account, balance after, charged cents, cause)."""
    for account, balance_after_cents, charged_cents, cause in charges:
        account_charged(
            account=account, balance_after_cents=balance_after_cents, charged_cents=charged_cents, cause=cause
        )
