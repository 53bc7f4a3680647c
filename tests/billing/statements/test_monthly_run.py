"""The monthly run is set-based: its SQL statements follow the batches of accounts, not the accounts,
and its "statement ready" emails leave through the outbox, one message per batch."""

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import OutboxMessage
from billing.statements import services as statements
from billing.statements.models import Statement, StatementLine
from billing.statements.periods import month_period
from tests.helpers import add_number, ny, open_direct_bill

pytestmark = pytest.mark.django_db


def _october_accounts(calls, count: int) -> list:
    accounts = []
    for n in range(count):
        with time_machine.travel(ny(2026, 9, 10, 12, n), tick=False):
            account = open_direct_bill(state="AK")
            number = add_number(account)
        for day in (3, 17):
            with time_machine.travel(ny(2026, 10, day, 19, n), tick=False):
                calls.complete(number=number, minutes=2 + n)
        accounts.append(account)
    return accounts


def _run_counting() -> tuple[list, int]:
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False), CaptureQueriesContext(connection) as captured:
        created = statements.statements_generate_for_month(period=month_period(ny(2026, 10, 1).date()))
    return created, len(captured)


def test_the_monthly_run_costs_the_same_statements_for_two_accounts_or_eight(calls):
    _october_accounts(calls, 2)
    few, few_statements = _run_counting()
    assert len(few) == 2
    StatementLine.objects.all().delete()
    Statement.objects.all().delete()
    _october_accounts(calls, 6)
    many, many_statements = _run_counting()
    assert len(many) == 8
    assert many_statements == few_statements


def test_a_batch_of_statements_sends_its_emails_through_one_outbox_message(
    calls, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(statements, "BATCH_ACCOUNTS", 3)
    accounts = _october_accounts(calls, 5)
    with django_capture_on_commit_callbacks(execute=True):
        created, _ = _run_counting()
    assert len(created) == 5
    messages = OutboxMessage.objects.filter(kind="email.statements_ready")
    assert sorted(len(m.payload["statement_ids"]) for m in messages) == [2, 3]
    ready = [m for m in mail.outbox if "statement for October 2026 is ready" in m.subject]
    assert sorted(m.to[0] for m in ready) == sorted(a.holder.email for a in accounts)
    assert Statement.objects.filter(emailed_at__isnull=True).count() == 0
    # One statement per account and month: running again issues nothing and emails nobody twice.
    with django_capture_on_commit_callbacks(execute=True):
        again, _ = _run_counting()
    assert again == [] and Statement.objects.count() == 5
    assert len([m for m in mail.outbox if "October 2026 is ready" in m.subject]) == 5
