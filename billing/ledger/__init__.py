"""The money kernel: the only code that reads, locks or changes a balance, or places a hold.

A Django app of its own (label `ledger`): its models are the ledger accounts, journal entries,
postings and holds. Callers write `from billing import ledger` and call `ledger.post(...)`,
`ledger.balance_lock(...)`, `ledger.hold_place(...)`… The API, one module per concept:
- `ledger_accounts`: `system_account(s)`, `account_ledger`, `account_ledgers_attach`, and
  `CallingAccountRow`, a calling account as the kernel sees it (for annotations);
- `balances`: `balance_get`, `balance_lock` (lock order step 1), `owed_cents`,
  `balance_subquery`, `accounts_owing`, `postings_for_account`, `credits_since`;
- `posting`: `post`, `post_batch`, `reverse`;
- `holds`: `hold_place`, `hold_release`, `holds_release`, `holds_release_for_account`,
  `holds_open_exist`, `holds_open_cents`, `holds_expire`;
- `reads`: the statement run's reads as SQL (`balances_as_of_sql`, `entry_totals_between_sql`,
  `entry_tax_sql`) and `totals_between` for reports;
- `checks`: `check` and its `Violation`s.

The lock order (every path that touches an account's money takes its locks in this order, so a
payment, a call, a close, a statement and an adjustment on one account never deadlock):
1. the calling account's ledger row, `balance_lock` (FOR NO KEY UPDATE), before anything else;
2. the calling account row, when its status changes (FOR NO KEY UPDATE, which does not conflict
   with the key-share locks that inserting a hold or call record takes on it);
3. the rows of the cause: payment, refund, statement, application, sponsorship; then the hold or
   call record inserted;
4. the entry and its postings (`post`, which takes step 1 itself if the caller has not).
Decisions that depend on money (funds for a call, what is owed before a payment, closing) are
taken under lock 1.

This package is also the app Django imports before the app registry is ready, so it cannot
import its models here: each name of the API is looked up in its module on first use (and kept).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers and editors read; at run time each name is found on first use
    from billing.ledger.balances import (
        accounts_owing,
        balance,
        balance_get,
        balance_lock,
        balance_subquery,
        credits_since,
        owed_cents,
        postings_for_account,
    )
    from billing.ledger.checks import Violation, check
    from billing.ledger.holds import (
        AccountState,
        Funds,
        HoldResult,
        HoldTerms,
        account_state_register,
        hold_place,
        hold_release,
        holds_expire,
        holds_open_cents,
        holds_open_exist,
        holds_release,
        holds_release_for_account,
    )
    from billing.ledger.ledger_accounts import (
        CallingAccountRow,
        account_ledger,
        account_ledgers_attach,
        system_account,
        system_accounts,
    )
    from billing.ledger.posting import BatchPosted, EntrySpec, LedgerError, PostResult, post, post_batch, reverse
    from billing.ledger.reads import balances_as_of_sql, entry_tax_sql, entry_totals_between_sql, totals_between

# name → module of this package that defines it
_API = {
    name: module
    for module, names in {
        "ledger_accounts": (
            "CallingAccountRow",
            "account_ledger",
            "account_ledgers_attach",
            "system_account",
            "system_accounts",
        ),
        "balances": (
            "accounts_owing",
            "balance",
            "balance_get",
            "balance_lock",
            "balance_subquery",
            "credits_since",
            "owed_cents",
            "postings_for_account",
        ),
        "posting": (
            "BatchPosted",
            "EntrySpec",
            "LedgerError",
            "PostResult",
            "post",
            "post_batch",
            "reverse",
        ),
        "holds": (
            "AccountState",
            "account_state_register",
            "Funds",
            "HoldResult",
            "HoldTerms",
            "hold_place",
            "hold_release",
            "holds_expire",
            "holds_open_cents",
            "holds_open_exist",
            "holds_release",
            "holds_release_for_account",
        ),
        "reads": (
            "balances_as_of_sql",
            "entry_tax_sql",
            "entry_totals_between_sql",
            "totals_between",
        ),
        "checks": (
            "Violation",
            "check",
        ),
    }.items()
    for name in names
}

__all__ = [
    "AccountState",
    "BatchPosted",
    "CallingAccountRow",
    "EntrySpec",
    "Funds",
    "HoldResult",
    "HoldTerms",
    "LedgerError",
    "PostResult",
    "Violation",
    "account_ledger",
    "account_ledgers_attach",
    "account_state_register",
    "accounts_owing",
    "balance",
    "balance_get",
    "balance_lock",
    "balance_subquery",
    "balances_as_of_sql",
    "check",
    "credits_since",
    "entry_tax_sql",
    "entry_totals_between_sql",
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
]


def __getattr__(name: str) -> object:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
