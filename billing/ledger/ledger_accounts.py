"""Ledger accounts: the system accounts, and one per calling account (created on first use)."""

from collections.abc import Iterable
from typing import Any, Protocol

from django.db.models.base import ModelState

from billing.ledger.models import LedgerAccount, SystemAccount


def system_account(code: SystemAccount | str) -> LedgerAccount:
    code = SystemAccount(code)
    account, _ = LedgerAccount.objects.get_or_create(code=f"system:{code.value}", defaults={"name": code.label})
    return account


def system_accounts(*codes: SystemAccount | str) -> list[LedgerAccount]:
    """Several system accounts in one query (the call path needs two for every charge)."""
    wanted = [f"system:{SystemAccount(code).value}" for code in codes]
    found = {account.code: account for account in LedgerAccount.objects.filter(code__in=wanted)}
    return [found.get(key) or system_account(code) for key, code in zip(wanted, codes, strict=True)]


class CallingAccountRow(Protocol):
    """A calling account as the kernel sees it: the accounts app owns the model; the kernel reads its key
    and its ledger account (a one-to-one the ledger's model declares)."""

    @property
    def pk(self) -> Any: ...

    ledger_account: LedgerAccount
    _state: ModelState


def account_ledger(calling_account: CallingAccountRow) -> LedgerAccount:
    """The ledger account of a calling account, created on first use."""
    try:
        ledger_account: LedgerAccount = calling_account.ledger_account
        return ledger_account
    except LedgerAccount.DoesNotExist:
        pass
    account, _ = LedgerAccount.objects.get_or_create(
        code=f"account:{calling_account.pk}",
        defaults={
            "name": f"Calling account #{calling_account.pk}",
            # The accounts app's CallingAccount, which the kernel knows only through CallingAccountRow.
            "calling_account": calling_account,  # type: ignore[misc]
            "balance_cents": 0,
        },
    )
    return account


def account_ledgers_attach(calling_accounts: Iterable[CallingAccountRow]) -> None:
    """Read the ledger accounts of many calling accounts in one query and attach each to its calling
    account (as `account_ledger` would, one query each). For bulk work."""
    pending = [a for a in calling_accounts if "ledger_account" not in a._state.fields_cache]
    if not pending:
        return
    found = {
        la.calling_account_id: la for la in LedgerAccount.objects.filter(calling_account_id__in={a.pk for a in pending})
    }
    for account in pending:
        if account.pk in found:
            account.ledger_account = found[account.pk]
