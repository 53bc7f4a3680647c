"""Holds: money reserved on a calling account for a cause (a call in progress), placed under the
account's ledger-row lock so two calls at once never spend the same dollars."""

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.ledger.balances import LEDGER_TABLE, LOCK_CLAUSE
from billing.ledger.ledger_accounts import CallingAccountRow, account_ledger
from billing.ledger.models import Hold
from billing.ledger.rows import pipelined, row_insert


@dataclass(frozen=True)
class Funds:
    """What an account can spend now, read under its ledger-row lock, and the account's state as it
    is then (`account`: the columns the accounts layer registered, by name): every status change
    takes the same lock first, so a close or a suspension that committed while the hold waited is
    seen here."""

    balance_cents: int
    held_cents: int
    available_cents: int
    account: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountState:
    """How to read the state of a calling account a hold decision needs, given by the layer that
    owns calling accounts (the kernel knows no other app's table or columns). The columns are read
    in the same statement as the open holds, after the ledger-row lock is held: no extra round trip."""

    table: str  # the calling accounts' table, whose primary key is a hold's account id
    columns: tuple[str, ...]  # returned in `Funds.account`, by name
    credit_limit: str  # the column of the credit limit in cents, for holds placed on credit


_account_state: AccountState | None = None


def account_state_register(state: AccountState) -> None:
    """Tell the kernel which account columns `hold_place` reads under the lock (one registration;
    a later one replaces it)."""
    global _account_state  # noqa: PLW0603 - set once, when the apps are ready
    _account_state = state


@dataclass(frozen=True)
class HoldTerms:
    """What the caller decided to reserve, given the funds."""

    amount_cents: int
    max_seconds: int
    response: dict[str, Any]


@dataclass(frozen=True)
class HoldResult:
    response: dict[str, Any] | None  # the hold's authorization answer; None when the decision was not to hold
    placed: bool  # False for a hold already placed under this cause (a retry)
    funds: Funds | None  # None only when another transaction placed the hold first


def hold_place(
    *,
    account: CallingAccountRow,
    call_id: str,
    on_credit: bool,
    expires_at: datetime,
    decide: Callable[[Funds], HoldTerms | None],
    details: dict[str, Any],
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


def _lock_for_hold(
    *, ledger_id: int, account_id: int, call_id: str, on_credit: bool, now: datetime
) -> tuple[Funds, int | None]:
    """Lock order step 1, then what a hold decision needs: the locked balance, what open holds
    already reserve, the account's standing, and the hold this call id already has (its id), if any.

    Two statements, not one: on PostgreSQL a statement reads with the snapshot it started with, so
    holds committed (or a status changed) while it waited for the lock would be missing from a read
    taken in the statement that waited. The second statement starts after the lock is ours and sees
    them all."""
    state = _account_state
    sql = _hold_read_sql(state)
    params = [account_id, connection.ops.adapt_datetimefield_value(now), call_id]
    with connection.cursor() as locking, connection.cursor() as reading:
        with pipelined():  # one round trip; the server runs the second after the first has the lock
            locking.execute(
                f"SELECT balance_cents FROM {connection.ops.quote_name(LEDGER_TABLE)} "  # noqa: S608
                f"WHERE id = %s{LOCK_CLAUSE}",
                [ledger_id],
            )
            reading.execute(sql, params if state is None else [*params, account_id])
        (balance,) = locking.fetchone()
        held, existing, *values = reading.fetchone()
    account = dict(zip(state.columns, values, strict=False)) if state is not None else {}
    credit_limit_cents = (values[-1] or 0) if state is not None and on_credit else 0
    funds = Funds(
        balance_cents=balance,
        held_cents=int(held),
        available_cents=credit_limit_cents + balance - int(held),
        account=account,
    )
    return funds, existing


@functools.cache
def _hold_read_sql(state: AccountState | None) -> str:
    """What a hold decision reads once the lock is held: open holds, the call id's hold and, from the
    account's row, the registered columns and its credit limit (last)."""
    holds = connection.ops.quote_name(_HOLD_TABLE)
    sql = (
        f"SELECT (SELECT COALESCE(SUM(amount_cents), 0) FROM {holds} "  # noqa: S608 - names from the models
        " WHERE account_id = %s AND released_at IS NULL AND expires_at > %s), "
        f"(SELECT id FROM {holds} WHERE call_id = %s)"
    )
    if state is None:
        return sql
    quote = connection.ops.quote_name
    columns = ", ".join(f"a.{quote(column)}" for column in (*state.columns, state.credit_limit))
    return f"{sql}, {columns} FROM {quote(state.table)} a WHERE a.id = %s"


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


def holds_release_for_account(*, account: CallingAccountRow, now: datetime) -> int:
    """Release every open hold of an account (it is closing, under its ledger-row lock)."""
    return Hold.objects.filter(account_id=account.pk, released_at__isnull=True).update(released_at=now)


def holds_open_exist(*, account: CallingAccountRow, now: datetime) -> bool:
    """Whether a call in progress holds money on the account."""
    return Hold.objects.filter(account_id=account.pk, released_at__isnull=True, expires_at__gt=now).exists()


def holds_open_cents(*, account: CallingAccountRow, now: datetime) -> int:
    """What calls in progress hold on the account."""
    held = Hold.objects.filter(account_id=account.pk, released_at__isnull=True, expires_at__gt=now)
    return held.aggregate(total=Sum("amount_cents"))["total"] or 0


def holds_expire(*, now: datetime | None = None) -> int:
    """Release the holds of calls authorized but never completed. Returns how many were released.
    (Availability already ignores expired holds; this keeps the table of open holds small.)"""
    now = now or timezone.now()
    return Hold.objects.filter(released_at__isnull=True, expires_at__lte=now).update(released_at=now)
