import threading

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from accounts.services import account_open
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, Posting, SystemAccount
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.statements import periods
from billing.statements import services as statements
from billing.statements.adjustments import adjustment_create
from billing.statements.models import Statement, StatementLine
from billing.tasks import statements_monthly_run
from calls.models import CallRecord
from tests.factories import InmateFactory, RatePlanFactory
from tests.helpers import Calls, add_number, balance_of, ny, open_direct_bill

pytestmark = pytest.mark.django_db


def _owed_before(account, moment) -> int:
    total = Posting.objects.filter(ledger_account__calling_account=account, entry__created_at__lt=moment).aggregate(
        t=Sum("amount_cents")
    )["t"]
    return -(total or 0)


def _october(calls, staff):
    """A September call, then October: three calls, a mail payment, a credit and a debit adjustment."""
    with time_machine.travel(ny(2026, 9, 10, 12, 0), tick=False):
        account = open_direct_bill(state="AK")
        number = add_number(account)
    with time_machine.travel(ny(2026, 9, 30, 23, 58), tick=False):
        calls.complete(number=number, minutes=1)  # 21 + 1 tax, on September's statement
    with time_machine.travel(ny(2026, 10, 1, 0, 1), tick=False):
        statements_monthly_run()
    with time_machine.travel(ny(2026, 10, 3, 19, 0), tick=False):
        calls.complete(number=number, minutes=10)  # 210 + 13
    with time_machine.travel(ny(2026, 10, 12, 8, 30), tick=False):
        calls.complete(number=number, minutes=15)  # 315 + 20
    with time_machine.travel(ny(2026, 10, 20, 10, 0), tick=False):
        direct_bill_mail_payment_record(
            account=account, method="check", amount_cents=200, reference="chk 1001", recorded_by=staff
        )
        adjustment_create(
            account=account,
            amount_cents=50,
            reason="Agent 14: caller said the line cut out",
            description="Dropped call credit",
            actor=staff,
        )
        adjustment_create(
            account=account,
            amount_cents=-25,
            reason="Bank returned check",
            description="Returned check fee",
            actor=staff,
        )
    with time_machine.travel(ny(2026, 10, 31, 23, 59, 30), tick=False):
        calls.complete(number=number, minutes=3)  # 63 + 4, last minute of October
    with time_machine.travel(ny(2026, 11, 1, 0, 0, 30), tick=False):
        calls.complete(number=number, minutes=2)  # November: not on October's statement
    return account


