"""The money kernel: the only code that reads, locks or changes a balance, or places a hold.

A Django app of its own (label `ledger`): its models are the ledger accounts, journal entries,
postings and holds; it imports nothing else of the project. Callers write `from billing import
ledger` and call `ledger.post(...)`, `ledger.balance_lock(...)`, `ledger.hold_place(...)`…

This package is also the app Django imports before the app registry is ready, so it cannot
import its models here: each name of the API is looked up in its module on first use (and kept).
"""

import importlib

# name → module of this package that defines it
_API = {
    name: module
    for module, names in {
        "api": (
            "BatchPosted",
            "EntrySpec",
            "Funds",
            "HoldResult",
            "HoldTerms",
            "LedgerError",
            "PostResult",
            "Violation",
            "account_ledger",
            "account_ledgers_attach",
            "accounts_owing",
            "balance",
            "balance_as_of",
            "balance_get",
            "balance_lock",
            "balance_subquery",
            "balances_as_of_sql",
            "check",
            "credits_since",
            "entry_tax_sql",
            "entry_totals_between_sql",
            "hold_get",
            "hold_place",
            "hold_release",
            "holds_expire",
            "holds_open_cents",
            "holds_open_exist",
            "holds_release",
            "holds_release_for_account",
            "owed_cents",
            "post",
            "post_batch",
            "postings_for_account",
            "reverse",
            "system_account",
            "system_accounts",
            "totals_between",
        ),
    }.items()
    for name in names
}

__all__ = sorted(_API)


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
