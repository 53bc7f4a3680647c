"""Direct Bill monthly statements.

Every amount on a statement is signed by its effect on what the holder owes: a call adds its charge
and tax, a payment is negative, an adjustment either. So

    closing = opening + charges + tax + payments + adjustments

and the closing balance is, to the cent, minus the account's ledger balance at the end of the
period (a Direct Bill ledger balance is negative when money is owed).

Callers may rely on:
- one statement per (account, month), enforced by the unique constraint one_statement_per_account_month:
  running the month again, or two workers at once, returns the statement already issued, unchanged;
- months follow the calendar in America/New_York (settings.TIME_ZONE), and only finished months
  are billed;
- the "statement ready" email goes out at most once per statement (`emailed_at`, set under a row lock);
- the due date is STATEMENT_DUE_DAYS after the first day of the month following the period.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.emails import send_templated
from accounts.models import AccountKind, CallingAccount
from accounts.outbox import outbox_enqueue, outbox_handler
from accounts.texts.notices import account_text_enqueue
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind
from billing.payments.models import Channel, Payment
from billing.statements.models import Adjustment, Statement, StatementLine
from billing.statements.periods import Period, previous_month
from calls.models import CallRecord, Facility, Inmate

logger = logging.getLogger(__name__)

# Entries that pay down a statement once it is issued (calls after the period belong to the next one).
CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.REVERSAL)


class StatementError(DomainError):
    """A statement request that cannot be done as asked; `message` is fit to show."""


# Accounts per batch of the monthly run: each batch costs the same handful of statements, and its
# lines are written by the database itself (INSERT … SELECT), so a batch costs no Python per line.
BATCH_ACCOUNTS = 2000

_TABLES = (Payment, Adjustment, CallRecord, Facility, Inmate, Statement, StatementLine, CallingAccount)


def _tables() -> dict[str, str]:
    return {model.__name__: connection.ops.quote_name(model._meta.db_table) for model in _TABLES}


def _placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def _row_join(table: str, alias: str, column: str, value: str) -> str:
    """Join the row of `table` whose unique `column` equals `value` (an expression of the rows
    joined before), found through its index line by line. Left to its planner, PostgreSQL merges or
    hashes the whole table against the batch instead, which for call records reads every call ever
    recorded once per batch; a LATERAL subquery with LIMIT 1 (so it is not flattened back into a
    plain join) makes it look each row up."""
    lookup = f"SELECT * FROM {table} x WHERE x.{column} = {value} LIMIT 1"  # noqa: S608 - names from the models
    return f"LEFT JOIN LATERAL ({lookup}) {alias} ON TRUE"


def _lines_sql(account_ids: list[int], period: Period) -> tuple[str, list]:
    """A WITH clause naming `line`: one row per entry of the period that moved one of these accounts,
    worded the way the statement shows it, its amount signed by what the holder owes. The parts of
    the query take their parameters in the order they appear in it."""
    moved, params = ledger.entry_totals_between_sql(account_ids=account_ids, start=period.starts_at, end=period.ends_at)
    call, payments = EntryKind.CALL.value, [EntryKind.PAYMENT.value, EntryKind.REFUND.value]
    kinds = StatementLine.Kind

    def part(sql: str, *values) -> str:
        params.extend(values)
        return sql

    is_call = "m.kind = %s AND c.id IS NOT NULL"
    channels = [v for channel in Channel for v in (channel.value, f"Payment, {str(channel.label).lower()}")]
    kind = part(
        "CASE WHEN m.kind = %s THEN %s WHEN m.kind IN (%s, %s) THEN %s ELSE %s END",
        *(call, kinds.CALL.value, *payments, kinds.PAYMENT.value, kinds.ADJUSTMENT.value),
    )
    occurred_at = part(
        f"CASE WHEN {is_call} THEN c.started_at WHEN m.kind IN (%s, %s) AND pay.channel IS NOT NULL "
        "THEN COALESCE(pay.succeeded_at, m.created_at) ELSE m.created_at END",
        *(call, *payments),
    )
    description = part(
        f"SUBSTR(CASE WHEN {is_call} THEN %s || SUBSTR(f.name, 1, 200) WHEN m.kind = %s THEN %s "
        f"WHEN m.kind IN (%s, %s) AND pay.channel IS NOT NULL THEN CASE pay.channel "
        f"{' '.join(['WHEN %s THEN %s'] * len(Channel))} END "
        "WHEN m.kind IN (%s, %s) THEN COALESCE(NULLIF(m.memo, ''), CASE m.kind WHEN %s THEN %s ELSE %s END) "
        "WHEN adj.description IS NOT NULL AND adj.description <> '' THEN %s || adj.description "
        "ELSE COALESCE(NULLIF(m.memo, ''), %s) END, 1, 300)",
        *(call, "Call from ", call, "Call", *payments, *channels),
        *(*payments, EntryKind.PAYMENT.value, str(EntryKind.PAYMENT.label), str(EntryKind.REFUND.label)),
        *("Adjustment: ", "Adjustment"),
    )
    facility = part(f"CASE WHEN {is_call} THEN SUBSTR(f.name, 1, 200) ELSE '' END", call)
    full_name = "TRIM(i.first_name || ' ' || i.last_name)"
    inmate = part(f"CASE WHEN {is_call} THEN SUBSTR({full_name}, 1, 200) ELSE '' END", call)
    number = part(f"CASE WHEN {is_call} THEN COALESCE(c.dialed_number, '') ELSE '' END", call)
    minutes = part(f"CASE WHEN {is_call} THEN c.billable_minutes END", call)
    # A call's tax is its record's when the record adds up to what was charged, else what the entry
    # posted to tax payable.
    entry_tax, tax_params = ledger.entry_tax_sql("m.entry_id")
    tax = part(
        "CASE WHEN m.kind <> %s THEN 0 WHEN c.id IS NOT NULL AND c.charge_cents + c.tax_cents = -m.total_cents "
        f"THEN c.tax_cents ELSE COALESCE({entry_tax}, 0) END",
        *(call, *tax_params),
    )
    t = _tables()
    sql = f"""WITH moved AS ({moved}), line AS (
        SELECT m.account_id, m.entry_id, -m.total_cents AS amount_cents, {kind} AS kind, {occurred_at} AS occurred_at,
          {description} AS description, {facility} AS facility, {inmate} AS inmate, {number} AS number,
          {minutes} AS minutes, {tax} AS tax_cents
        FROM moved m
        {_row_join(t["Payment"], "pay", "entry_id", "m.entry_id")}
        {_row_join(t["Adjustment"], "adj", "entry_id", "m.entry_id")}
        {_row_join(t["CallRecord"], "c", "entry_id", "m.entry_id")}
        {_row_join(t["Facility"], "f", "id", "c.facility_id")}
        {_row_join(t["Inmate"], "i", "id", "c.inmate_id")}
        WHERE m.total_cents <> 0
    )"""  # noqa: S608 - table names and placeholders only
    return sql, params


def _statements_insert(account_ids: list[int], period: Period) -> list[int]:
    """Write the statements of these accounts for the period, with their lines, in the same five SQL
    statements however many accounts; the ids of the statements written. An account with nothing to bill (no
    line, and an opening balance of zero) gets none. Raises IntegrityError when one of them exists.

    Each line is worked out once, by the database: a statement is written for every account first
    (its opening balance known), then the lines under it, then the statements left without a line
    and with nothing owed are taken back, and the others get their totals from their lines."""
    t = _tables()
    with connection.cursor() as cursor:
        # PostgreSQL would JIT-compile these large joins before running them, which takes longer
        # (about a second each) than running them; the setting ends with the transaction.
        cursor.execute("SET LOCAL jit = off")
        statement_ids = _statements_open(cursor, account_ids, period)
        if not statement_ids:
            return []
        lines, lines_params = _lines_sql(account_ids, period)
        cursor.execute(
            f"""{lines}
            INSERT INTO {t["StatementLine"]} (statement_id, kind, occurred_at, description, facility, inmate,
              number, minutes, charge_cents, tax_cents, amount_cents, entry_id)
            SELECT s.id, l.kind, l.occurred_at, l.description, l.facility, l.inmate, l.number, l.minutes,
              CASE WHEN l.kind = %s THEN l.amount_cents - l.tax_cents ELSE 0 END, l.tax_cents, l.amount_cents,
              l.entry_id
            FROM line l JOIN {t["Statement"]} s ON s.account_id = l.account_id
            WHERE s.id IN ({_placeholders(statement_ids)})
            ORDER BY s.id, l.occurred_at, l.entry_id""",  # noqa: S608 - table names and placeholders only
            [*lines_params, StatementLine.Kind.CALL.value, *statement_ids],
        )
        cursor.execute(
            f"""DELETE FROM {t["Statement"]} WHERE id IN ({_placeholders(statement_ids)})
            AND opening_balance_cents = 0
            AND NOT EXISTS (SELECT 1 FROM {t["StatementLine"]} l WHERE l.statement_id = {t["Statement"]}.id)
            RETURNING id""",  # noqa: S608 - table names and placeholders only
            statement_ids,
        )
        quiet = {row[0] for row in cursor.fetchall()}
        statement_ids = [pk for pk in statement_ids if pk not in quiet]
        _statements_total(cursor, statement_ids)
    return statement_ids


def _statements_open(cursor, account_ids: list[int], period: Period) -> list[int]:
    """One statement per account, with its opening balance and no lines yet; their ids."""
    opening, opening_params = ledger.balances_as_of_sql(account_ids=account_ids, at=period.starts_at)
    adapt_date = connection.ops.adapt_datefield_value
    t = _tables()
    cursor.execute(
        f"""WITH opening AS ({opening})
        INSERT INTO {t["Statement"]} (account_id, period_start_date, period_end_date, opening_balance_cents,
          charges_cents, tax_cents, payments_cents, adjustments_cents, closing_balance_cents, due_date,
          issued_at, emailed_at)
        SELECT a.id, %s, %s, -COALESCE(o.balance_cents, 0), 0, 0, 0, 0, -COALESCE(o.balance_cents, 0), %s, %s,
          NULL
        FROM {t["CallingAccount"]} a LEFT JOIN opening o ON o.account_id = a.id
        WHERE a.id IN ({_placeholders(account_ids)})
        ORDER BY a.id
        RETURNING id""",  # noqa: S608 - table names and placeholders only
        [
            *opening_params,
            *(adapt_date(period.start_date), adapt_date(period.end_date), adapt_date(period.due_date)),
            connection.ops.adapt_datetimefield_value(timezone.now()),
            *account_ids,
        ],
    )
    return sorted(row[0] for row in cursor.fetchall())


def _statements_total(cursor, statement_ids: list[int]) -> None:
    """Each statement's totals from its lines: closing = opening + charges + tax + payments + adjustments.
    Summed statement by statement through the lines' statement_id index: the lines table grows by a
    whole batch's lines at a time during a run, faster than its statistics, and an aggregate over
    all of it by a list of ids tempts PostgreSQL to read the whole table once per batch."""
    if not statement_ids:
        return
    kinds = StatementLine.Kind
    t = _tables()
    statement = t["Statement"]
    cursor.execute(
        f"""UPDATE {statement} SET (charges_cents, tax_cents, payments_cents, adjustments_cents,
          closing_balance_cents) = (
          SELECT COALESCE(SUM(l.charge_cents), 0), COALESCE(SUM(l.tax_cents), 0),
            COALESCE(SUM(CASE WHEN l.kind = %s THEN l.amount_cents ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN l.kind = %s THEN l.amount_cents ELSE 0 END), 0),
            {statement}.opening_balance_cents + COALESCE(SUM(l.amount_cents), 0)
          FROM {t["StatementLine"]} l WHERE l.statement_id = {statement}.id
        )
        WHERE id IN ({_placeholders(statement_ids)})""",  # noqa: S608 - table names and placeholders only
        [kinds.PAYMENT.value, kinds.ADJUSTMENT.value, *statement_ids],
    )


def _check_can_bill(account: CallingAccount, period: Period, now: datetime) -> None:
    if account.kind != AccountKind.DIRECT_BILL:
        raise StatementError("Only Direct Bill accounts get statements.")
    if now < period.ends_at:
        raise StatementError(f"The month starting {period.start_date:%Y-%m-%d} has not ended yet.")


def statement_generate(
    *, account: CallingAccount, period: Period, now: datetime | None = None
) -> tuple[Statement | None, bool]:
    """The statement of `account` for `period`: (statement, created). An existing statement is
    returned unchanged. Returns (None, False) when there is nothing to bill (no activity and a zero
    opening balance). Raises StatementError for a period that has not ended or an account that is not
    Direct Bill. The "statement ready" email is queued after commit."""
    _check_can_bill(account, period, now or timezone.now())
    existing = Statement.objects.filter(account=account, period_start_date=period.start_date).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        try:
            # The unique index makes a second worker wait here for the first, then fail: it returns
            # the first worker's statement instead of writing another.
            with transaction.atomic():
                statement_ids = _statements_insert([account.pk], period)
        except IntegrityError:
            return Statement.objects.get(account=account, period_start_date=period.start_date), False
        if not statement_ids:
            return None, False
        _email_on_commit(statement_ids[0])
    return Statement.objects.get(pk=statement_ids[0]), True


def statements_generate_for_month(*, period: Period | None = None, now: datetime | None = None) -> list[Statement]:
    """Issue the month's statement for every Direct Bill account that has something to bill (default:
    the month before `now`). Set-based: BATCH_ACCOUNTS accounts at a time, each batch one
    transaction of a fixed handful of statements (`_statements_insert`, one outbox message for the
    batch's "statement ready" emails, one read of the statements written), so a run's statements
    grow with batches, not accounts, and no line passes through Python; one failing batch leaves the
    others issued, and a re-run picks up where a crashed run stopped. A batch that meets a statement
    another worker is writing falls back to one account at a time. Statements of the month whose
    email had not gone out when the run began are emailed. Returns the statements created by this
    run. PDFs are built when asked for."""
    now = now or timezone.now()
    period = period or previous_month(now)
    if now < period.ends_at:
        raise StatementError(f"The month starting {period.start_date:%Y-%m-%d} has not ended yet.")
    unsent = Statement.objects.filter(period_start_date=period.start_date, emailed_at__isnull=True)
    unsent_ids = list(unsent.order_by("pk").values_list("pk", flat=True))
    billed = Statement.objects.filter(account=OuterRef("pk"), period_start_date=period.start_date)
    pending = CallingAccount.objects.filter(kind=AccountKind.DIRECT_BILL, created_at__lt=period.ends_at).exclude(
        Exists(billed)
    )
    created: list[Statement] = []
    last_id = 0
    while batch := list(pending.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:BATCH_ACCOUNTS]):
        last_id = batch[-1]
        try:
            created.extend(_statements_write(batch, period))
        except IntegrityError:
            for account in CallingAccount.objects.filter(pk__in=batch).order_by("pk"):
                statement, was_created = statement_generate(account=account, period=period, now=now)
                if was_created:
                    assert statement is not None, "a statement created is returned"
                    created.append(statement)
    for start in range(0, len(unsent_ids), BATCH_ACCOUNTS):
        _emails_on_commit(unsent_ids[start : start + BATCH_ACCOUNTS])
    return created


def _statements_write(account_ids: list[int], period: Period) -> list[Statement]:
    with transaction.atomic():
        statement_ids = _statements_insert(account_ids, period)
        _emails_on_commit(statement_ids)
    return list(Statement.objects.filter(pk__in=statement_ids).order_by("pk")) if statement_ids else []


def _emails_on_commit(statement_ids: list[int]) -> None:
    """One outbox message for many "statement ready" emails (each is sent once: `emailed_at`)."""
    if statement_ids:
        outbox_enqueue(kind="email.statements_ready", payload={"statement_ids": statement_ids})


@outbox_handler("email.statements_ready")
def _statements_email_send(*, statement_ids: list[int]) -> None:
    for statement_id in statement_ids:
        statement_email_send(statement_id=statement_id)


def _email_on_commit(statement_id: int) -> None:
    outbox_enqueue(kind="email.statement_ready", payload={"statement_id": statement_id})


@outbox_handler("email.statement_ready")
def _statement_email_send(*, statement_id: int) -> None:
    statement_email_send(statement_id=statement_id)


def statement_email_send(*, statement_id: int, now: datetime | None = None) -> bool:
    """Email the holder that the statement is ready, once. The row lock makes a second worker wait
    and then see `emailed_at` set. Returns True when this call sent it."""
    with transaction.atomic():
        statement = (
            Statement.objects.select_for_update(of=("self",))
            .select_related("account__holder")
            .filter(pk=statement_id)
            .first()
        )
        if statement is None or statement.emailed_at is not None:
            return False
        send_templated(
            to=statement.account.holder.email,
            template="statement_ready",
            context={"statement": statement, "account": statement.account},
        )
        statement.emailed_at = now or timezone.now()
        statement.save(update_fields=["emailed_at"])
        account_text_enqueue(
            account_id=statement.account_id, template="statement_ready", due_date=statement.due_date.isoformat()
        )
    return True
