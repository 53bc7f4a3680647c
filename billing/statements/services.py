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
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.emails import send_templated
from accounts.models import AccountKind, CallingAccount
from accounts.outbox import outbox_enqueue, outbox_handler
from billing import ledger
from billing.models import Channel, EntryKind, JournalEntry, Statement, StatementLine
from calls.models import CallRecord

from .periods import Period, previous_month

logger = logging.getLogger(__name__)

# Entries that pay down a statement once it is issued (calls after the period belong to the next one).
CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.REVERSAL)


class StatementError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Accounts per batch of the monthly run: each batch costs the same handful of statements.
BATCH_ACCOUNTS = 500


@dataclass(frozen=True)
class _Draft:
    """A statement worked out but not yet written."""

    account: CallingAccount
    opening_cents: int
    lines: list[StatementLine]

    def statement(self, period: Period) -> Statement:
        totals = dict.fromkeys(StatementLine.Kind.values, 0)
        for line in self.lines:
            totals[line.kind] += line.amount_cents
        calls = [line for line in self.lines if line.kind == StatementLine.Kind.CALL]
        return Statement(
            account=self.account,
            period_start_date=period.start_date,
            period_end_date=period.end_date,
            opening_balance_cents=self.opening_cents,
            charges_cents=sum(line.charge_cents for line in calls),
            tax_cents=sum(line.tax_cents for line in calls),
            payments_cents=totals[StatementLine.Kind.PAYMENT],
            adjustments_cents=totals[StatementLine.Kind.ADJUSTMENT],
            closing_balance_cents=self.opening_cents + sum(line.amount_cents for line in self.lines),
            due_date=period.due_date,
        )


def _drafts(accounts: list[CallingAccount], period: Period) -> list[_Draft]:
    """The statements of these accounts for the period, in five queries however many accounts: the
    opening balances, what each entry of the period added to each account, the tax of those entries,
    the entries (with their payment or adjustment) and their call records. Accounts with nothing to
    bill (no activity and a zero opening balance) get no draft."""
    ids = [account.pk for account in accounts]
    openings = ledger.balances_as_of_many(account_ids=ids, at=period.starts_at)
    per_account, tax_by_entry = ledger.entry_totals_between_many(
        account_ids=ids, start=period.starts_at, end=period.ends_at
    )
    entry_ids = [entry_id for totals in per_account.values() for entry_id in totals]
    entries, calls = _entry_details(entry_ids)
    drafts = []
    for account in accounts:
        totals = per_account.get(account.pk, {})
        lines = _lines(totals, tax_by_entry, entries, calls)
        opening = -openings[account.pk]
        if lines or opening:
            drafts.append(_Draft(account, opening, lines))
    return drafts


@dataclass(frozen=True)
class _Entry:
    kind: str
    created_at: datetime
    memo: str
    payment_channel: str | None
    payment_succeeded_at: datetime | None
    adjustment_description: str | None  # what the family reads (the staff note stays in the admin)


@dataclass(frozen=True)
class _Call:
    started_at: datetime
    facility: str
    inmate: str
    number: str
    minutes: int
    charge_cents: int
    tax_cents: int


def _entry_details(entry_ids: list[int]) -> tuple[dict[int, _Entry], dict[int, _Call]]:
    """What the lines say about each entry and its call, read as plain rows (thousands per batch: no
    model instances, no phone number parsing)."""
    if not entry_ids:
        return {}, {}
    entries = {
        pk: _Entry(*rest)
        for pk, *rest in JournalEntry.objects.filter(pk__in=entry_ids).values_list(
            "id", "kind", "created_at", "memo", "payment__channel", "payment__succeeded_at", "adjustment__description"
        )
    }
    calls = {
        entry_id: _Call(started, facility, f"{first} {last}".strip(), number or "", minutes, charge, tax)
        for entry_id, started, facility, first, last, number, minutes, charge, tax in CallRecord.objects.filter(
            entry_id__in=entry_ids
        ).values_list(
            "entry_id",
            "started_at",
            "facility__name",
            "inmate__first_name",
            "inmate__last_name",
            Cast("dialed_number", output_field=CharField()),
            "billable_minutes",
            "charge_cents",
            "tax_cents",
        )
    }
    return entries, calls


def _lines(per_entry: dict[int, int], tax_by_entry: dict, entries: dict, calls: dict) -> list[StatementLine]:
    lines = []
    for entry_id, total in per_entry.items():
        amount = -total  # owed convention
        if amount:
            lines.append(_line(entry_id, entries[entry_id], amount, tax_by_entry.get(entry_id, 0), calls.get(entry_id)))
    lines.sort(key=lambda line: (line.occurred_at, line.entry_id))
    return lines


