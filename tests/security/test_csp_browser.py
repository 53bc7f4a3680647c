"""The card payment in a real Chromium with the Content-Security-Policy on: the flow completes
and the browser reports no CSP violation (console errors and securitypolicyviolation events)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts.services import account_open
from billing.payments.models import FeeSchedule, Payment
from tests.factories import UserFactory

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def default_fees(transactional_db):
    for channel, cents in {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}.items():
        FeeSchedule.objects.update_or_create(channel=channel, defaults={"fee_cents": cents})


def _page(chromium, live_server, user, console):
    client = Client()
    client.force_login(user)
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(15000)
    page.add_init_script(WATCH_CSP)
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def _pay(page, live_server, account, card):
    page.goto(f"{live_server.url}/billing/fund/?account={account.pk}")
    page.fill("#id_amount", "20")
    page.click("button:has-text('Review payment')")
    expect(page.locator("#quote-total")).to_have_text("$23.00")
    page.fill("#card-element input[placeholder=number]", card)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "06103")
    assert _violations(page) == []
    page.click("#pay-button")


def test_card_payment_passes_with_the_policy_and_no_csp_errors(chromium, live_server, stripe_server, default_fees):
    user = UserFactory()
    account = account_open(holder=user)
    console: list[str] = []
    page = _page(chromium, live_server, user, console)
    headers: list[str] = []

    def keep_policy(response):
        if response.url.startswith(live_server.url) and response.request.resource_type == "document":
            headers.append(response.headers.get("content-security-policy", ""))

    page.on("response", keep_policy)

    _pay(page, live_server, account, "4242424242424242")

    expect(page.locator("h1")).to_contain_text("Receipt #")
    expect(page.locator("#receipt-balance")).to_have_text("$20.00")
    page.screenshot(path=str(ARTIFACTS / "csp-card-receipt.png"), full_page=True)
    assert Payment.objects.get(account=account).status == "succeeded"
    assert headers and all("script-src 'self' " + stripe_server in h for h in headers), headers
    assert _violations(page) == []
    assert [line for line in console if "Content Security Policy" in line or "Refused to" in line] == []


def test_three_d_secure_passes_with_the_policy(chromium, live_server, stripe_server, default_fees):
    user = UserFactory()
    account = account_open(holder=user)
    console: list[str] = []
    page = _page(chromium, live_server, user, console)

    _pay(page, live_server, account, "4000002500003155")
    page.click("button:has-text('Complete authentication')")
    expect(page.locator("h1")).to_have_text("Confirm with your bank")
    assert _violations(page) == []
    page.click("#auth-button")
    page.click("button:has-text('Complete authentication')")

    expect(page.locator("h1")).to_contain_text("Receipt #")
    assert Payment.objects.get(account=account).status == "succeeded"
    assert _violations(page) == []
    assert [line for line in console if "Content Security Policy" in line or "Refused to" in line] == []
