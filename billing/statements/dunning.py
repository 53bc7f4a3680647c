"""Dunning for Direct Bill: a statement unpaid past its due date stops calls; paying restores them.

Callers may rely on:
- `dunning_run` suspends (suspension_code `statement_past_due`) every Direct Bill account whose
  latest past-due statement is not fully paid, with an AccountEvent and an email after commit; it
  also restores any account whose past-due balance has since been paid. Safe to run any number of
  times a day: each account changes state at most once per cause;
- `account_payment_received` restores service at once when nothing past due remains. It runs
  inside the transaction that credits a payment (payments call it through the function
  `billing/callbacks.py` registers with them) and after a credit adjustment or call credit; it does
  nothing for other accounts or other suspensions (a staff suspension stays).
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.emails import account_email_enqueue
from accounts.models import AccountKind, AccountStatus, CallingAccount, SuspensionCode
from accounts.services import account_reinstate, account_suspend
from billing.ledger import kernel as ledger
from billing.ledger.money import format_cents
from billing.statements.standing import account_past_due_cents


def account_suspend_past_due(*, account: CallingAccount, now: datetime | None = None) -> bool:
    """Suspend a Direct Bill account whose past-due statement is unpaid. Returns True when this call
    suspended it; False (changing nothing) if nothing is past due or the account is already
    suspended or closed. Decided under the account's ledger-row lock (a payment waits, or is seen)."""
    now = now or timezone.now()
    with transaction.atomic():
        ledger.balance_lock(account=account)
        account = CallingAccount.objects.get(pk=account.pk)
        if account.kind != AccountKind.DIRECT_BILL or account.status in (AccountStatus.SUSPENDED, AccountStatus.CLOSED):
            return False
        past_due = account_past_due_cents(account=account, now=now)
        if past_due <= 0:
            return False
        account_suspend(
            account=account,
            actor=None,
            reason=f"Statement past due: {format_cents(past_due)} unpaid",
            code=SuspensionCode.STATEMENT_PAST_DUE,
            data={"past_due_cents": past_due},
            now=now,
        )
        account_email_enqueue(
            account_id=account.pk,
            template="statement_past_due",
            past_due_cents=past_due,
            mailing_address=settings.PAYMENT_MAILING_ADDRESS,
        )
    return True


def account_payment_received(*, account: CallingAccount, now: datetime | None = None) -> bool:
    """Restore an account suspended for a past-due statement once nothing past due remains. Returns
    True when this call restored it."""
    now = now or timezone.now()
    with transaction.atomic():
        ledger.balance_lock(account=account)
        account = CallingAccount.objects.get(pk=account.pk)
        if account.status != AccountStatus.SUSPENDED or account.suspension_code != SuspensionCode.STATEMENT_PAST_DUE:
            return False
        if account_past_due_cents(account=account, now=now) > 0:
            return False
        account_reinstate(
            account=account,
            actor=None,
            reason="Past-due statement paid",
            code=SuspensionCode.STATEMENT_PAST_DUE,
            data={"code": SuspensionCode.STATEMENT_PAST_DUE},
            now=now,
        )
        account_email_enqueue(account_id=account.pk, template="statement_service_restored")
    return True


def dunning_run(*, now: datetime | None = None) -> tuple[int, int]:
    """The daily pass: suspend accounts with an unpaid past-due statement and restore suspended ones
    whose past-due balance was paid. Returns (suspended, restored)."""
    now = now or timezone.now()
    direct_bill = CallingAccount.objects.filter(kind=AccountKind.DIRECT_BILL, statements__isnull=False).distinct()
    candidates = direct_bill.exclude(status__in=[AccountStatus.SUSPENDED, AccountStatus.CLOSED]).order_by("id")
    suspended = sum(account_suspend_past_due(account=account, now=now) for account in candidates)
    held = direct_bill.filter(
        status=AccountStatus.SUSPENDED, suspension_code=SuspensionCode.STATEMENT_PAST_DUE
    ).order_by("id")
    restored = sum(account_payment_received(account=account, now=now) for account in held)
    return suspended, restored
