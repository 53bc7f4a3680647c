"""Warnings before money runs out (docs/domain.md): the low-balance alert, the calls-stopped notice
and the auto-reload trigger.

`balance_charged` runs inside the transaction that posts a call charge, on the call path: a charge
that leaves more than ALERT_THRESHOLD_MAX_CENTS costs nothing; below it, one primary-key read of the
two thresholds and at most one outbox row. The work (emails,
the off-session card charge) happens after commit in the outbox handler of
`billing.payments.autoreload`, never on the call path."""

from django.conf import settings

from .models import AccountKind, CallingAccount
from .outbox import outbox_enqueue

BALANCE_CROSSED = "billing.balance_crossed"
LOW_BALANCE = "low_balance"
NEGATIVE = "negative"
AUTO_RELOAD = "auto_reload"
# No threshold may be set above this (the largest single payment), so a charge that leaves more
# cannot cross one and the call path does not even read the thresholds.
ALERT_THRESHOLD_MAX_CENTS = settings.MAX_DEPOSIT_CENTS


def balance_crossings(
    *, low_threshold_cents: int, reload_threshold_cents: int | None, balance_after_cents: int, charged_cents: int
) -> list[str]:
    """What a charge of `charged_cents` that left `balance_after_cents` crossed: the low-balance
    threshold and zero once per crossing (the balance before was at or above it), and the
    auto-reload threshold each time the balance is below it while auto-reload is on."""
    before = balance_after_cents + charged_cents
    crossed = []
    if before >= low_threshold_cents > balance_after_cents:
        crossed.append(LOW_BALANCE)
    if before >= 0 > balance_after_cents:
        crossed.append(NEGATIVE)
    if reload_threshold_cents is not None and balance_after_cents < reload_threshold_cents:
        crossed.append(AUTO_RELOAD)
    return crossed


def balance_charged(*, account: CallingAccount, balance_after_cents: int, charged_cents: int) -> None:
    """Call in the charge's transaction: writes one outbox row when the charge crossed a threshold
    (the work runs after commit, in billing.payments.autoreload)."""
    if account.kind != AccountKind.ADVANCE_CONNECT or charged_cents <= 0:
        return
    if balance_after_cents >= ALERT_THRESHOLD_MAX_CENTS:
        return
    # Read here, not from `account`: the call path builds its account from a narrow row.
    thresholds = (
        CallingAccount.objects.filter(pk=account.pk)
        .values_list("low_balance_threshold_cents", "auto_reload_threshold_cents")
        .first()
    )
    if thresholds is None:
        return
    crossed = balance_crossings(
        low_threshold_cents=thresholds[0],
        reload_threshold_cents=thresholds[1],
        balance_after_cents=balance_after_cents,
        charged_cents=charged_cents,
    )
    if crossed:
        outbox_enqueue(
            kind=BALANCE_CROSSED,
            payload={"account_id": account.pk, "crossed": crossed, "balance_cents": balance_after_cents},
        )


def low_balance_threshold_set(*, account: CallingAccount, threshold_cents: int) -> CallingAccount:
    """The balance below which the holder is emailed (once per crossing; 0 turns the alert off), at
    most ALERT_THRESHOLD_MAX_CENTS."""
    threshold_cents = min(max(0, int(threshold_cents)), ALERT_THRESHOLD_MAX_CENTS)
    CallingAccount.objects.filter(pk=account.pk).update(low_balance_threshold_cents=threshold_cents)
    account.low_balance_threshold_cents = threshold_cents
    return account