def test_statement_for_a_month_ties_out_to_the_ledger_to_the_cent(calls, staff, django_capture_on_commit_callbacks):
    account = _october(calls, staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        statements_monthly_run()

    statement = Statement.objects.get(account=account, period_start_date="2026-10-01")
    assert (statement.period_end_date.isoformat(), statement.due_date.isoformat()) == ("2026-10-31", "2026-11-22")
    oct_start, nov_start = ny(2026, 10, 1), ny(2026, 11, 1)
    assert statement.opening_balance_cents == _owed_before(account, oct_start) == 22
    assert statement.closing_balance_cents == _owed_before(account, nov_start)
    october_calls = CallRecord.objects.filter(account=account, entry__created_at__gte=oct_start,
                                              entry__created_at__lt=nov_start)  # fmt: skip
    assert statement.charges_cents == sum(c.charge_cents for c in october_calls) == 210 + 315 + 63
    assert statement.tax_cents == sum(c.tax_cents for c in october_calls) == 13 + 20 + 4
    assert statement.payments_cents == -200
    assert statement.adjustments_cents == -50 + 25
    assert (
        statement.closing_balance_cents
        == (
            statement.opening_balance_cents
            + statement.charges_cents
            + statement.tax_cents
            + statement.payments_cents
            + statement.adjustments_cents
        )
        == 22 + 588 + 37 - 200 - 25
    )
    lines = list(statement.lines.order_by("occurred_at", "id"))
    assert [line.kind for line in lines].count(StatementLine.Kind.CALL) == 3
    assert sum(line.amount_cents for line in lines) == statement.closing_balance_cents - statement.opening_balance_cents
    first_call = next(line for line in lines if line.kind == StatementLine.Kind.CALL)
    assert (first_call.facility, first_call.minutes, first_call.charge_cents, first_call.tax_cents) == (
        calls.facility.name,
        10,
        210,
        13,
    )
    assert first_call.inmate == calls.inmate.full_name
    assert first_call.number.startswith("+1860555")
    assert {line.description for line in lines if line.kind == StatementLine.Kind.ADJUSTMENT} == {
        "Adjustment: Dropped call credit",
        "Adjustment: Returned check fee",
    }
    assert not any("Agent 14" in line.description for line in lines)  # the staff note stays in the admin
    assert ledger.check() == []
    ready = [m for m in mail.outbox if "statement for October 2026 is ready" in m.subject]
    assert len(ready) == 1 and ready[0].to == [account.holder.email]
    statement.refresh_from_db()
    assert statement.emailed_at is not None


def test_running_the_month_again_changes_nothing_and_emails_once(calls, staff, django_capture_on_commit_callbacks):
    account = _october(calls, staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        statements_monthly_run()
    first = Statement.objects.get(account=account, period_start_date="2026-10-01")
    lines_before = list(first.lines.values_list("id", "amount_cents"))
    with time_machine.travel(ny(2026, 11, 1, 9, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        adjustment_create(account=account, amount_cents=100, reason="Goodwill", actor=staff)
        assert statements_monthly_run() == 0
        again, created = statements.statement_generate(
            account=account, period=periods.month_period(first.period_start_date)
        )
    assert not created and again.pk == first.pk
    again.refresh_from_db()
    assert again.closing_balance_cents == first.closing_balance_cents
    assert list(again.lines.values_list("id", "amount_cents")) == lines_before
    assert Statement.objects.filter(account=account, period_start_date="2026-10-01").count() == 1
    assert len([m for m in mail.outbox if "October 2026 is ready" in m.subject]) == 1


def test_an_unsent_statement_is_emailed_by_the_next_run(calls, staff, django_capture_on_commit_callbacks):
    account = _october(calls, staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()  # on-commit email never ran: as if the worker died after the commit
    statement = Statement.objects.get(account=account, period_start_date="2026-10-01")
    assert statement.emailed_at is None
    with time_machine.travel(ny(2026, 11, 1, 3, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        statements_monthly_run()
    statement.refresh_from_db()
    assert statement.emailed_at is not None
    assert len([m for m in mail.outbox if "October 2026 is ready" in m.subject]) == 1


def test_the_statement_appears_on_the_first_of_the_month(calls, staff):
    account = _october(calls, staff)
    with time_machine.travel(ny(2026, 10, 31, 23, 59, 50), tick=False):
        statements_monthly_run()
    assert not Statement.objects.filter(account=account, period_start_date="2026-10-01").exists()
    with (
        pytest.raises(statements.StatementError, match="has not ended"),
        time_machine.travel(ny(2026, 10, 31, 23, 59, 50), tick=False),
    ):
        statements.statement_generate(account=account, period=periods.month_period(ny(2026, 10, 5).date()))
    with time_machine.travel(ny(2026, 11, 1, 0, 0, 5), tick=False):
        statements_monthly_run()
    assert Statement.objects.filter(account=account, period_start_date="2026-10-01").exists()

    schedule = settings.CELERY_BEAT_SCHEDULE["billing-statements-monthly"]
    assert schedule["task"] == statements_monthly_run.name
    assert schedule["schedule"].day_of_month == {1}
    assert settings.CELERY_TIMEZONE == "America/New_York"


def test_nothing_to_bill_means_no_statement_and_prepaid_accounts_get_none(calls):
    with time_machine.travel(ny(2026, 9, 10, 12, 0), tick=False):
        quiet = open_direct_bill(state="AK")
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    assert not Statement.objects.filter(account=quiet).exists()
    prepaid = account_open(holder=quiet.holder)
    with pytest.raises(statements.StatementError, match="Only Direct Bill"):
        statements.statement_generate(account=prepaid, period=periods.month_period(ny(2026, 10, 1).date()))


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_yield_one_statement_and_one_email():
    calls = Calls.__new__(Calls)
    calls.plan = RatePlanFactory()
    calls.facility, calls.inmate = calls.plan.facility, InmateFactory(facility=calls.plan.facility)
    account = open_direct_bill(state="AK")
    number = add_number(account)
    for minutes in (4, 7, 11):
        calls.complete(number=number, minutes=minutes)
    period = periods.month_period(timezone.localdate())
    after = period.ends_at + timezone.timedelta(hours=2)
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            results.append(statements.statement_generate(account=account, period=period, now=after))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(created for _, created in results) == 1
    assert len({statement.pk for statement, _ in results}) == 1
    statement = Statement.objects.get(account=account)
    assert statement.lines.count() == 3
    assert statement.closing_balance_cents == -balance_of(account)
    assert len([m for m in mail.outbox if "is ready" in m.subject]) == 1
    assert ledger.check() == []


def _post(account, kind: EntryKind, cents: int, *, memo: str = "", tax: int = 0):
    """An entry of `kind` that adds `cents` to the account (and `tax` to tax payable), as the ledger
    posts it for causes the other tests do not build."""
    own = ledger.account_ledger(account)
    other, tax_payable = ledger.system_accounts(SystemAccount.ADJUSTMENTS, SystemAccount.TAX_PAYABLE)
    lines = [(own, cents), (other, -cents - tax)] + ([(tax_payable, tax)] if tax else [])
    return ledger.post(idempotency_key=f"test:{kind}:{cents}", kind=kind, lines=lines, memo=memo).entry


def test_each_kind_of_entry_gets_its_words_and_its_total_on_the_statement(calls):
    with time_machine.travel(ny(2026, 9, 10, 12, 0), tick=False):
        account = open_direct_bill(state="AK")
        number = add_number(account)
    with time_machine.travel(ny(2026, 10, 3, 19, 0), tick=False):
        calls.complete(number=number, minutes=10)  # 210 + 13
    with time_machine.travel(ny(2026, 10, 21, 10, 0), tick=False):
        _post(account, EntryKind.PAYMENT, 100, memo="Payment by wire")
        _post(account, EntryKind.PAYMENT, 101)
        _post(account, EntryKind.REFUND, -40)
        _post(account, EntryKind.REVERSAL, -30, memo="Reversed payment")
        _post(account, EntryKind.ADJUSTMENT, 12)
        _post(account, EntryKind.CALL, -99, tax=5)  # a charge without its call record
        _post(account, EntryKind.PAYMENT, 7)
        _post(account, EntryKind.PAYMENT, -7)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        (statement,) = statements.statements_generate_for_month(period=periods.month_period(ny(2026, 10, 1).date()))
    lines = [
        (line.kind, line.description, line.charge_cents, line.tax_cents, line.amount_cents)
        for line in statement.lines.order_by("occurred_at", "id")
    ]
    assert lines == [
        ("call", f"Call from {calls.facility.name}", 210, 13, 223),
        ("payment", "Payment by wire", 0, 0, -100),
        ("payment", "Payment", 0, 0, -101),
        ("payment", "Refund", 0, 0, 40),
        ("adjustment", "Reversed payment", 0, 0, 30),
        ("adjustment", "Adjustment", 0, 0, -12),
        ("call", "Call", 94, 5, 99),
        ("payment", "Payment", 0, 0, -7),
        ("payment", "Payment", 0, 0, 7),
    ]
    totals = (statement.charges_cents, statement.tax_cents, statement.payments_cents, statement.adjustments_cents)
    assert totals == (210 + 94, 13 + 5, -100 - 101 + 40 - 7 + 7, 30 - 12)
    assert statement.opening_balance_cents == 0
    assert statement.closing_balance_cents == sum(amount for *_, amount in lines) == -balance_of(account)
