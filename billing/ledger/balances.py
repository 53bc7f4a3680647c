"""Balances and their lock.

`balance_lock` is step 1 of the lock order (docs/architecture.md, "One lock order"): the calling
account's ledger row, locked FOR NO KEY UPDATE before anything else that touches the account's money.
Every other read here is without a lock."""

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from django.db import connection
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery, Sum

from billing.ledger.ledger_accounts import CallingAccountRow, account_ledger
from billing.ledger.models import EntryKind, LedgerAccount, Posting

LEDGER_TABLE = LedgerAccount._meta.db_table

_M = TypeVar("_M", bound=Model)


# A balance row is locked against other writers of it, not against inserts that reference it (FOR NO
# KEY UPDATE: a posting's foreign key to its ledger row does not wait for the lock).
LOCK_CLAUSE = " FOR NO KEY UPDATE"


def lock_ledger_rows(ledger_ids: list[int]) -> dict[int, int]:
    if not ledger_ids:
        return {}
    with connection.cursor() as cursor:
        # Ascending id order, so two transactions locking the same rows cannot deadlock.
        cursor.execute(
            f"SELECT id, balance_cents FROM {connection.ops.quote_name(LEDGER_TABLE)} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ledger_ids))}) ORDER BY id{LOCK_CLAUSE}",
            ledger_ids,
        )
        return dict(cursor.fetchall())


def balance(ledger_account: LedgerAccount) -> int:
    """The balance from the postings themselves (the cached one is `balance_cents`)."""
    return Posting.objects.filter(ledger_account=ledger_account).aggregate(total=Sum("amount_cents"))["total"] or 0


def balance_get(*, account: CallingAccountRow) -> int:
    """The balance of a calling account now (negative when the holder owes), read from its ledger
    row without a lock (never from a copy cached on the instance, which may be stale)."""
    found = LedgerAccount.objects.filter(calling_account_id=account.pk).values_list("balance_cents", flat=True)
    return found.first() or 0


def balance_lock(*, account: CallingAccountRow) -> int:
    """Step 1 of the lock order: lock the account's ledger row until the transaction ends and return
    its balance. Must be called inside a transaction."""
    ledger_id = account_ledger(account).pk
    return lock_ledger_rows([ledger_id])[ledger_id]


def owed_cents(*, account: CallingAccountRow, balance_cents: int | None = None) -> int:
    """What the holder owes now (a balance below zero is money owed). Pass the locked balance to
    decide under the lock."""
    balance = balance_get(account=account) if balance_cents is None else balance_cents
    return max(0, -balance)


def balance_subquery() -> Subquery:
    """The cached balance, to annotate a queryset of calling accounts (`OuterRef("pk")`)."""
    return Subquery(LedgerAccount.objects.filter(calling_account=OuterRef("pk")).order_by().values("balance_cents")[:1])


def accounts_owing(queryset: QuerySet[_M]) -> QuerySet[_M]:
    """The calling accounts of `queryset` whose balance is below zero (money owed)."""
    return queryset.filter(ledger_account__balance_cents__lt=0)


def postings_for_account(*, account: CallingAccountRow) -> QuerySet[Posting]:
    """The account's ledger lines, newest first (amount signed from the holder's side)."""
    return (
        Posting.objects.filter(ledger_account__calling_account_id=account.pk)
        .select_related("entry")
        .order_by("-entry__created_at", "-id")
    )


def credits_since(
    *, account: CallingAccountRow, at: datetime, credit_kinds: Iterable[str], until: datetime | None = None
) -> int:
    """What entries of `credit_kinds` posted at or after `at` (and before `until`) added to the
    account, less what reversals took back (never below zero)."""
    postings = Posting.objects.filter(ledger_account=account_ledger(account), entry__created_at__gte=at)
    if until is not None:
        postings = postings.filter(entry__created_at__lt=until)
    totals = postings.aggregate(
        credits=Sum("amount_cents", filter=Q(entry__kind__in=credit_kinds, amount_cents__gt=0)),
        reversals=Sum("amount_cents", filter=Q(entry__kind=EntryKind.REVERSAL, amount_cents__lt=0)),
    )
    return max(0, (totals["credits"] or 0) + (totals["reversals"] or 0))
