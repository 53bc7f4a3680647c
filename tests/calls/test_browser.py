"""A family member in a real Chromium (phone-sized) sees the call history and starts paying for an
inmate's calls, without JavaScript on these pages."""

import datetime

import pytest
from django.test import Client

from calls.models import InmateDebitSponsorship
from tests.helpers import ARTIFACTS, complete, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS


@pytest.fixture
def browser_context(chromium, live_server):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    yield context
    context.close()


def test_family_sees_call_history_and_sponsors_an_inmate(browser_context, live_server, facility, inmate):
    account = make_account(balance_cents=2000, number="+18605550147")
    complete(
        facility,
        inmate,
        account.test_number,
        seconds=541,
        started_at=datetime.datetime(2026, 1, 5, 20, 30, tzinfo=datetime.UTC),
    )
    client = Client()
    client.force_login(account.holder)
    browser_context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    tab = browser_context.new_page()

    tab.goto(f"{live_server.url}/calls/accounts/{account.pk}/history/")
    row = tab.locator("tbody tr").first
    for text in ("Jan 5, 2026 3:30 PM", facility.name, "John Roe", "(860) 555-0147", "$2.10", "$0.13", "$2.23"):
        assert text in row.inner_text()
    tab.screenshot(path=str(SHOTS / "calls-history.png"), full_page=True)

    tab.get_by_role("link", name="Inmate debit").click()
    tab.get_by_label("Facility").select_option(label=str(facility))
    tab.get_by_label("Inmate number").fill(inmate.inmate_number)
    tab.get_by_label("Monthly limit (optional)").fill("20.00")
    tab.get_by_role("button", name="Continue").click()
    # FamilyLine shows whose calls these are; nothing starts until the holder confirms.
    assert f"John Roe, inmate #{inmate.inmate_number} at {facility.name}" in tab.locator("#confirm-inmate").inner_text()
    tab.get_by_role("button", name="Start paying for these calls").click()
    assert "Please confirm that John Roe" in tab.locator("[role=alert]").inner_text()
    assert not InmateDebitSponsorship.objects.filter(inmate=inmate).exists()
    tab.get_by_label("Yes, this is the person whose calls I want to pay for").check()
    tab.get_by_role("button", name="Start paying for these calls").click()
    assert "John Roe's calls are now paid from this account." in tab.locator(".messages").inner_text()
    assert "Monthly limit: $20.00" in tab.content()
    tab.screenshot(path=str(SHOTS / "calls-sponsorship.png"), full_page=True)
    assert InmateDebitSponsorship.objects.get(inmate=inmate).account_id == account.pk

    tab.get_by_role("button", name="Stop paying for John Roe").click()
    assert "no longer pays for John Roe" in tab.locator(".messages").inner_text()
    assert InmateDebitSponsorship.objects.get(inmate=inmate).ended_at is not None
