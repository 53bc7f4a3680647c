"""The 90-day credit raise (docs/domain.md): every DIRECT_BILL_CREDIT_LIMIT_RAISE_DAYS since a Direct
Bill account's limit was last set, if every statement due in that time was paid on time (what it
asked for was paid by its due date), the limit rises one step, up to the maximum. The statements
decide; the limit change itself is the accounts service, audited and emailed."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.direct_bill.services import credit_limit_last_changed_at, credit_limit_raise
from accounts.models import AccountKind, AccountStatus, CallingAccount
from billing.ledger import kernel as ledger
from billing.statements.models import Statement
from billing.statements.periods import Period, zone
from billing.statements.standing import CREDIT_KINDS


def statement_paid_on_time(*, statement: Statement) -> bool:
    """Whether what the statement asked for was paid by the end of its due date."""
    billed = max(0, statement.closing_balance_cents)
    if billed == 0:
        return True
    period = Period(statement.period_start_date, statement.period_end_date)
    due_end = datetime.combine(statement.due_date + timedelta(days=1), time.min, tzinfo=zone())
    paid = ledger.credits_since(account=statement.account, at=period.ends_at, credit_kinds=CREDIT_KINDS, until=due_end)
    return paid >= billed


def credit_limit_raise_review(*, account: CallingAccount, now: datetime) -> bool:
    """Raise this account's limit if it is due. Returns True when it was raised."""
    since = credit_limit_last_changed_at(account=account)
    if now - since < timedelta(days=settings.DIRECT_BILL_CREDIT_LIMIT_RAISE_DAYS):
        return False
    today = timezone.localtime(now, zone()).date()
    due_since = Statement.objects.filter(account=account, due_date__gte=since.date(), due_date__lt=today)
    if not all(statement_paid_on_time(statement=statement) for statement in due_since.select_related("account")):
        return False
    return credit_limit_raise(account=account, now=now) is not None


def credit_limits_raise_due(*, now: datetime | None = None) -> int:
    """The daily pass over open Direct Bill accounts in good standing. Returns how many were raised.
    Safe to run again: a raise is a change, so the next one is due RAISE_DAYS later."""
    now = now or timezone.now()
    accounts = (
        CallingAccount.objects.filter(kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE)
        .filter(credit_limit_cents__lt=settings.DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS)
        .order_by("id")
    )
    return sum(credit_limit_raise_review(account=account, now=now) for account in accounts)