def _line(entry_id: int, entry: _Entry, amount: int, tax: int, call: _Call | None) -> StatementLine:
    line = StatementLine(entry_id=entry_id, occurred_at=entry.created_at, amount_cents=amount)
    if entry.kind == EntryKind.CALL:
        line.kind = StatementLine.Kind.CALL
        if call is not None:
            if call.charge_cents + call.tax_cents == amount:
                tax = call.tax_cents
            line.occurred_at = call.started_at
            line.facility = call.facility[:200]
            line.inmate = call.inmate[:200]
            line.number = call.number
            line.minutes = call.minutes
        line.tax_cents, line.charge_cents = tax, amount - tax
        line.description = "Call" if call is None else f"Call from {line.facility}"
    elif entry.kind in (EntryKind.PAYMENT, EntryKind.REFUND):
        line.kind = StatementLine.Kind.PAYMENT
        if entry.payment_channel is not None:
            line.occurred_at = entry.payment_succeeded_at or entry.created_at
            line.description = f"Payment, {str(Channel(entry.payment_channel).label).lower()}"
        else:
            line.description = entry.memo or str(EntryKind(entry.kind).label)
    else:
        line.kind = StatementLine.Kind.ADJUSTMENT
        description = entry.adjustment_description
        line.description = f"Adjustment: {description}" if description else (entry.memo or "Adjustment")
    line.description = line.description[:300]
    return line


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
        drafts = _drafts([account], period)
        if not drafts:
            return None, False
        try:
            # The unique index makes a second worker wait here for the first, then fail: it returns
            # the first worker's statement instead of writing another.
            with transaction.atomic():
                statement = drafts[0].statement(period)
                statement.save()
        except IntegrityError:
            return Statement.objects.get(account=account, period_start_date=period.start_date), False
        for line in drafts[0].lines:
            line.statement = statement
        StatementLine.objects.bulk_create(drafts[0].lines)
        _email_on_commit(statement.pk)
    return statement, True


def statements_generate_for_month(*, period: Period | None = None, now: datetime | None = None) -> list[Statement]:
    """Issue the month's statement for every Direct Bill account that has something to bill (default:
    the month before `now`). Set-based: BATCH_ACCOUNTS accounts at a time, each batch one
    transaction of a fixed handful of statements (the reads of `_drafts`, the statements, their
    lines, one outbox message for the batch's "statement ready" emails), so a run's statements grow
    with batches, not accounts; one failing batch leaves the others issued, and a re-run picks up
    where a crashed run stopped. A batch that meets a statement another worker is writing falls back
    to one account at a time. Statements of the month whose email has not gone out yet are emailed.
    Returns the statements created by this run. PDFs are built when asked for."""
    now = now or timezone.now()
    period = period or previous_month(now)
    if now < period.ends_at:
        raise StatementError(f"The month starting {period.start_date:%Y-%m-%d} has not ended yet.")
    billed = Statement.objects.filter(account=OuterRef("pk"), period_start_date=period.start_date)
    pending = CallingAccount.objects.filter(kind=AccountKind.DIRECT_BILL, created_at__lt=period.ends_at).exclude(
        Exists(billed)
    )
    created: list[Statement] = []
    last_id = 0
    while batch := list(pending.filter(pk__gt=last_id).order_by("pk")[:BATCH_ACCOUNTS]):
        last_id = batch[-1].pk
        try:
            created.extend(_statements_write(batch, period))
        except IntegrityError:
            for account in batch:
                statement, was_created = statement_generate(account=account, period=period, now=now)
                if was_created:
                    created.append(statement)
    unsent = Statement.objects.filter(period_start_date=period.start_date, emailed_at__isnull=True)
    unsent_ids = list(unsent.exclude(pk__in=[s.pk for s in created]).values_list("pk", flat=True))
    for start in range(0, len(unsent_ids), BATCH_ACCOUNTS):
        _emails_on_commit(unsent_ids[start : start + BATCH_ACCOUNTS])
    return created


def _statements_write(accounts: list[CallingAccount], period: Period) -> list[Statement]:
    with transaction.atomic():
        drafts = _drafts(accounts, period)
        statements = Statement.objects.bulk_create([draft.statement(period) for draft in drafts])
        lines = []
        for draft, statement in zip(drafts, statements, strict=True):
            for line in draft.lines:
                line.statement = statement
                lines.append(line)
        StatementLine.objects.bulk_create(lines, batch_size=5000)
        _emails_on_commit([statement.pk for statement in statements])
    return statements


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
    return True
