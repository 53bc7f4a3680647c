"""How an issued statement stands: billed, paid since, due, past due."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import CallingAccount
from billing import selectors
from billing.models import EntryKind, Posting, Statement

from .periods import Period, zone

# Entries that pay down a statement once it is issued (calls after the period belong to the next one).
CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.ADJUSTMENT, EntryKind.REFUND, EntryKind.REVERSAL)


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
        is_past_due=due > 0 and timezone.localtime(now, zone()).date() > statement.due_date,
    )


def account_past_due_cents(*, account: CallingAccount, now: datetime | None = None) -> int:
    """What is still unpaid of the latest statement whose due date has passed (0 when none is)."""
    now = now or timezone.now()
    today = timezone.localtime(now, zone()).date()
    latest_due = Statement.objects.filter(account=account, due_date__lt=today).order_by("-period_start_date").first()
    if latest_due is None:
        return 0
    return statement_standing(statement=latest_due, now=now).due_cents
