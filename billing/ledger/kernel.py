"""The ledger's API in one place: every function and class callers use, each the very object its
module defines. Callers write `from billing.ledger import api as ledger` and call
`ledger.post(...)`, `ledger.balance_lock(...)`, `ledger.hold_place(...)`… The modules, one per
concept:
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
"""

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
