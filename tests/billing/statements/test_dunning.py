import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import AccountEvent, AccountStatus, SuspensionCode
from accounts.services import account_suspend
from billing.ledger import kernel as ledger
from billing.payments import services
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.payments.models import Channel, PaymentMethod
from billing.statements import dunning
from billing.statements.adjustments import adjustment_create
from billing.statements.models import Statement
from billing.tasks import dunning_daily_run, statements_monthly_run
from tests.helpers import add_number, ny, open_direct_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(calls):
    """An active Alaska account with $3.35 of October calls; its statement is issued on Nov 1, due Nov 22."""
    with time_machine.travel(ny(2026, 10, 1, 9, 0), tick=False):
        account = open_direct_bill(state="AK")
        number = add_number(account)
    with time_machine.travel(ny(2026, 10, 14, 18, 0), tick=False):
        calls.complete(number=number, minutes=15)  # 315 + 20 tax
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    account.number = number
    return account


def _reload(account):
    account.refresh_from_db()
    return account


def test_unpaid_statement_suspends_the_day_after_the_due_date_and_payment_restores_at_once(
    billed, calls, staff, django_capture_on_commit_callbacks
):
    statement = Statement.objects.get(account=billed)
    assert statement.closing_balance_cents == 335
    assert statement.due_date.isoformat() == "2026-11-22"

    with time_machine.travel(ny(2026, 11, 22, 23, 0), tick=False):
        assert dunning_daily_run() == [0, 0]
        assert _reload(billed).status == AccountStatus.ACTIVE
        assert calls.authorize(number=billed.number).allowed

    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert dunning_daily_run() == [1, 0]
        assert dunning_daily_run() == [0, 0]  # a second run the same day changes nothing
    billed = _reload(billed)
    assert (billed.status, billed.suspension_code) == (AccountStatus.SUSPENDED, SuspensionCode.STATEMENT_PAST_DUE)
    event = billed.events.filter(action=AccountEvent.Action.SUSPENDED).get()
    assert event.data["past_due_cents"] == 335
    past_due_mail = [m for m in mail.outbox if "statement past due" in m.subject]
    assert len(past_due_mail) == 1 and "$3.35 is unpaid" in past_due_mail[0].body
    # Where to mail the check it suggests.
    assert f"#{billed.pk} on the check and mail it to:\nFamilyLine Payments\nPO Box 2300\nHartford, CT 06146\n" in (
        past_due_mail[0].body
    )

    with time_machine.travel(ny(2026, 11, 23, 9, 0), tick=False):
        denied = calls.authorize(number=billed.number)
        assert (denied.decision, denied.reason) == ("deny", "statement_past_due")

        # A partial payment is taken but service stays off until the past-due amount is paid in full.
        with django_capture_on_commit_callbacks(execute=True):
            direct_bill_mail_payment_record(
                account=billed, method=PaymentMethod.CHECK, amount_cents=300, reference="chk 7", recorded_by=staff
            )
        assert _reload(billed).status == AccountStatus.SUSPENDED

    with time_machine.travel(ny(2026, 11, 23, 9, 5), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            direct_bill_mail_payment_record(
                account=billed, method=PaymentMethod.MONEY_ORDER, amount_cents=35, reference="mo 8", recorded_by=staff
            )
        billed = _reload(billed)
        assert (billed.status, billed.suspension_code) == (AccountStatus.ACTIVE, "")
        assert billed.events.filter(action=AccountEvent.Action.REINSTATED).count() == 1
        assert any("connect again" in m.subject for m in mail.outbox)
        assert calls.authorize(number=billed.number).allowed
    assert ledger.check() == []


def test_a_payment_credited_by_any_path_restores_service_at_once(billed, staff):
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        dunning.dunning_run()
    assert _reload(billed).status == AccountStatus.SUSPENDED
    with time_machine.travel(ny(2026, 11, 23, 12, 0), tick=False):
        # The general staff payment service, not the statement one: restoring happens where every
        # payment is credited, so the 3-D Secure return and the webhook restore service too.
        services.payment_record_offline(
            account=billed,
            channel=Channel.MAIL,
            method=PaymentMethod.CHECK,
            amount_cents=335,
            reference="chk 12",
            recorded_by=staff,
        )
    assert _reload(billed).status == AccountStatus.ACTIVE
    with time_machine.travel(ny(2026, 11, 24, 6, 0), tick=False):
        assert dunning.dunning_run() == (0, 0)
    assert _reload(billed).status == AccountStatus.ACTIVE
    assert billed.events.filter(action=AccountEvent.Action.REINSTATED).count() == 1
    assert ledger.check() == []


def test_a_credit_adjustment_that_clears_the_past_due_balance_restores_service(billed, staff):
    with time_machine.travel(ny(2026, 11, 25, 6, 0), tick=False):
        dunning.dunning_run()
        assert _reload(billed).status == AccountStatus.SUSPENDED
        adjustment_create(account=billed, amount_cents=335, reason="Calls billed in error", actor=staff)
    assert _reload(billed).status == AccountStatus.ACTIVE


def test_calls_after_the_statement_do_not_count_against_its_due_amount(billed, calls, staff):
    with time_machine.travel(ny(2026, 11, 5, 10, 0), tick=False):
        calls.complete(number=billed.number, minutes=5)  # November: next month's statement
        direct_bill_mail_payment_record(
            account=billed, method=PaymentMethod.CHECK, amount_cents=335, reference="chk 9", recorded_by=staff
        )
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        assert dunning.dunning_run() == (0, 0)
    assert _reload(billed).status == AccountStatus.ACTIVE


def test_paying_does_not_lift_a_staff_suspension(billed, staff):
    with time_machine.travel(ny(2026, 11, 10, 10, 0), tick=False):
        account_suspend(account=billed, actor=staff, reason="Fraud review")
        direct_bill_mail_payment_record(
            account=billed, method=PaymentMethod.CHECK, amount_cents=335, reference="chk 10", recorded_by=staff
        )
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        assert dunning.dunning_run() == (0, 0)
        assert not dunning.account_payment_received(account=billed)
    billed = _reload(billed)
    assert (billed.status, billed.suspension_code) == (AccountStatus.SUSPENDED, SuspensionCode.STAFF)


def test_a_later_unpaid_statement_keeps_the_account_suspended(billed, calls):
    """October unpaid: suspended in November. The November statement (issued Dec 1) carries October's
    balance; until it is paid nothing is restored, even before November's own due date."""
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        dunning.dunning_run()
    with time_machine.travel(ny(2026, 12, 1, 2, 0), tick=False):
        statements_monthly_run()
    november = Statement.objects.get(account=billed, period_start_date="2026-11-01")
    assert november.opening_balance_cents == 335 == november.closing_balance_cents
    with time_machine.travel(ny(2026, 12, 2, 6, 0), tick=False):
        assert dunning.dunning_run() == (0, 0)
    assert _reload(billed).status == AccountStatus.SUSPENDED


def test_the_statement_page_shows_what_is_paid_and_due(billed, staff, client):
    statement = Statement.objects.get(account=billed)
    with time_machine.travel(ny(2026, 11, 10, 10, 0), tick=False):
        direct_bill_mail_payment_record(
            account=billed, method=PaymentMethod.CHECK, amount_cents=100, reference="chk 11", recorded_by=staff
        )
    client.force_login(billed.holder)
    with time_machine.travel(ny(2026, 11, 10, 11, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
    assert 'data-total="billed">$3.35<' in page
    assert 'data-total="paid">$1.00<' in page
    assert 'data-total="due" class="owed">$2.35<' in page
    client.force_login(billed.holder)  # 13 days later: the idle session has ended
    with time_machine.travel(ny(2026, 11, 23, 11, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
    assert "Past due" in page


def test_a_later_debit_adjustment_does_not_make_a_paid_statement_past_due(billed, staff):
    with time_machine.travel(ny(2026, 11, 10, 9, 0), tick=False):
        direct_bill_mail_payment_record(
            account=billed, method=PaymentMethod.CHECK, amount_cents=335, reference="chk 20", recorded_by=staff
        )
    with time_machine.travel(ny(2026, 11, 15, 9, 0), tick=False):
        adjustment_create(account=billed, amount_cents=-100, reason="November correction", actor=staff)
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        dunning_daily_run()
    assert _reload(billed).status == AccountStatus.ACTIVE
