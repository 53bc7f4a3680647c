"""Direct Bill a holder can manage: the credit shown, paying at any time, limits staff set within a
maximum, and the 90-day raise for on-time payment."""

import pytest
import time_machine
from django.urls import reverse

from accounts.direct_bill import services as applications
from accounts.models import AccountEvent, OutboxMessage
from billing.ledger import kernel as ledger
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.payments.models import PaymentMethod
from billing.statements.adjustments import adjustment_create
from billing.statements.credit_raise import credit_limits_raise_due
from billing.tasks import statements_monthly_run
from calls.facilities import facility_changed
from tests.factories import UserFactory
from tests.helpers import add_number, ny, open_direct_bill

pytestmark = pytest.mark.django_db


def owe(account, cents, staff):
    adjustment_create(account=account, amount_cents=-cents, reason="Calls carried over", actor=staff)


def test_the_holder_sees_limit_used_available_and_why_calls_stop(client, calls, staff):
    account = open_direct_bill(state="AK")  # $50.00
    number = add_number(account)
    calls.complete(number=number, minutes=10)  # $2.23
    client.force_login(account.holder)
    page = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert 'data-credit="limit">$50.00<' in page
    assert 'data-credit="used">$2.23<' in page
    assert 'data-credit="available">$47.77<' in page
    assert "Next statement" in page and "data-refused" not in page

    owe(account, 5000 - 223, staff)  # at the limit
    page = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert 'data-credit="available">$0.00<' in page
    assert "Your credit limit is reached: pay any amount to restore calls." in page
    dashboard = client.get(reverse("accounts:dashboard")).content.decode()
    assert "Your credit limit is reached" in dashboard


def test_a_payment_before_any_statement_restores_exactly_the_minutes_it_covers(calls, staff):
    calls.facility.max_call_minutes = 60
    calls.facility.save(update_fields=["max_call_minutes"])
    facility_changed(facility=calls.facility)
    account = open_direct_bill(state="AK")
    number = add_number(account)
    owe(account, 5000, staff)
    assert calls.authorize(number=number).reason == "credit_limit_reached"

    direct_bill_mail_payment_record(
        account=account, method=PaymentMethod.CHECK, amount_cents=1000, reference="chk 1", recorded_by=staff
    )

    answer = calls.authorize(number=number)
    # $10.00 at $0.21 + 6.35 % tax: 44 minutes cost $9.83, 45 would cost $10.05.
    assert (answer.decision, answer.max_seconds) == ("allow", 44 * 60)


def test_paying_restores_minutes_one_for_one(calls, staff):
    account = open_direct_bill(state="AK")
    number = add_number(account)
    owe(account, 5000, staff)
    direct_bill_mail_payment_record(
        account=account, method=PaymentMethod.CHECK, amount_cents=223, reference="chk 2", recorded_by=staff
    )
    answer = calls.authorize(number=number)
    assert (answer.decision, answer.max_seconds) == ("allow", 10 * 60)  # $2.23 is exactly 10 minutes


def test_a_payment_is_capped_at_what_is_owed(staff):
    account = open_direct_bill(state="AK")
    owe(account, 39, staff)
    with pytest.raises(Exception, match="at most \\$0.39"):
        direct_bill_mail_payment_record(
            account=account, method=PaymentMethod.CHECK, amount_cents=40, reference="chk 3", recorded_by=staff
        )


def test_a_limit_above_the_maximum_is_refused_and_one_above_the_threshold_needs_a_confirmation(staff, settings):
    account = open_direct_bill(state="AK")
    with pytest.raises(applications.ApplicationError, match="at most \\$500.00"):
        applications.credit_limit_change(account=account, credit_limit_cents=10_000_000, actor=staff, reason="VIP")
    with pytest.raises(applications.CreditLimitNeedsConfirmation):
        applications.credit_limit_change(account=account, credit_limit_cents=30_000, actor=staff, reason="Review")
    applications.credit_limit_change(
        account=account, credit_limit_cents=30_000, actor=staff, reason="Reviewed", confirmed=True
    )
    account.refresh_from_db()
    assert account.credit_limit_cents == 30_000


