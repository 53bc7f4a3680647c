"""How an issued statement stands: billed, paid since, due, past due."""

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from accounts.models import CallingAccount
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind
from billing.statements.models import Statement
from billing.statements.periods import Period, zone

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
    billed = max(0, statement.closing_balance_cents)
    paid = ledger.credits_since(account=statement.account, at=period.ends_at, credit_kinds=CREDIT_KINDS)
    owed_now = ledger.owed_cents(account=statement.account)
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
