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

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.emails import send_templated
from accounts.models import AccountKind, CallingAccount
from accounts.outbox import outbox_enqueue, outbox_handler
from billing import ledger
from billing.models import EntryKind, JournalEntry, Statement, StatementLine
from calls.models import CallRecord

from .periods import Period, previous_month

logger = logging.getLogger(__name__)

# Entries that pay down a statement once it is issued (calls after the period belong to the next one).
CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.REVERSAL)


class StatementError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _lines_for_period(account: CallingAccount, period: Period) -> list[StatementLine]:
    per_entry, tax_by_entry = ledger.entry_totals_between(account=account, start=period.starts_at, end=period.ends_at)
    if not per_entry:
        return []
    entries = (
        JournalEntry.objects.filter(pk__in=per_entry)
        .select_related("payment", "adjustment")
        .order_by("created_at", "id")
    )
    calls = _call_records(list(per_entry))
    lines = []
    for entry in entries:
        amount = -per_entry[entry.pk]  # owed convention
        if amount == 0:
            continue
        line = StatementLine(entry=entry, occurred_at=entry.created_at, amount_cents=amount)
        if entry.kind == EntryKind.CALL:
            line.kind = StatementLine.Kind.CALL
            record = calls.get(entry.pk)
            tax = tax_by_entry.get(entry.pk, 0)
            if record is not None:
                if record.charge_cents + record.tax_cents == amount:
                    tax = record.tax_cents
                line.occurred_at = record.started_at
                line.facility = record.facility.name[:200]
                line.inmate = record.inmate.full_name[:200]
                line.number = record.dialed_number.as_e164 if record.dialed_number else ""
                line.minutes = record.billable_minutes
            line.tax_cents, line.charge_cents = tax, amount - tax
            line.description = "Call" if record is None else f"Call from {line.facility}"
        elif entry.kind in (EntryKind.PAYMENT, EntryKind.REFUND):
            line.kind = StatementLine.Kind.PAYMENT
            payment = getattr(entry, "payment", None)
            if payment is not None:
                line.occurred_at = payment.succeeded_at or entry.created_at
                line.description = f"Payment, {payment.get_channel_display().lower()}"
            else:
                line.description = entry.memo or entry.get_kind_display()
        else:
            line.kind = StatementLine.Kind.ADJUSTMENT
            adjustment = getattr(entry, "adjustment", None)
            line.description = f"Adjustment: {adjustment.reason}" if adjustment else (entry.memo or "Adjustment")
        line.description = line.description[:300]
        lines.append(line)
    lines.sort(key=lambda line: (line.occurred_at, line.entry_id))
    return lines


def _call_records(entry_ids: list[int]) -> dict:
    """Call details for statement lines (the ledger alone gives the charge and tax of a call)."""
    records = CallRecord.objects.filter(entry_id__in=entry_ids).select_related("facility", "inmate")
    return {record.entry_id: record for record in records}


def _opening_balance(account: CallingAccount, period: Period) -> int:
    return -ledger.balance_as_of(account=account, at=period.starts_at)


def statement_generate(
    *, account: CallingAccount, period: Period, now: datetime | None = None
) -> tuple[Statement | None, bool]:
    """The statement of `account` for `period`: (statement, created). An existing statement is
    returned unchanged. Returns (None, False) when there is nothing to bill (no activity and a zero
    opening balance). Raises StatementError for a period that has not ended or an account that is not
    Direct Bill. The "statement ready" email is queued after commit."""
    now = now or timezone.now()
    if account.kind != AccountKind.DIRECT_BILL:
        raise StatementError("Only Direct Bill accounts get statements.")
    if now < period.ends_at:
        raise StatementError(f"The month starting {period.start_date:%Y-%m-%d} has not ended yet.")
    existing = Statement.objects.filter(account=account, period_start_date=period.start_date).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        opening = _opening_balance(account, period)
        lines = _lines_for_period(account, period)
        if not lines and opening == 0:
            return None, False
        totals = dict.fromkeys(StatementLine.Kind.values, 0)
        for line in lines:
            totals[line.kind] += line.amount_cents
        charges = sum(line.charge_cents for line in lines if line.kind == StatementLine.Kind.CALL)
        tax = sum(line.tax_cents for line in lines if line.kind == StatementLine.Kind.CALL)
        try:
            # The unique index makes a second worker wait here for the first, then fail: it returns
            # the first worker's statement instead of writing another.
            with transaction.atomic():
                statement = Statement.objects.create(
                    account=account,
                    period_start_date=period.start_date,
                    period_end_date=period.end_date,
                    opening_balance_cents=opening,
                    charges_cents=charges,
                    tax_cents=tax,
                    payments_cents=totals[StatementLine.Kind.PAYMENT],
                    adjustments_cents=totals[StatementLine.Kind.ADJUSTMENT],
                    closing_balance_cents=opening + sum(line.amount_cents for line in lines),
                    due_date=period.due_date,
                )
        except IntegrityError:
            return Statement.objects.get(account=account, period_start_date=period.start_date), False
        for line in lines:
            line.statement = statement
        StatementLine.objects.bulk_create(lines)
        _email_on_commit(statement.pk)
    return statement, True


def statements_generate_for_month(*, period: Period | None = None, now: datetime | None = None) -> list[Statement]:
    """Issue the month's statement for every Direct Bill account that has something to bill (default:
    the month before `now`). Each account is its own transaction, so one failure leaves the others
    issued, and a re-run picks up where a crashed run stopped. Statements of the month whose email has
    not gone out yet are emailed. Returns the statements created by this run."""
    now = now or timezone.now()
    period = period or previous_month(now)
    accounts = CallingAccount.objects.filter(kind=AccountKind.DIRECT_BILL, created_at__lt=period.ends_at).order_by("id")
    created = []
    for account in accounts.iterator():
        statement, was_created = statement_generate(account=account, period=period, now=now)
        if was_created:
            created.append(statement)
    unsent = Statement.objects.filter(period_start_date=period.start_date, emailed_at__isnull=True)
    for statement_id in unsent.exclude(pk__in=[s.pk for s in created]).values_list("pk", flat=True):
        _email_on_commit(statement_id)
    return created


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
