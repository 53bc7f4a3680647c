"""The money kernel: the only code that reads, locks or changes a balance, or places a hold.

API: `balance_get`, `balance_lock`, `balance_as_of`, `owed_cents`, `hold_place`, `hold_get`,
`hold_release`, `holds_release_for_account`, `holds_expire`, `holds_open_exist`, `post`, `post_batch`
(many entries at once, for bulk imports), `reverse`,
plus the statement reads `credits_since` and, for the monthly run's INSERT … SELECT, as SQL:
`balances_as_of_sql`, `entry_totals_between_sql`, `entry_tax_sql`; and `check`.

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

Callers of `post` may rely on:
- an entry is a set of postings that sums to zero, with at least two postings, never edited;
- the same idempotency key posts once, even when two transactions race with it;
- the cached balance of a calling account changes in the same transaction as its postings,
  by an atomic `UPDATE … SET balance = balance + x`, so concurrent posts never lose an update.
"""

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import Payment, PaymentStatus, Refund, RefundReduction
from billing.rows import pipelined, row_insert

from .models import EntryKind, Hold, JournalEntry, LedgerAccount, Posting, SystemAccount


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


def account_ledgers_attach(calling_accounts: Iterable) -> None:
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
    moves: dict[int, int] = defaultdict(int)  # what the entry adds to each calling account's balance
    for account, amount in lines:
        if _keeps_balance(account):
            moves[account.pk] += amount
    entry = JournalEntry(
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo[:300],
        reverses=reverses,
        created_by=created_by,
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
    _lock_ledger_rows(sorted(moves))
    with connection.cursor() as entering:
        with _entry_errors(entry):
            _entry_send(entering, entry)
        created = _entry_read(entering, entry)
    if created is None:
        return None, {}
    return created, _add_to_balances(moves)


@contextlib.contextmanager
def _entry_errors(entry: JournalEntry):
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
        balances = _lock_ledger_rows(sorted(calling))
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
        f"UPDATE {connection.ops.quote_name(_LEDGER_TABLE)} SET balance_cents = balance_cents + %s "  # noqa: S608
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


def _entry_send(cursor, entry: JournalEntry) -> None:
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


def _entry_read(cursor, entry: JournalEntry) -> JournalEntry | None:
    """The entry `_entry_send` inserted, with its id; None when its key was taken."""
    row = cursor.fetchone()
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


# --- balances --------------------------------------------------------------------------------------

_LEDGER_TABLE = LedgerAccount._meta.db_table


# A balance row is locked against other writers of it, not against inserts that reference it (FOR NO
# KEY UPDATE: a posting's foreign key to its ledger row does not wait for the lock).
_LOCK_CLAUSE = " FOR NO KEY UPDATE"


def _lock_ledger_rows(ledger_ids: list[int]) -> dict[int, int]:
    if not ledger_ids:
        return {}
    with connection.cursor() as cursor:
        # Ascending id order, so two transactions locking the same rows cannot deadlock.
        cursor.execute(
            f"SELECT id, balance_cents FROM {connection.ops.quote_name(_LEDGER_TABLE)} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ledger_ids))}) ORDER BY id{_LOCK_CLAUSE}",
            ledger_ids,
        )
        return dict(cursor.fetchall())


def balance_get(*, account) -> int:
    """The balance of a calling account now (negative when the holder owes), read from its ledger
    row without a lock (never from a copy cached on the instance, which may be stale)."""
    found = LedgerAccount.objects.filter(calling_account_id=account.pk).values_list("balance_cents", flat=True)
    return found.first() or 0


def balance_lock(*, account) -> int:
    """Step 1 of the lock order: lock the account's ledger row until the transaction ends and return
    its balance. Must be called inside a transaction."""
    ledger_id = account_ledger(account).pk
    return _lock_ledger_rows([ledger_id])[ledger_id]


def balance_as_of(*, account, at: datetime) -> int:
    """The balance from the entries posted before `at`."""
    total = Posting.objects.filter(ledger_account=account_ledger(account), entry__created_at__lt=at).aggregate(
        total=Sum("amount_cents")
    )["total"]
    return total or 0


def owed_cents(*, account, balance_cents: int | None = None) -> int:
    """What the holder owes now (a balance below zero is money owed). Pass the locked balance to
    decide under the lock."""
    balance = balance_get(account=account) if balance_cents is None else balance_cents
    return max(0, -balance)


def balance_subquery() -> Subquery:
    """The cached balance, to annotate a queryset of calling accounts (`OuterRef("pk")`)."""
    return Subquery(LedgerAccount.objects.filter(calling_account=OuterRef("pk")).order_by().values("balance_cents")[:1])


def accounts_owing(queryset: QuerySet) -> QuerySet:
    """The calling accounts of `queryset` whose balance is below zero (money owed)."""
    return queryset.filter(ledger_account__balance_cents__lt=0)


def postings_for_account(*, account) -> QuerySet[Posting]:
    """The account's ledger lines, newest first (amount signed from the holder's side)."""
    return (
        Posting.objects.filter(ledger_account__calling_account=account)
        .select_related("entry")
        .order_by("-entry__created_at", "-id")
    )


# The monthly statement run's reads, as SQL to build on: it writes from them inside the database
# (INSERT … SELECT) rather than bringing thousands of rows into Python. Each returns (sql, params)
# in the ORM's placeholder style.


def _calling_account_postings_sql(account_ids: Sequence[int]) -> tuple[str, list]:
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


def balances_as_of_sql(*, account_ids: Sequence[int], at: datetime) -> tuple[str, list]:
    """`balance_as_of` for many accounts, as a SELECT of (account_id, balance_cents): one row per
    calling account of `account_ids` that has postings before `at` (one without any has 0)."""
    postings, params = _calling_account_postings_sql(account_ids)
    sql = (
        "SELECT la.calling_account_id AS account_id, CAST(SUM(p.amount_cents) AS BIGINT) AS balance_cents "  # noqa: S608
        f"{postings} AND e.created_at < %s GROUP BY la.calling_account_id"
    )
    return sql, [*params, connection.ops.adapt_datetimefield_value(at)]


def entry_totals_between_sql(*, account_ids: Sequence[int], start: datetime, end: datetime) -> tuple[str, list]:
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


def entry_tax_sql(entry_id_column: str) -> tuple[str, list]:
    """A scalar subquery: the tax payable that the entry whose id is in `entry_id_column` posted (NULL
    when it posted none)."""
    posting = connection.ops.quote_name(Posting._meta.db_table)
    ledger = connection.ops.quote_name(LedgerAccount._meta.db_table)
    sql = (
        f"(SELECT SUM(tp.amount_cents) FROM {posting} tp WHERE tp.entry_id = {entry_id_column} "  # noqa: S608
        f"AND tp.ledger_account_id = (SELECT tl.id FROM {ledger} tl WHERE tl.code = %s))"
    )
    return sql, [f"system:{SystemAccount.TAX_PAYABLE.value}"]


def credits_since(*, account, at: datetime, credit_kinds, until: datetime | None = None) -> int:
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


# --- holds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Funds:
    """What an account can spend now, read under its ledger-row lock, and the account's standing as
    it is then: every status change takes the same lock first, so a close or a suspension that
    committed while the hold waited is seen here."""

    balance_cents: int
    held_cents: int
    available_cents: int
    status: str = ""
    suspension_code: str = ""
    activates_at: datetime | None = None


@dataclass(frozen=True)
class HoldTerms:
    """What the caller decided to reserve, given the funds."""

    amount_cents: int
    max_seconds: int
    response: dict


@dataclass(frozen=True)
class HoldResult:
    response: dict | None  # the hold's authorization answer; None when the decision was not to hold
    placed: bool  # False for a hold already placed under this cause (a retry)
    funds: Funds | None  # None only when another transaction placed the hold first


def hold_place(
    *,
    account,
    call_id: str,
    on_credit: bool,
    expires_at: datetime,
    decide: Callable[[Funds], HoldTerms | None],
    details: dict,
    now: datetime | None = None,
) -> HoldResult:
    """Lock the account's ledger row, compute what is available (balance, or, `on_credit` (Direct
    Bill), credit limit + balance, the limit as read under the lock; minus open holds) and, if
    `decide(funds)` returns terms, insert the hold: one step, so two authorizations at once never
    spend the same dollars, and a limit lowered meanwhile is the one in force. A hold already placed under
    `call_id` is returned as it is (placed=False) and `decide` is not asked again.

    Three statements inside the transaction: the lock, one read of what the decision needs, the
    insert. `details` gives the hold's facility_id, inmate_id, dialed_number (E.164) and billing."""
    now = now or timezone.now()
    ledger_id = account_ledger(account).pk
    with transaction.atomic():
        funds, existing = _lock_for_hold(
            ledger_id=ledger_id,
            account_id=account.pk,
            call_id=call_id,
            on_credit=on_credit,
            now=now,
        )
        if existing is not None:
            return HoldResult(Hold.objects.values_list("response", flat=True).get(pk=existing), False, funds)
        terms = decide(funds)
        if terms is None:
            return HoldResult(None, False, funds)
        values = {
            **details,
            "call_id": call_id,
            "account_id": account.pk,
            "amount_cents": terms.amount_cents,
            "max_seconds": terms.max_seconds,
            "response": terms.response,
            "created_at": timezone.now(),
            "expires_at": expires_at,
        }
        # The dialed number is E.164 text already (no parse on the hot path).
        if row_insert(Hold, values, as_is=frozenset({"dialed_number"}), on_conflict_skip="call_id") is not None:
            return HoldResult(terms.response, True, funds)
    # The same call id was held at the same moment on another account's lock: the first one wins.
    return HoldResult(Hold.objects.values_list("response", flat=True).get(call_id=call_id), False, None)


_HOLD_TABLE = Hold._meta.db_table
# The calling account's table, named through the ledger row's link to it (the kernel imports no app).
_ACCOUNT_TABLE = LedgerAccount._meta.get_field("calling_account").related_model._meta.db_table


def _lock_for_hold(
    *, ledger_id: int, account_id: int, call_id: str, on_credit: bool, now: datetime
) -> tuple[Funds, int | None]:
    """Lock order step 1, then what a hold decision needs: the locked balance, what open holds
    already reserve, the account's standing, and the hold this call id already has (its id), if any.

    Two statements, not one: on PostgreSQL a statement reads with the snapshot it started with, so
    holds committed (or a status changed) while it waited for the lock would be missing from a read
    taken in the statement that waited. The second statement starts after the lock is ours and sees
    them all."""
    holds, accounts = connection.ops.quote_name(_HOLD_TABLE), connection.ops.quote_name(_ACCOUNT_TABLE)
    with connection.cursor() as locking, connection.cursor() as reading:
        with pipelined():  # one round trip; the server runs the second after the first has the lock
            locking.execute(
                f"SELECT balance_cents FROM {connection.ops.quote_name(_LEDGER_TABLE)} "  # noqa: S608
                f"WHERE id = %s{_LOCK_CLAUSE}",
                [ledger_id],
            )
            reading.execute(
                f"SELECT (SELECT COALESCE(SUM(amount_cents), 0) FROM {holds} "  # noqa: S608 - names from the models
                " WHERE account_id = %s AND released_at IS NULL AND expires_at > %s), "
                f"(SELECT id FROM {holds} WHERE call_id = %s), a.status, a.suspension_code, a.activates_at, "
                "a.credit_limit_cents "
                f"FROM {accounts} a WHERE a.id = %s",
                [account_id, connection.ops.adapt_datetimefield_value(now), call_id, account_id],
            )
        (balance,) = locking.fetchone()
        held, existing, status, suspension_code, activates_at, credit_limit_cents = reading.fetchone()
    funds = Funds(
        balance_cents=balance,
        held_cents=int(held),
        available_cents=((credit_limit_cents or 0) if on_credit else 0) + balance - int(held),
        status=status,
        suspension_code=suspension_code or "",
        activates_at=activates_at,
    )
    return funds, existing


def hold_get(*, call_id: str) -> Hold | None:
    """The hold placed for `call_id`, with its account, or None."""
    return Hold.objects.filter(call_id=call_id).select_related("account__ledger_account").first()


def hold_release(*, call_id: str, now: datetime | None = None) -> None:
    """Release the hold placed for `call_id` (its call completed), if it has one still open. One
    plain statement whose answer is not read: the call path sends it with the call record (`pipelined`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(_HOLD_TABLE)} SET released_at = %s "  # noqa: S608 - name from the model
            "WHERE call_id = %s AND released_at IS NULL",
            [connection.ops.adapt_datetimefield_value(now or timezone.now()), call_id],
        )


def holds_release(*, call_ids: Iterable[str], now: datetime) -> int:
    """Release the open holds of many calls at once (they completed in a bulk import)."""
    return Hold.objects.filter(call_id__in=list(call_ids), released_at__isnull=True).update(released_at=now)


def holds_release_for_account(*, account, now: datetime) -> int:
    """Release every open hold of an account (it is closing, under its ledger-row lock)."""
    return Hold.objects.filter(account_id=account.pk, released_at__isnull=True).update(released_at=now)


def holds_open_exist(*, account, now: datetime) -> bool:
    """Whether a call in progress holds money on the account."""
    return Hold.objects.filter(account_id=account.pk, released_at__isnull=True, expires_at__gt=now).exists()


def holds_open_cents(*, account, now: datetime) -> int:
    """What calls in progress hold on the account."""
    held = Hold.objects.filter(account_id=account.pk, released_at__isnull=True, expires_at__gt=now)
    return held.aggregate(total=Sum("amount_cents"))["total"] or 0


def holds_expire(*, now: datetime | None = None) -> int:
    """Release the holds of calls authorized but never completed. Returns how many were released.
    (Availability already ignores expired holds; this keeps the table of open holds small.)"""
    now = now or timezone.now()
    return Hold.objects.filter(released_at__isnull=True, expires_at__lte=now).update(released_at=now)


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
    violations.extend(_payment_violations())
    violations.extend(_refund_violations())
    for extra in extra_checks:
        violations.extend(extra())
    return violations


def _payment_violations() -> list[Violation]:
    """Every succeeded payment has exactly its own entry (`payment:<id>`) adding its amount to its
    account and its fee to revenue; no other payment has an entry; no payment entry lacks a payment."""
    violations = []
    succeeded = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    for pk in succeeded.filter(entry__isnull=True).order_by("id").values_list("pk", flat=True):
        violations.append(Violation("payment_not_posted", f"payment #{pk} succeeded without an entry"))
    posted = (
        succeeded.filter(entry__isnull=False)
        .annotate(
            to_account=Coalesce(
                Sum(
                    "entry__postings__amount_cents",
                    filter=Q(entry__postings__ledger_account__calling_account=F("account")),
                ),
                0,
            ),
            to_fees=Coalesce(
                Sum(
                    "entry__postings__amount_cents",
                    filter=Q(entry__postings__ledger_account__code=f"system:{SystemAccount.FEE_REVENUE}"),
                ),
                0,
            ),
            to_single_calls=_single_calls_sum(),
        )
        .values_list(
            "pk",
            "entry__idempotency_key",
            "amount_cents",
            "fee_cents",
            "to_account",
            "to_fees",
            "to_single_calls",
            "single_call__call_id",
        )
        .order_by("id")
    )
    for pk, key, amount, fee, to_account, to_fees, to_single_calls, call_id in posted:
        # A single call's payment goes to the single calls account under its call's key.
        expected = f"single_call:{call_id}:payment" if call_id is not None else f"payment:{pk}"
        if key != expected:
            violations.append(Violation("payment_wrong_entry", f"payment #{pk} is posted as {key}"))
        elif (to_single_calls if call_id is not None else to_account) != amount or to_fees != fee:
            violations.append(
                Violation(
                    "payment_amount_mismatch",
                    f"payment #{pk} of {amount}+{fee} cents posted {to_account} to the account, {to_fees} to fees",
                )
            )
    stray = Payment.objects.exclude(status=PaymentStatus.SUCCEEDED).filter(entry__isnull=False).order_by("id")
    for pk, status in stray.values_list("pk", "status"):
        violations.append(Violation("payment_entry_without_success", f"payment #{pk} is {status}"))
    orphans = JournalEntry.objects.filter(idempotency_key__regex=r"^payment:[0-9]+$", payment__isnull=True).order_by(
        "id"
    )
    orphans = orphans | JournalEntry.objects.filter(
        idempotency_key__startswith="single_call:", idempotency_key__endswith=":payment", payment__isnull=True
    )
    for pk, key in orphans.order_by("id").values_list("pk", "idempotency_key"):
        violations.append(Violation("payment_entry_without_payment", f"entry #{pk} ({key})"))
    return violations


def _single_calls_sum() -> Coalesce:
    return Coalesce(
        Sum(
            "entry__postings__amount_cents",
            filter=Q(entry__postings__ledger_account__code=f"system:{SystemAccount.SINGLE_CALLS}"),
        ),
        0,
    )


def _refund_violations() -> list[Violation]:
    """A check refund is posted (`refund:<id>`) from its creation and settled (`refund:<id>:sent`)
    once mailed; a card refund is posted only once sent; each takes its amount off its account, a
    check refund what it was before charges reported after the close reduced it (each reduction of
    a check puts its amount back on the account under its own entry); no refund entry lacks its
    refund."""
    violations = []
    reduced = (
        RefundReduction.objects.filter(refund=OuterRef("pk"))
        .order_by()
        .values("refund")
        .annotate(total=Sum("amount_cents"))
        .values("total")
    )
    refunds = Refund.objects.annotate(
        to_account=Coalesce(
            Sum(
                "entry__postings__amount_cents",
                filter=Q(entry__postings__ledger_account__calling_account=F("account")),
            ),
            0,
        ),
        reduced=Coalesce(Subquery(reduced), 0),
        to_single_calls=_single_calls_sum(),
    ).order_by("id")
    for refund in refunds.select_related("entry", "sent_entry", "single_call"):
        posted = refund.method == "check" or refund.status == "succeeded"
        sent = refund.method == "check" and refund.status == "succeeded"
        if refund.single_call_id is not None:  # back to the card from the single calls account
            key, taken = f"single_call:{refund.single_call.call_id}:refund", -refund.to_single_calls
        else:
            # A card refund is reduced before it is posted: it posts what is left.
            key = f"refund:{refund.pk}"
            taken = -refund.to_account - (refund.reduced if refund.method == "check" else 0)
        if posted != (refund.entry_id is not None) or sent != (refund.sent_entry_id is not None):
            violations.append(Violation("refund_posting_state", f"refund #{refund.pk} is {refund.status}"))
        elif posted and (refund.entry.idempotency_key != key or taken != refund.amount_cents):
            violations.append(Violation("refund_wrong_entry", f"refund #{refund.pk}"))
        elif sent and refund.sent_entry.idempotency_key != f"refund:{refund.pk}:sent":
            violations.append(Violation("refund_wrong_entry", f"refund #{refund.pk} (sent)"))
    orphans = JournalEntry.objects.filter(idempotency_key__regex=r"^refund:[0-9]+$", refund__isnull=True).order_by("id")
    for pk, key in orphans.values_list("pk", "idempotency_key"):
        violations.append(Violation("refund_entry_without_refund", f"entry #{pk} ({key})"))
    reductions = RefundReduction.objects.select_related("refund", "entry").order_by("id")
    for reduction in reductions:
        refund = reduction.refund
        expected = f"refund:{refund.pk}:reduced:{reduction.cause}"
        if (refund.method == "check") != (reduction.entry_id is not None) or (
            reduction.entry_id is not None
            and (
                reduction.entry.idempotency_key != expected
                or _to_calling_account(reduction.entry, refund.account_id) != reduction.amount_cents
            )
        ):
            violations.append(
                Violation("refund_reduction_wrong_entry", f"reduction #{reduction.pk} of refund #{refund.pk}")
            )
    stray = JournalEntry.objects.filter(
        idempotency_key__regex=r"^refund:[0-9]+:reduced:", refund_reduction__isnull=True
    ).order_by("id")
    for pk, key in stray.values_list("pk", "idempotency_key"):
        violations.append(Violation("refund_entry_without_refund", f"entry #{pk} ({key})"))
    return violations


def _to_calling_account(entry: JournalEntry, calling_account_id: int) -> int:
    return entry.postings.filter(ledger_account__calling_account_id=calling_account_id).aggregate(
        total=Coalesce(Sum("amount_cents"), 0)
    )["total"]


def totals_between(*, start: datetime, end: datetime, kinds) -> dict[str, int]:
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
