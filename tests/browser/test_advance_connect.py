"""A family member's first visit, in a real Chromium: sign up, verify the email address, open an
AdvanceConnect account, add two numbers, fund $25.00 with the (fake) Stripe card element, and see
amount + fee + total before paying and the new balance and receipt after."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from accounts.models import User
from accounts.services import account_open
from billing.payments.models import AutoReload, FeeSchedule, Payment
from tests.factories import UserFactory
from tests.helpers import ARTIFACTS, balance_of, stripe_object_count

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_fees(transactional_db):
    """The schedule the migration seeds (an earlier transactional test's flush removes it)."""
    for channel, cents in {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}.items():
        FeeSchedule.objects.update_or_create(channel=channel, defaults={"fee_cents": cents})


@pytest.fixture
def browser(chromium):
    return chromium


def test_sign_up_open_account_add_numbers_and_fund_by_card(browser, live_server, stripe_server, default_fees):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(15000)
    base = live_server.url

    page.goto(f"{base}/auth/signup/")
    page.fill("#id_email", "maria@example.com")
    page.fill("#id_password1", "a long family password")
    page.fill("#id_password2", "a long family password")
    page.fill("#id_first_name", "Maria")
    page.fill("#id_last_name", "Lopez")
    page.select_option("#id_preferred_language", "en")
    page.click("button:has-text('Sign up')")
    expect(page.locator("h1")).to_have_text("Check your email")

    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.click("button[type=submit]:has-text('Confirm')")
    expect(page.locator("h1")).to_have_text("My accounts")

    page.click("button:has-text('Open an AdvanceConnect account')")
    expect(page.locator("h1")).to_contain_text("AdvanceConnect #")
    for number, label, line_type in [("(860) 555-0134", "Home", "landline"), ("203-555-0188", "Cell", "mobile")]:
        page.fill("#id_number", number)
        page.fill("#id_label", label)
        page.select_option("#id_line_type", line_type)
        page.click("button:has-text('Add number')")
        expect(page.locator(".messages")).to_contain_text("was added")
    expect(page.locator("table").first).to_contain_text("(860) 555-0134")
    expect(page.locator("table").first).to_contain_text("(203) 555-0188")

    page.click("a.button:has-text('Add money')")
    page.fill("#id_amount", "25.00")
    page.click("button:has-text('Review payment')")
    expect(page.locator("#quote-amount")).to_have_text("$25.00")
    expect(page.locator("#quote-fee")).to_have_text("$3.00")
    expect(page.locator("#quote-total")).to_have_text("$28.00")
    assert not Payment.objects.exists()  # nothing charged before the holder says so
    page.screenshot(path=str(ARTIFACTS / "advance-connect-review.png"), full_page=True)

    page.fill("#card-element input[placeholder=number]", "4242424242424242")
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "06103")
    page.click("#pay-button")

    expect(page.locator("h1")).to_contain_text("Receipt #")
    expect(page.locator("#receipt-amount")).to_have_text("$25.00")
    expect(page.locator("#receipt-fee")).to_have_text("$3.00")
    expect(page.locator("#receipt-total")).to_have_text("$28.00")
    expect(page.locator("#receipt-balance")).to_have_text("$25.00")
    expect(page.locator("body")).to_contain_text("card ending 4242")
    expect(page.locator("body")).to_contain_text("Calls to your numbers can connect from")
    page.screenshot(path=str(ARTIFACTS / "advance-connect-receipt.png"), full_page=True)

    page.click("a:has-text('Back to my accounts')")
    account_card = page.locator("article.card").first
    expect(account_card).to_contain_text("Pending activation")
    expect(account_card).to_contain_text("$25.00")
    expect(account_card).to_contain_text("(860) 555-0134 (Home)")

    phone = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{base}/dashboard/")
    phone.screenshot(path=str(ARTIFACTS / "advance-connect-dashboard-phone.png"), full_page=True)

    user = User.objects.get(email="maria@example.com")
    payment = Payment.objects.get(account__holder=user)
    assert (payment.status, payment.amount_cents, payment.fee_cents) == ("succeeded", 2500, 300)
    receipts = [m for m in mail.outbox if "receipt" in m.subject.lower()]
    assert [m.to for m in receipts] == [["maria@example.com"]]


def _logged_in_page(browser, live_server, user):
    client = Client()
    client.force_login(user)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(15000)
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


def _review_and_enter_card(page, live_server, account, number):
    page.goto(f"{live_server.url}/billing/fund/?account={account.pk}")
    page.fill("#id_amount", "20")
    page.click("button:has-text('Review payment')")
    expect(page.locator("#quote-total")).to_have_text("$23.00")
    page.fill("#card-element input[placeholder=number]", number)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "06103")
    page.click("#pay-button")


def test_three_d_secure_card_in_the_browser(browser, live_server, stripe_server, default_fees):
    user = UserFactory()
    account = account_open(holder=user)
    page = _logged_in_page(browser, live_server, user)

    _review_and_enter_card(page, live_server, account, "4000002500003155")
    # The bank's check when the card is saved, then again for the payment itself.
    page.click("button:has-text('Complete authentication')")
    expect(page.locator("h1")).to_have_text("Confirm with your bank")
    page.click("#auth-button")
    page.click("button:has-text('Complete authentication')")

    expect(page.locator("h1")).to_contain_text("Receipt #")
    expect(page.locator("#receipt-balance")).to_have_text("$20.00")
    page.screenshot(path=str(ARTIFACTS / "advance-connect-3ds-receipt-phone.png"), full_page=True)
    assert Payment.objects.get(account=account).status == "succeeded"


def test_declined_card_in_the_browser_shows_the_decline_and_changes_nothing(
    browser, live_server, stripe_server, default_fees
):
    user = UserFactory()
    account = account_open(holder=user)
    page = _logged_in_page(browser, live_server, user)

    _review_and_enter_card(page, live_server, account, "4000000000000341")

    expect(page.locator(".errorlist").first).to_contain_text("Your card was declined.")
    expect(page.locator("h1")).to_have_text("Review and pay")
    page.screenshot(path=str(ARTIFACTS / "advance-connect-declined-phone.png"), full_page=True)
    assert balance_of(account) == 0
    assert Payment.objects.get(account=account).status == "failed"


def test_save_a_card_for_auto_reload_in_the_browser(browser, live_server, stripe_server, default_fees):
    user = UserFactory()
    account = account_open(holder=user)
    intents = stripe_object_count(stripe_server, "setup_intents")
    page = _logged_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/billing/accounts/{account.pk}/alerts/")
    page.reload()
    assert stripe_object_count(stripe_server, "setup_intents") == intents  # looking creates nothing
    page.fill("#id_amount", "20.00")
    page.fill("#id_threshold", "5.00")
    page.fill("#id_monthly_cap", "60.00")
    page.fill("#card-element input[placeholder=number]", "4242424242424242")
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "06103")
    page.click("#pay-button")
    expect(page.locator(".messages")).to_contain_text("Auto-reload is on.")
    page.screenshot(path=str(ARTIFACTS / "advance-connect-auto-reload-saved-phone.png"), full_page=True)
    config = AutoReload.objects.get(account=account)
    assert (config.enabled, config.card_last4, config.monthly_cap_cents) == (True, "4242", 6000)
    assert stripe_object_count(stripe_server, "setup_intents") == intents + 1  # the one the card used
