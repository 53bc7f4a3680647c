"""Warnings before money runs out (DESIGN.md §1): the low-balance alert, the calls-stopped notice
and the auto-reload trigger.

`balance_charged` runs inside the transaction that posts a call charge, on the call path: it reads
only fields of the account row already loaded, and at most writes one outbox row. The work (emails,
the off-session card charge) happens after commit in the outbox handler of
`billing.payments.autoreload`, never on the call path."""

from .models import AccountKind, CallingAccount
from .outbox import outbox_enqueue

BALANCE_CROSSED = "billing.balance_crossed"
LOW_BALANCE = "low_balance"
NEGATIVE = "negative"
AUTO_RELOAD = "auto_reload"


def balance_crossings(*, account: CallingAccount, balance_after_cents: int, charged_cents: int) -> list[str]:
    """What a charge of `charged_cents` that left `balance_after_cents` crossed: the low-balance
    threshold and zero once per crossing (the balance before was at or above it), and the
    auto-reload threshold each time the balance is below it while auto-reload is on."""
    if account.kind != AccountKind.ADVANCE_CONNECT or charged_cents <= 0:
        return []
    before = balance_after_cents + charged_cents
    crossed = []
    if before >= account.low_balance_threshold_cents > balance_after_cents:
        crossed.append(LOW_BALANCE)
    if before >= 0 > balance_after_cents:
        crossed.append(NEGATIVE)
    reload_below = account.auto_reload_threshold_cents
    if reload_below is not None and balance_after_cents < reload_below:
        crossed.append(AUTO_RELOAD)
    return crossed


def balance_charged(*, account: CallingAccount, balance_after_cents: int, charged_cents: int) -> None:
    """Call in the charge's transaction: writes one outbox row when the charge crossed a threshold."""
    crossed = balance_crossings(account=account, balance_after_cents=balance_after_cents, charged_cents=charged_cents)
    if crossed:
        outbox_enqueue(
            kind=BALANCE_CROSSED,
            payload={"account_id": account.pk, "crossed": crossed, "balance_cents": balance_after_cents},
        )
