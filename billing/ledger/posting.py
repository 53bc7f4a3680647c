"""Posting entries: `post`, `post_batch` (many entries at once, for bulk imports) and `reverse`.

Callers of `post` may rely on:
- an entry is a set of postings that sums to zero, with at least two postings, never edited;
- the same idempotency key posts once, even when two transactions race with it;
- the cached balance of a calling account changes in the same transaction as its postings,
  by an atomic `UPDATE … SET balance = balance + x`, so concurrent posts never lose an update.
"""

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.utils import timezone

from billing.ledger.balances import LEDGER_TABLE, lock_ledger_rows
from billing.ledger.models import EntryKind, JournalEntry, LedgerAccount, Posting
from billing.ledger.rows import pipelined


class LedgerError(Exception):
    """A posting that would break the ledger's rules. A programming error, never user input."""


@dataclass(frozen=True)
class PostResult:
    entry: JournalEntry
    created: bool
    # The new cached balance of each calling account's ledger account this post changed, by id.
    balances: dict[int, int] = field(default_factory=dict)


def post(
    *,
    idempotency_key: str,
    kind: EntryKind | str,
    lines: Sequence[tuple[LedgerAccount, int]],
    memo: str = "",
    reverses: JournalEntry | None = None,
    created_by: Model | None = None,
) -> PostResult:
    """Post one balanced journal entry, or return the entry already posted under this key."""
    _validate(idempotency_key, lines)
    moves: dict[int, int] = defaultdict(int)  # what the entry adds to each calling account's balance
    for account, amount in lines:
        if _keeps_balance(account):
            moves[account.pk] += amount
    entry = JournalEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo[:300],
        reverses=reverses,
        # The kernel does not import the accounts app, whose User the field names: any staff user (or None).
        created_by=created_by,  # type: ignore[misc]
        created_at=timezone.now(),
    )
    # No savepoint of its own: inside a caller's transaction a failure here fails that transaction.
    with transaction.atomic(savepoint=False):
        if len(moves) == 1 and next(iter(moves.values())) != 0:
            created, balances = _post_moving_one(entry, *next(iter(moves.items())))
        else:
            created, balances = _post_moving_many(entry, moves)
        if created is None:
            return PostResult(JournalEntry.objects.get(idempotency_key=idempotency_key), False)
        _insert_postings(created.pk, lines)
        return PostResult(created, True, balances)


def _post_moving_one(entry: JournalEntry, ledger_id: int, amount: int) -> tuple[JournalEntry | None, dict[int, int]]:
    """The usual entry, which moves one calling account's balance: the UPDATE that moves it takes
    the lock (step 1 of the lock order), sent with the entry's insert in one round trip
    (`pipelined`). Should the key turn out to be posted already, the move is undone in this
    transaction and under the same lock, so nobody ever sees it."""
    with connection.cursor() as moving, connection.cursor() as entering:
        with _entry_errors(entry), pipelined():
            moving.execute(_balance_move_sql(), [amount, ledger_id])
            _entry_send(entering, entry)
        created = _entry_read(entering, entry)
        (balance,) = moving.fetchone()
    if created is None:
        _add_to_balances({ledger_id: -amount})
        return None, {}
    return created, {ledger_id: balance}


def _post_moving_many(entry: JournalEntry, moves: dict[int, int]) -> tuple[JournalEntry | None, dict[int, int]]:
    """An entry that moves several calling accounts' balances (or none): lock their ledger rows in
    id order first (step 1), then the entry, then the balances."""
    lock_ledger_rows(sorted(moves))
    with connection.cursor() as entering:
        with _entry_errors(entry):
            _entry_send(entering, entry)
        created = _entry_read(entering, entry)
    if created is None:
        return None, {}
    return created, _add_to_balances(moves)


@contextlib.contextmanager
def _entry_errors(entry: JournalEntry) -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:  # the entry's only other unique column: `reverses`
        raise LedgerError(f"entry #{entry.reverses_id} is already reversed") from exc


@dataclass(frozen=True)
class EntrySpec:
    """One entry of `post_batch`: what `post` takes."""

    idempotency_key: str
    kind: str
    lines: Sequence[tuple[LedgerAccount, int]]
    memo: str = ""


@dataclass(frozen=True)
class BatchPosted:
    entry_ids: dict[str, int]  # the entries this batch created, by idempotency key
    balance_after: list[int | None]  # per spec: its calling account's balance right after it (None: not posted)
    balances: dict[int, int]  # every locked calling account's balance at the end, by ledger account id


