"""A staff day in a real Chromium: sign in to the admin, read the work queue, approve a Direct Bill
application, record a mail payment, resolve a call-credit request, and read the reconciliation page.
Screenshots are kept in the suite's artifacts folder."""

import importlib

import pytest
import requests
from django.contrib.auth.models import Group, Permission

from accounts.models import DirectBillApplication
from billing.payments.models import Payment
from billing.payments.selectors import ledger_violations
from billing.statements import call_credits
from billing.statements.models import CallCreditRequest
from calls.models import CallRecord
from tests.factories import UserFactory
from tests.helpers import ARTIFACTS, Calls, card_payment, make_account, open_direct_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"
STAFF_GROUPS = importlib.import_module("billing.migrations.0013_staff_groups")


def _supervisor_group() -> Group:
    """The migration's group (a transactional test may run after another one emptied the tables)."""
    group, _ = Group.objects.get_or_create(name="supervisor")
    for perm in STAFF_GROUPS.SUPERVISOR:
        app_label, codename = perm.split(".")
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))
    return group


@pytest.fixture
def tab(chromium, live_server, stripe_server):
    # The session's localstripe holds other tests' charges: start this day from an empty Stripe account.
    requests.delete(f"{stripe_server}/_config/data", timeout=10)
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    yield context.new_page()
    context.close()


@pytest.fixture
def day():
    """What waits for staff this morning: an application, a family to credit, a call-credit request."""
    supervisor = UserFactory(is_staff=True, email="sam.supervisor@familyline.example")
    supervisor.groups.add(_supervisor_group())
    open_direct_bill(state="CT", activate=False)
    calls = Calls()
    account = make_account()
    calls.complete(number=account.test_number, minutes=6)
    call = CallRecord.objects.get(account=account)
    credit = call_credits.call_credit_request(call=call, holder=account.holder, reason="dropped")
    return {"staff": supervisor, "account": account, "credit": credit}


def _shot(tab, name: str) -> None:
    tab.screenshot(path=str(ARTIFACTS / f"staff-day-{name}.png"), full_page=True)


def test_a_staff_day(tab, live_server, day, stripe_server):
    tab.goto(f"{live_server.url}/admin/login/")
    tab.locator("#id_username").fill(day["staff"].email)
    tab.locator("#id_password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()

    queue = tab.locator("#work-queue")
    queue.wait_for()
    assert "Direct Bill applications to review" in queue.inner_text()
    assert tab.locator("tr.work-applications td.count").inner_text() == "1"
    assert tab.locator("tr.work-call_credits td.count").inner_text() == "1"
    assert "Clocked" not in tab.content()
    _shot(tab, "1-work-queue")

    # Approve the application from the queue.
    tab.get_by_role("link", name="Direct Bill applications to review").click()
    tab.locator("#result_list tbody tr a").first.click()
    tab.get_by_role("link", name="Approve").click()
    tab.locator("#id_credit_limit").fill("100.00")
    tab.get_by_role("button", name="Approve").click()
    assert "approved at $100.00" in tab.locator(".messagelist").inner_text()
    _shot(tab, "2-application-approved")
    assert DirectBillApplication.objects.get().status == "approved"

    # Record a money order that came in the mail.
    tab.goto(f"{live_server.url}/admin/billing/payment/add/?account={day['account'].pk}")
    tab.get_by_label("Channel").select_option("mail")
    tab.get_by_label("Method").select_option("money_order")
    tab.get_by_label("Amount to add").fill("25.00")
    tab.locator("#id_reference").fill("MO-20261201")
    tab.get_by_role("button", name="Record payment").click()
    message = tab.locator(".messagelist").inner_text()
    assert "$25.00" in message and "Money order number MO-20261201" in message
    _shot(tab, "3-mail-payment")
    assert Payment.objects.get(reference="MO-20261201").amount_cents == 2500

    # Resolve the call-credit request: approve it.
    tab.goto(f"{live_server.url}/admin/")
    tab.get_by_role("link", name="Call-credit requests to decide").click()
    tab.locator("#result_list input.action-select").first.check()
    tab.locator("select[name=action]").select_option("approve")
    tab.locator("button[name=index]").first.click()
    assert "Approved 1 request(s)" in tab.locator(".messagelist").inner_text()
    _shot(tab, "4-call-credit")
    assert CallCreditRequest.objects.get().status == "approved"

    # A family paid by card on the web meanwhile; read the reconciliation page: nothing differs.
    family = UserFactory()
    card_payment(stripe_server, family, make_account(holder=family), 2000)
    tab.goto(f"{live_server.url}/admin/")
    tab.get_by_role("link", name="Reconciliation with Stripe").click()
    tab.get_by_role("button", name="Run now").click()
    assert "0 difference(s)" in tab.locator(".messagelist").inner_text()
    assert tab.locator("#no-differences").is_visible()
    assert "1 payment(s) and 0 refund(s) compared" in tab.locator("#reconciliation").inner_text()
    _shot(tab, "5-reconciliation")
    assert ledger_violations() == []