def test_the_admin_asks_to_confirm_a_high_limit(client, staff):
    account = open_direct_bill(state="AK")
    client.force_login(staff)
    url = reverse("admin:accounts_directbillapplication_credit_limit", args=[account.application.pk])
    page = client.post(url, {"credit_limit": "300.00", "reason": "Asked by phone"}).content.decode()
    assert "I confirm this credit limit" in page
    account.refresh_from_db()
    assert account.credit_limit_cents == 5000
    client.post(url, {"credit_limit": "300.00", "reason": "Asked by phone", "confirm": "on"})
    account.refresh_from_db()
    assert account.credit_limit_cents == 30_000


def test_the_application_page_shows_the_current_limit_and_the_address_reaches_the_profile(client, staff):
    account = open_direct_bill(holder=UserFactory(state="", address_line1="", city="", postal_code=""), state="AK")
    holder = account.holder
    holder.refresh_from_db()
    assert (holder.address_line1, holder.city, holder.state) == ("1 Front Street", "Juneau", "AK")
    applications.credit_limit_change(account=account, credit_limit_cents=8000, actor=staff, reason="Raised")
    client.force_login(holder)
    page = client.get(reverse("accounts:direct_bill_application", args=[account.application.pk])).content.decode()
    assert "$80.00" in page


def _month_of_calls_paid(calls, account, number, *, month: int, on_time: bool):
    """A call in `month` of 2026, its statement on the 1st, paid (by check) before or after the due date."""
    with time_machine.travel(ny(2026, month, 10, 12, 0), tick=False):
        calls.complete(number=number, minutes=5)
    with time_machine.travel(ny(2026, month + 1, 1, 3, 0), tick=False):
        statements_monthly_run.delay()
    paid_on = ny(2026, month + 1, 15, 12, 0) if on_time else ny(2026, month + 1, 28, 12, 0)
    with time_machine.travel(paid_on, tick=False):
        owed = ledger.owed_cents(account=account)
        direct_bill_mail_payment_record(
            account=account, method=PaymentMethod.CHECK, amount_cents=owed, reference=f"m{month}", recorded_by=None
        )


@pytest.mark.parametrize("late", [False, True])
def test_the_90_day_raise_happens_once_on_time_and_not_after_a_late_statement(calls, staff, late):
    with time_machine.travel(ny(2026, 1, 2, 9, 0), tick=False):
        account = open_direct_bill(state="AK")  # $50.00, set on Jan 2
    number = add_number(account)
    for month in (1, 2):
        _month_of_calls_paid(calls, account, number, month=month, on_time=not (late and month == 2))

    with time_machine.travel(ny(2026, 3, 31, 12, 0), tick=False):  # 88 days: not yet
        assert credit_limits_raise_due() == 0
    with time_machine.travel(ny(2026, 4, 2, 12, 0), tick=False):  # 90 days
        raised = credit_limits_raise_due()
        again = credit_limits_raise_due()
    account.refresh_from_db()
    if late:
        assert (raised, account.credit_limit_cents) == (0, 5000)
        return
    assert (raised, again, account.credit_limit_cents) == (1, 0, 7000)
    event = AccountEvent.objects.filter(account=account, action=AccountEvent.Action.CREDIT_LIMIT_CHANGED).first()
    assert event.actor is None and "paid on time" in event.reason
    with time_machine.travel(ny(2026, 5, 1, 12, 0), tick=False):  # the next raise is 90 days after this one
        assert credit_limits_raise_due() == 0
    told = OutboxMessage.objects.filter(kind="email.account", payload__template="direct_bill_credit_limit_changed")
    assert told.filter(payload__account_id=account.pk).count() == 1
