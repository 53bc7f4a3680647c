"""The card step in a real Chromium, in Spanish: when the bank's 3-D Secure check of the card fails,
the holder reads why in Spanish (Stripe's own message is English), and nothing is charged."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Language
from accounts.services import account_open
from billing.payments.models import FeeSchedule, Payment
from tests.factories import UserFactory
from tests.helpers import ARTIFACTS, THREE_DS_CARD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_fees(transactional_db):
    """The schedule the migration seeds (an earlier transactional test's flush removes it)."""
    for channel, cents in {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}.items():
        FeeSchedule.objects.update_or_create(channel=channel, defaults={"fee_cents": cents})


def test_a_failed_bank_check_of_the_card_is_told_in_spanish(chromium, live_server, stripe_server, default_fees):
    holder = UserFactory(preferred_language=Language.SPANISH)
    account = account_open(holder=holder)
    client = Client()
    client.force_login(holder)
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(15000)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])

    page.goto(f"{live_server.url}/billing/fund/?account={account.pk}")
    page.fill("#id_amount", "20")
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Revisar y pagar")
    page.fill("#card-element input[placeholder=number]", THREE_DS_CARD)
    page.fill("#card-element input[placeholder=exp_month]", "12")
    page.fill("#card-element input[placeholder=exp_year]", "34")
    page.fill("#card-element input[placeholder=cvc]", "123")
    page.fill("#card-element input[placeholder=postal_code]", "06103")
    page.click("#pay-button")
    page.click("button:has-text('Fail authentication')")  # the bank's check, answered "no"

    errors = page.locator("#card-errors")
    expect(errors).to_have_text(
        "Su banco no confirmó la tarjeta. No se cobró nada; puede intentarlo de nuevo o usar otra tarjeta."
    )
    expect(page.locator("#pay-button")).to_be_enabled()
    page.screenshot(path=str(ARTIFACTS / "card-step-3ds-failed-es-phone.png"), full_page=True)
    assert not Payment.objects.filter(account=account).exists()