def post_batch(*, entries: Sequence[EntrySpec], also_lock: Iterable[LedgerAccount] = ()) -> BatchPosted:
    """`post` for many entries at once, with the same guarantees (each balanced, each key posted once
    even when raced, cached balances moved in the same transaction) in a handful of statements
    however many entries: lock every calling account's ledger row (ascending ids: lock order step 1),
    insert the entries (a key already taken is skipped), their postings, then one update of the
    balances. `also_lock` adds ledger rows whose balance the caller wants read under the lock."""
    for spec in entries:
        _validate(spec.idempotency_key, spec.lines)
    calling = {a.pk for spec in entries for a, _ in spec.lines if _keeps_balance(a)}
    calling |= {a.pk for a in also_lock}
    with transaction.atomic(savepoint=False):
        balances = lock_ledger_rows(sorted(calling))
        created = _insert_entries(entries)
        balance_after: list[int | None] = []
        moves: dict[int, int] = defaultdict(int)
        postings = []
        for spec in entries:
            entry_id = created.get(spec.idempotency_key)
            after = None
            if entry_id is not None:
                for account, amount in spec.lines:
                    postings.append((entry_id, account.pk, amount))
                    if _keeps_balance(account):
                        moves[account.pk] += amount
                        balances[account.pk] += amount
                        after = balances[account.pk]
            balance_after.append(after)
        for start in range(0, len(postings), 3000):
            _insert_posting_rows(postings[start : start + 3000])
        _add_to_balances_at_once({pk: amount for pk, amount in moves.items() if amount})
    return BatchPosted(created, balance_after, balances)


def _insert_entries(entries: Sequence[EntrySpec]) -> dict[str, int]:
    """Insert the entries whose key is free; their ids by key (taken keys are left out)."""
    created: dict[str, int] = {}
    table = connection.ops.quote_name(JournalEntry._meta.db_table)
    now = timezone.now()
    for start in range(0, len(entries), 1000):
        chunk = entries[start : start + 1000]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (idempotency_key, kind, memo, reverses_id, created_by_id, created_at) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s, NULL, NULL, %s)'] * len(chunk))} "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key",
                [v for spec in chunk for v in (spec.idempotency_key, str(spec.kind), spec.memo[:300], now)],
            )
            created.update({key: pk for pk, key in cursor.fetchall()})
    return created


def _insert_posting_rows(rows: list[tuple[int, int, int]]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(Posting._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (entry_id, ledger_account_id, amount_cents) "  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s)'] * len(rows))}",
            [value for row in rows for value in row],
        )


def _add_to_balances_at_once(moves: dict[int, int]) -> None:
    """One UPDATE for many cached balances (the rows are already locked by the caller)."""
    if not moves:
        return
    table = connection.ops.quote_name(LedgerAccount._meta.db_table)
    ids = sorted(moves)
    cases = " ".join(["WHEN %s THEN %s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET balance_cents = balance_cents + CASE id {cases} END "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ids))})",
            [v for pk in ids for v in (pk, moves[pk])] + ids,
        )


def _keeps_balance(account: LedgerAccount) -> bool:
    """A calling account's ledger account (system accounts keep no cached balance)."""
    return account.calling_account_id is not None or account.balance_cents is not None


def _add_to_balances(moves: dict[int, int]) -> dict[int, int]:
    """Add to cached balances atomically, in ascending id order (two entries touching the same
    accounts cannot deadlock); the new balance of each, by ledger account id."""
    balances: dict[int, int] = {}
    with connection.cursor() as cursor:
        for account_id in sorted(moves):
            if moves[account_id]:
                cursor.execute(_balance_move_sql(), [moves[account_id], account_id])
                balances[account_id] = cursor.fetchone()[0]
    return balances


def _balance_move_sql() -> str:
    """Add (amount, ledger account id) to a cached balance, returning the new one."""
    return (
        f"UPDATE {connection.ops.quote_name(LEDGER_TABLE)} SET balance_cents = balance_cents + %s "  # noqa: S608
        "WHERE id = %s RETURNING balance_cents"
    )


def _insert_postings(entry_id: int, lines: Sequence[tuple[LedgerAccount, int]]) -> None:
    table = connection.ops.quote_name(Posting._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (entry_id, ledger_account_id, amount_cents) "  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s)'] * len(lines))}",
            [value for account, amount in lines for value in (entry_id, account.pk, amount)],
        )


def _entry_send(cursor: CursorWrapper, entry: JournalEntry) -> None:
    """Insert the entry unless its key is taken. One statement, no savepoint: when another
    transaction is inserting the same key, PostgreSQL makes this one wait for it and then skip the
    row, and the caller reads the winner's entry."""
    table = connection.ops.quote_name(JournalEntry._meta.db_table)
    cursor.execute(
        f"INSERT INTO {table} (idempotency_key, kind, memo, reverses_id, created_by_id, created_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        [
            entry.idempotency_key,
            str(entry.kind),
            entry.memo,
            entry.reverses_id,
            entry.created_by_id,
            connection.ops.adapt_datetimefield_value(entry.created_at),
        ],
    )


def _entry_read(cursor: CursorWrapper, entry: JournalEntry) -> JournalEntry | None:
    """The entry `_entry_send` inserted, with its id; None when its key was taken."""
    row = cursor.fetchone()
    if row is None:
        return None
    entry.pk = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def reverse(*, entry: JournalEntry, memo: str = "", created_by: Model | None = None) -> PostResult:
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
