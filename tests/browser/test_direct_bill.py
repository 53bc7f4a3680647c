"""Direct Bill in a real Chromium: apply (Alaska, approved at once), then pay a past-due statement
by card in the fake Stripe element and see service return."""

import pytest
import time_machine
from django.test import Client

from accounts.models import AccountStatus
from billing.payments.models import Channel, FeeSchedule
from billing.statements import dunning
from billing.statements.adjustments import adjustment_create
from billing.statements.models import Statement
from billing.tasks import statements_monthly_run
from tests.factories import UserFactory
from tests.helpers import ARTIFACTS, ny, open_direct_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS


@pytest.fixture
def page(chromium, live_server, stripe_server):
    context = chromium.new_context(viewport={"width": 412, "height": 900})
    yield context
    context.close()


def _login(context, live_server, user):
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context.new_page()


def test_apply_in_alaska_and_see_the_approval(page, live_server):
    holder = UserFactory(state="AK", city="Juneau", postal_code="99801")
    tab = _login(page, live_server, holder)
    tab.goto(f"{live_server.url}/direct-bill/")
    tab.get_by_role("link", name="Apply for Direct Bill").click()
    tab.get_by_label("Full legal name").fill("Jo Ann Smith")
    tab.get_by_label("Date of birth").fill("1984-07-04")
    tab.locator("#id_address_line1").fill("1 Front Street")
    tab.get_by_label("Social Security number (optional)").fill("123-45-6789")
    tab.get_by_role("button", name="Submit application").click()
    assert "agree that FamilyLine may check my credit" in tab.content()
    assert "Tick the box to agree to the credit check" in tab.content()  # no consent yet: nothing filed
    tab.get_by_label("Social Security number (optional)").fill("123-45-6789")
    tab.get_by_label("I agree that FamilyLine may check my credit").check()
    tab.get_by_role("button", name="Submit application").click()
    tab.wait_for_url("**/direct-bill/applications/*/")
    body = tab.locator("main").inner_text()
    assert "Approved with a credit limit of $50.00" in body
    assert "Calls can connect from" in body
    tab.screenshot(path=str(SHOTS / "direct-bill-approved.png"), full_page=True)
    assert holder.applications.get().ssn_last4 == "6789"


def test_pay_a_past_due_statement_by_card_in_the_browser(page, live_server, staff):
    with time_machine.travel(ny(2026, 10, 1, 9, 0), tick=False):
        account = open_direct_bill(state="AK")
        adjustment_create(account=account, amount_cents=-1234, reason="Calls carried over", actor=staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        dunning.dunning_run()
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    statement = Statement.objects.get(account=account)
    # A transactional test starts from an empty database: put back the seeded web fee.
    FeeSchedule.objects.update_or_create(channel=Channel.WEB, defaults={"fee_cents": 300})

    tab = _login(page, live_server, account.holder)
    tab.goto(f"{live_server.url}/billing/statements/")
    tab.get_by_role("link", name="October 2026").click()
    assert "Past due" in tab.locator("main").inner_text()
    tab.screenshot(path=str(SHOTS / "statement-past-due.png"), full_page=True)
    tab.get_by_role("link", name="Pay by card").click()
    assert tab.get_by_label("Amount to pay").input_value() == "12.34"
    tab.get_by_role("button", name="Review payment").click()
    assert tab.locator("#quote-total").inner_text() == "$15.34"
    for field, value in [("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "34"),
                         ("cvc", "123"), ("postal_code", "99801")]:  # fmt: skip
        tab.locator(f"#card-element input[placeholder={field}]").fill(value)
    tab.get_by_role("button", name="Pay $15.34").click()
    tab.wait_for_url(f"**/billing/statements/{statement.pk}/")
    main = tab.locator("main").inner_text()
    assert "Your payment of $12.34 went through" in tab.content()
    assert "Past due" not in main
    tab.screenshot(path=str(SHOTS / "statement-paid.png"), full_page=True)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_at_the_credit_limit_the_holder_sees_why_and_pays_before_any_statement(page, live_server, staff):
    account = open_direct_bill(state="AK")  # $50.00 limit
    adjustment_create(account=account, amount_cents=-5000, reason="Calls carried over", actor=staff)
    FeeSchedule.objects.update_or_create(channel=Channel.WEB, defaults={"fee_cents": 300})

    tab = _login(page, live_server, account.holder)
    tab.goto(f"{live_server.url}/accounts/{account.pk}/")
    main = tab.locator("main").inner_text()
    assert "Your credit limit is reached: pay any amount to restore calls." in main
    assert tab.locator('[data-credit="available"]').inner_text() == "$0.00"
    tab.screenshot(path=str(SHOTS / "direct-bill-at-limit.png"), full_page=True)

    tab.get_by_role("link", name="Pay what you owe").click()
    tab.get_by_label("Amount").fill("10.00")
    tab.get_by_role("button", name="Review payment").click()
    assert tab.locator("#quote-total").inner_text() == "$13.00"
    for field, value in [("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "34"),
                         ("cvc", "123"), ("postal_code", "99801")]:  # fmt: skip
        tab.locator(f"#card-element input[placeholder={field}]").fill(value)
    tab.get_by_role("button", name="Pay $13.00").click()
    tab.wait_for_url("**/billing/payments/*/")
    tab.goto(f"{live_server.url}/accounts/{account.pk}/")
    assert tab.locator('[data-credit="available"]').inner_text() == "$10.00"
    assert "credit limit is reached" not in tab.locator("main").inner_text()
    tab.screenshot(path=str(SHOTS / "direct-bill-paid-before-statement.png"), full_page=True)
