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

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import AccountKind, CallingAccount, User

from . import ledger, selectors
from .models import EntryKind, JournalEntry, Posting, Statement, StatementLine, SystemAccount
from .money import format_cents

logger = logging.getLogger(__name__)

# Entries that pay down a statement once it is issued (calls after the period belong to the next one).
CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.REVERSAL)


class StatementError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Period:
    start_date: date
    end_date: date  # the last day, inclusive

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start_date, time.min, tzinfo=_zone())

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (midnight starting the next month)."""
        return datetime.combine(self.end_date + timedelta(days=1), time.min, tzinfo=_zone())

    @property
    def due_date(self) -> date:
        return self.end_date + timedelta(days=1 + settings.STATEMENT_DUE_DAYS)


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def month_period(day: date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    next_start = (start + timedelta(days=32)).replace(day=1)
    return Period(start_date=start, end_date=next_start - timedelta(days=1))


def previous_month(now: datetime | None = None) -> Period:
    """The month before the one `now` falls in, on the New York calendar."""
    today = timezone.localtime(now or timezone.now(), _zone()).date()
    return month_period(today.replace(day=1) - timedelta(days=1))


@dataclass(frozen=True)
class Standing:
    """How an issued statement stands now: what it asked for, what has been paid since, what is due."""

    billed_cents: int
    paid_cents: int
    due_cents: int
    due_date: date
    is_past_due: bool


def statement_standing(*, statement: Statement, now: datetime | None = None) -> Standing:
    """Payments and credits posted after the period count toward the statement (its closing balance
    already carries every earlier month). Partial payments reduce what is due. Charges and debit
    adjustments after the period belong to the next statement, so they never make this one due
    again; a reversed payment does. What is due is never more than what is owed now."""
    now = now or timezone.now()
    period = Period(statement.period_start_date, statement.period_end_date)
    after_period = Posting.objects.filter(
        ledger_account__calling_account_id=statement.account_id, entry__created_at__gte=period.ends_at
    )
    totals = after_period.aggregate(
        credits=Sum("amount_cents", filter=Q(entry__kind__in=CREDIT_KINDS, amount_cents__gt=0)),
        reversals=Sum("amount_cents", filter=Q(entry__kind=EntryKind.REVERSAL, amount_cents__lt=0)),
    )
    billed = max(0, statement.closing_balance_cents)
    paid = max(0, (totals["credits"] or 0) + (totals["reversals"] or 0))
    owed_now = selectors.account_owed_cents(account=statement.account)
    due = max(0, min(billed - paid, owed_now))
    return Standing(
        billed_cents=billed,
        paid_cents=paid,
        due_cents=due,
        due_date=statement.due_date,
        is_past_due=due > 0 and timezone.localtime(now, _zone()).date() > statement.due_date,
    )


def account_past_due_cents(*, account: CallingAccount, now: datetime | None = None) -> int:
    """What is still unpaid of the latest statement whose due date has passed (0 when none is)."""
    now = now or timezone.now()
    today = timezone.localtime(now, _zone()).date()
    latest_due = Statement.objects.filter(account=account, due_date__lt=today).order_by("-period_start_date").first()
    if latest_due is None:
        return 0
    return statement_standing(statement=latest_due, now=now).due_cents


def _lines_for_period(account: CallingAccount, period: Period) -> list[StatementLine]:
    account_ledger = ledger.account_ledger(account)
    per_entry = dict(
        Posting.objects.filter(
            ledger_account=account_ledger,
            entry__created_at__gte=period.starts_at,
            entry__created_at__lt=period.ends_at,
        )
        .values_list("entry_id")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    if not per_entry:
        return []
    tax_by_entry = dict(
        Posting.objects.filter(entry_id__in=per_entry, ledger_account=ledger.system_account(SystemAccount.TAX_PAYABLE))
        .values_list("entry_id")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
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
    """Call details for statement lines, when the calls app is installed (the ledger alone still
    gives the charge and tax of a call)."""
    try:
        from calls.models import CallRecord
    except ImportError:
        return {}
    records = CallRecord.objects.filter(entry_id__in=entry_ids).select_related("facility", "inmate")
    return {record.entry_id: record for record in records}


def _opening_balance(account: CallingAccount, period: Period) -> int:
    before = Posting.objects.filter(
        ledger_account__calling_account=account, entry__created_at__lt=period.starts_at
    ).aggregate(total=Sum("amount_cents"))["total"]
    return -(before or 0)


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
    from .statement_tasks import statement_email_send_task

    # robust: a broker outage is logged; the next run of the month emails what is still unsent.
    transaction.on_commit(lambda: statement_email_send_task.delay(statement_id), robust=True)


def statement_email_send(*, statement_id: int, now: datetime | None = None) -> bool:
    """Email the holder that the statement is ready, once. The row lock makes a second worker wait
    and then see `emailed_at` set. Returns True when this call sent it."""
    from accounts.emails import send_templated

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


# Reads


def statement_list_for_holder(*, holder: User) -> QuerySet[Statement]:
    return (
        Statement.objects.filter(account__holder=holder)
        .select_related("account")
        .order_by("-period_start_date", "-account_id", "-id")
    )


def statement_get_for_viewer(*, user: User, pk: int) -> Statement | None:
    """The holder's own statement; staff may open any (the admin links to the PDF)."""
    found = Statement.objects.filter(pk=pk).select_related("account__holder")
    return (found if user.is_staff else found.filter(account__holder=user)).first()


