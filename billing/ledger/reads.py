"""Set-based reads as SQL, for the monthly statement run (which writes from them inside the
database, INSERT … SELECT, rather than bringing thousands of rows into Python), and report totals.
Each `*_sql` function returns (sql, params) in the ORM's placeholder style."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Sum

from billing.ledger.models import JournalEntry, LedgerAccount, Posting, SystemAccount


def _calling_account_postings_sql(account_ids: Sequence[int]) -> tuple[str, list[Any]]:
    tables = {
        name: connection.ops.quote_name(model._meta.db_table)
        for name, model in (("posting", Posting), ("ledger", LedgerAccount), ("entry", JournalEntry))
    }
    sql = (
        f"FROM {tables['posting']} p JOIN {tables['ledger']} la ON la.id = p.ledger_account_id "
        f"JOIN {tables['entry']} e ON e.id = p.entry_id "
        f"WHERE la.calling_account_id IN ({', '.join(['%s'] * len(account_ids))})"
    )
    return sql, list(account_ids)


def balances_as_of_sql(*, account_ids: Sequence[int], at: datetime) -> tuple[str, list[Any]]:
    """The balances from the entries posted before `at`, as a SELECT of (account_id, balance_cents): one
    row per calling account of `account_ids` that has postings before `at` (one without any has 0)."""
    postings, params = _calling_account_postings_sql(account_ids)
    sql = (
        "SELECT la.calling_account_id AS account_id, CAST(SUM(p.amount_cents) AS BIGINT) AS balance_cents "  # noqa: S608
        f"{postings} AND e.created_at < %s GROUP BY la.calling_account_id"
    )
    return sql, [*params, connection.ops.adapt_datetimefield_value(at)]


def entry_totals_between_sql(*, account_ids: Sequence[int], start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """A SELECT of (account_id, entry_id, kind, created_at, memo, total_cents): each entry posted in
    [start, end) that touched a calling account of `account_ids`, with what it added to that account."""
    postings, params = _calling_account_postings_sql(account_ids)
    sql = (
        "SELECT la.calling_account_id AS account_id, e.id AS entry_id, e.kind AS kind, "  # noqa: S608
        "e.created_at AS created_at, e.memo AS memo, CAST(SUM(p.amount_cents) AS BIGINT) AS total_cents "
        f"{postings} AND e.created_at >= %s AND e.created_at < %s "
        "GROUP BY la.calling_account_id, e.id, e.kind, e.created_at, e.memo"
    )
    adapt = connection.ops.adapt_datetimefield_value
    return sql, [*params, adapt(start), adapt(end)]


def entry_tax_sql(entry_id_column: str) -> tuple[str, list[Any]]:
    """A scalar subquery: the tax payable that the entry whose id is in `entry_id_column` posted (NULL
    when it posted none)."""
    posting = connection.ops.quote_name(Posting._meta.db_table)
    ledger = connection.ops.quote_name(LedgerAccount._meta.db_table)
    sql = (
        f"(SELECT SUM(tp.amount_cents) FROM {posting} tp WHERE tp.entry_id = {entry_id_column} "  # noqa: S608
        f"AND tp.ledger_account_id = (SELECT tl.id FROM {ledger} tl WHERE tl.code = %s))"
    )
    return sql, [f"system:{SystemAccount.TAX_PAYABLE.value}"]


def totals_between(*, start: datetime, end: datetime, kinds: Iterable[str]) -> dict[str, int]:
    """What the entries of `kinds` posted in [start, end) put on each system account (by code,
    `system:<name>`) and on all calling accounts together (under `accounts`). For reports."""
    rows = (
        Posting.objects.filter(entry__kind__in=list(kinds), entry__created_at__gte=start, entry__created_at__lt=end)
        .values_list("ledger_account__code")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    totals: dict[str, int] = defaultdict(int)
    for code, total in rows:
        totals["accounts" if code.startswith("account:") else code] += total
    return dict(totals)
