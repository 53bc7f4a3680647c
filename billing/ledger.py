"""The money kernel. Every balance change in FamilyLine is one call to `post()`.

Callers may rely on:
- an entry is a set of postings that sums to zero, with at least two postings, never edited;
- the same idempotency key posts once, even when two transactions race with it;
- the cached balance of a calling account changes in the same transaction as its postings,
  by an atomic `UPDATE … SET balance = balance + x`, so concurrent posts never lose an update.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import EntryKind, JournalEntry, LedgerAccount, Posting, SystemAccount


class LedgerError(Exception):
    """A posting that would break the ledger's rules. A programming error, never user input."""


@dataclass(frozen=True)
class PostResult:
    entry: JournalEntry
    created: bool
    # The new cached balance of each calling account's ledger account this post changed, by id.
    balances: dict[int, int] = field(default_factory=dict)


def system_account(code: SystemAccount | str) -> LedgerAccount:
    code = SystemAccount(code)
    account, _ = LedgerAccount.objects.get_or_create(code=f"system:{code.value}", defaults={"name": code.label})
    return account


def system_accounts(*codes: SystemAccount | str) -> list[LedgerAccount]:
    """Several system accounts in one query (the call path needs two for every charge)."""
    wanted = [f"system:{SystemAccount(code).value}" for code in codes]
    found = {account.code: account for account in LedgerAccount.objects.filter(code__in=wanted)}
    return [found.get(key) or system_account(code) for key, code in zip(wanted, codes, strict=True)]


def account_ledger(calling_account) -> LedgerAccount:
    """The ledger account of a calling account, created on first use."""
    try:
        return calling_account.ledger_account
    except LedgerAccount.DoesNotExist:
        pass
    account, _ = LedgerAccount.objects.get_or_create(
        code=f"account:{calling_account.pk}",
        defaults={
            "name": f"Calling account #{calling_account.pk}",
            "calling_account": calling_account,
            "balance_cents": 0,
        },
    )
    return account


def post(
    *,
    idempotency_key: str,
    kind: EntryKind | str,
    lines: Sequence[tuple[LedgerAccount, int]],
    memo: str = "",
    reverses: JournalEntry | None = None,
    created_by=None,
) -> PostResult:
    """Post one balanced journal entry, or return the entry already posted under this key."""
    _validate(idempotency_key, lines)
    with transaction.atomic():
        entry = _insert_entry(idempotency_key, kind, memo[:300], reverses, created_by)
        if entry is None:
            return PostResult(JournalEntry.objects.get(idempotency_key=idempotency_key), False)

        Posting.objects.bulk_create(
            Posting(entry=entry, ledger_account=account, amount_cents=amount) for account, amount in lines
        )
        per_account: dict[int, int] = defaultdict(int)
        for account, amount in lines:
            if account.balance_cents is not None:
                per_account[account.pk] += amount
        balances: dict[int, int] = {}
        table = connection.ops.quote_name(LedgerAccount._meta.db_table)
        with connection.cursor() as cursor:
            # Ascending id order, so two entries touching the same accounts cannot deadlock.
            for account_id in sorted(per_account):
                if per_account[account_id]:
                    cursor.execute(
                        f"UPDATE {table} SET balance_cents = balance_cents + %s WHERE id = %s "  # noqa: S608
                        "RETURNING balance_cents",
                        [per_account[account_id], account_id],
                    )
                    balances[account_id] = cursor.fetchone()[0]
        return PostResult(entry, True, balances)


def _insert_entry(idempotency_key, kind, memo, reverses, created_by) -> JournalEntry | None:
    """Insert the entry, or return None when its key is taken. One statement, no savepoint: when
    another transaction is inserting the same key, PostgreSQL makes this one wait for it and then
    skip the row, and the caller reads the winner's entry."""
    entry = JournalEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        reverses=reverses,
        created_by=created_by,
        created_at=timezone.now(),
    )
    table = connection.ops.quote_name(JournalEntry._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (idempotency_key, kind, memo, reverses_id, created_by_id, created_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                [entry.idempotency_key, str(kind), memo, entry.reverses_id, entry.created_by_id, entry.created_at],
            )
            row = cursor.fetchone()
    except IntegrityError as exc:  # the only other unique column: `reverses`
        raise LedgerError(f"entry #{reverses and reverses.pk} is already reversed") from exc
    if row is None:
        return None
    entry.pk = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def reverse(*, entry: JournalEntry, memo: str = "", created_by=None) -> PostResult:
    """Post the mirror image of `entry`. An entry is reversed at most once."""
    lines = [(p.ledger_account, -p.amount_cents) for p in entry.postings.select_related("ledger_account")]
    return post(
        idempotency_key=f"reversal:{entry.pk}",
        kind=EntryKind.REVERSAL,
        lines=lines,
        memo=memo or f"Reversal of entry #{entry.pk}",
        reverses=entry,
        created_by=created_by,
    )


def balance(ledger_account: LedgerAccount) -> int:
    """The balance from the postings themselves (the cached one is `balance_cents`)."""
    return Posting.objects.filter(ledger_account=ledger_account).aggregate(total=Sum("amount_cents"))["total"] or 0


def _validate(idempotency_key: str, lines: Sequence[tuple[LedgerAccount, int]]) -> None:
    if not idempotency_key:
        raise LedgerError("an entry needs an idempotency key")
    if len(lines) < 2:
        raise LedgerError("an entry needs at least two postings")
    for account, amount in lines:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise LedgerError(f"amounts are integer cents, got {amount!r}")
        if amount == 0:
            raise LedgerError("a posting cannot be zero")
        if account.pk is None:
            raise LedgerError("post to saved ledger accounts only")
    total = sum(amount for _, amount in lines)
    if total != 0:
        raise LedgerError(f"entry does not balance: postings sum to {total} cents")


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def check(extra_checks: Iterable = ()) -> list[Violation]:
    """Verify the ledger's invariants; return every violation found (empty when all hold)."""
    violations: list[Violation] = []
    unbalanced = (
        Posting.objects.values("entry_id").annotate(total=Sum("amount_cents")).exclude(total=0).order_by("entry_id")
    )
    for row in unbalanced:
        violations.append(Violation("unbalanced_entry", f"entry #{row['entry_id']} sums to {row['total']} cents"))
    thin = JournalEntry.objects.annotate(n=Count("postings")).filter(n__lt=2).order_by("id")
    for entry in thin:
        violations.append(Violation("entry_without_two_postings", f"entry #{entry.pk} has {entry.n} posting(s)"))
    cached = (
        LedgerAccount.objects.filter(balance_cents__isnull=False)
        .annotate(posted=Coalesce(Sum("postings__amount_cents"), 0))
        .exclude(balance_cents=F("posted"))
        .order_by("id")
    )
    for account in cached:
        violations.append(
            Violation(
                "cached_balance_mismatch",
                f"{account.code} caches {account.balance_cents} cents but its postings sum to {account.posted}",
            )
        )
    for extra in extra_checks:
        violations.extend(extra())
    return violations