def statement_lines(*, statement: Statement) -> QuerySet[StatementLine]:
    return statement.lines.order_by("occurred_at", "id")


# The PDF


def statement_pdf(*, statement: Statement, now: datetime | None = None) -> bytes:
    """The statement as a PDF: the same summary, standing and lines as the statement page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    standing = statement_standing(statement=statement, now=now)
    account, holder = statement.account, statement.account.holder
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=0.6 * inch,
        rightMargin=0.6 * inch,
        topMargin=0.6 * inch,
        bottomMargin=0.6 * inch,
        title=f"FamilyLine statement {statement.period_start_date:%Y-%m} account {account.pk}",
        author="FamilyLine",
    )
    grid = TableStyle(
        [
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
            ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story = [
        Paragraph("FamilyLine Direct Bill statement", styles["Title"]),
        Paragraph(
            f"Account #{account.pk} · {holder.display_name} · "
            f"{_long_date(statement.period_start_date)} to {_long_date(statement.period_end_date)}",
            styles["Normal"],
        ),
        Spacer(1, 12),
    ]
    summary = [[label, format_cents(cents)] for label, cents in statement_summary_rows(statement)]
    summary += [
        ["Due date", _long_date(statement.due_date)],
        ["Paid since this statement", format_cents(standing.paid_cents)],
        ["Balance due", format_cents(standing.due_cents)],
    ]
    story += [Table(summary, colWidths=[3.2 * inch, 1.6 * inch], style=grid), Spacer(1, 16)]
    rows = [["Date", "Description", "Facility", "Inmate", "Number", "Min", "Charge", "Tax", "Amount"]]
    for line in statement_lines(statement=statement):
        is_call = line.kind == StatementLine.Kind.CALL
        rows.append(
            [
                f"{timezone.localtime(line.occurred_at, _zone()):%m/%d/%Y}",
                Paragraph(line.description, styles["BodyText"]),
                line.facility,
                line.inmate,
                line.number,
                "" if line.minutes is None else str(line.minutes),
                format_cents(line.charge_cents) if is_call else "",
                format_cents(line.tax_cents) if is_call else "",
                format_cents(line.amount_cents),
            ]
        )
    if len(rows) == 1:
        rows.append(["", "No activity this month", "", "", "", "", "", "", ""])
    widths = [0.75, 1.6, 1.1, 0.95, 0.95, 0.35, 0.6, 0.5, 0.6]
    story.append(Table(rows, colWidths=[w * inch for w in widths], style=grid, repeatRows=1))
    doc.build(story)
    return buffer.getvalue()


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def statement_summary_rows(statement: Statement) -> list[tuple[str, int]]:
    """The summary lines in order, shared by the page, the PDF and the email."""
    # Marked for the catalog; the page translates them when it shows them (the slugs stay English).
    return [
        (gettext_noop("Opening balance"), statement.opening_balance_cents),
        (gettext_noop("Calls"), statement.charges_cents),
        (gettext_noop("Taxes on calls"), statement.tax_cents),
        (gettext_noop("Payments"), statement.payments_cents),
        (gettext_noop("Adjustments"), statement.adjustments_cents),
        (gettext_noop("Closing balance"), statement.closing_balance_cents),
    ]
