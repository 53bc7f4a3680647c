"""The `make run` phone page in a real Chromium: a staff member "calls" the voice menu as a family's
number, keys in the PIN on the page's keypad, hears the balance and minutes, pays $20 by phone with
the test card that works, then tries the declined one; and plays a single call, from a demo offer to
the call allowed. The page signs each step as Twilio does and
creates the cards' PaymentMethods at localstripe itself: no card digits are typed or posted."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from accounts.phone_access import phone_pin_set
from accounts.services import account_facility_set
from billing.payments.models import Channel, FeeSchedule, Payment, PaymentStatus
from calls.models import SingleCall
from tests.factories import UserFactory
from tests.helpers import ARTIFACTS, Calls, authorize, balance_of, make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def default_fees(transactional_db):
    for channel, cents in {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}.items():
        FeeSchedule.objects.update_or_create(channel=channel, defaults={"fee_cents": cents})


def _press(page, keys: str) -> None:
    names = {"*": "star", "#": "pound"}
    for key in keys:
        page.click(f"#key-{names.get(key, key)}")


def test_the_phone_page_plays_balance_a_phone_payment_and_a_decline(chromium, live_server, stripe_server, default_fees):
    calls = Calls()
    account = make_account(balance_cents=1250, number="+18605550134")
    account_facility_set(account=account, facility_id=calls.facility.pk)
    phone_pin_set(account=account, pin="2468", actor=account.holder)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)

    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{live_server.url}/phone/try/")
    page.select_option("#id_number", "+18605550134")
    page.click("#call-button")
    heard = page.locator("#heard")
    expect(heard).to_contain_text("Welcome to FamilyLine.")
    expect(heard).to_contain_text("Para español, oprima 2.")

    page.click("#wait-button")
    expect(heard).to_contain_text("Please enter your phone PIN, then press pound.")
    _press(page, "2468#")
    expect(heard).to_contain_text("For your balance and minutes, press 1.")

    _press(page, "1")
    expect(heard).to_contain_text("Your balance is twelve dollars and fifty cents.")
    expect(heard).to_contain_text(f"That is about 55 minutes of calls from {calls.facility.name}.")
    page.screenshot(path=str(ARTIFACTS / "phone-1-balance.png"), full_page=True)

    # Pound goes back to the main menu; 3 adds money.
    _press(page, "#")
    _press(page, "3")
    expect(heard).to_contain_text("Enter the amount to add in whole dollars")
    _press(page, "20#")
    expect(heard).to_contain_text(
        "The processing fee is three dollars, so your card will be charged twenty-three dollars."
    )
    assert not Payment.objects.exists()
    _press(page, "1")
    expect(page.locator("#card-ok")).to_be_visible()
    # Cards are offered by name only: nothing on the page takes card digits.
    expect(page.locator("input:not([type=hidden])")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "phone-2-card-entry.png"), full_page=True)
    page.click("#card-ok")
    expect(heard).to_contain_text("was charged twenty-three dollars")
    expect(heard).to_contain_text("Your balance is now thirty-two dollars and fifty cents.")

    # The menu comes back after the payment: a second payment with the card that is declined.
    _press(page, "3")
    _press(page, "20#")
    _press(page, "1")
    page.click("#card-declined")
    expect(heard).to_contain_text("Your card was declined. Nothing was charged.")
    page.screenshot(path=str(ARTIFACTS / "phone-3-declined.png"), full_page=True)
    page.click("#hangup-button")
    expect(page.locator("#call-button")).to_be_visible()
    context.close()

    paid = Payment.objects.get(status=PaymentStatus.SUCCEEDED)
    assert (paid.channel, paid.amount_cents, paid.fee_cents) == (Channel.PHONE_IVR, 2000, 300)
    assert Payment.objects.get(status=PaymentStatus.FAILED).channel == Channel.PHONE_IVR
    assert balance_of(account) == 3250
    call_command("ledger_check", stdout=StringIO())


def test_the_phone_page_is_for_staff_when_debug_is_off(client, db):
    assert client.get("/phone/try/").status_code == 404
    client.force_login(UserFactory())
    assert client.get("/phone/try/").status_code == 404
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/phone/try/").status_code == 200


def test_the_phone_page_plays_a_single_call_from_the_offer_to_the_allowed_call(chromium, live_server, stripe_server):
    calls = Calls()
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{live_server.url}/phone/try/")

    # The demo offer is made the way the platform gets one: authorize refuses a number on no account.
    page.click("#offer-button")
    expect(page.locator("#offer")).to_contain_text(calls.inmate.full_name)
    offer = SingleCall.objects.get()
    expect(page.locator("#offer-code")).to_have_text(offer.code)
    expect(page.locator("#id_code")).to_have_value(offer.code)

    page.click("#single-call-button")
    heard = page.locator("#heard")
    expect(heard).to_contain_text(f"the platform sends the code {offer.code} as tones")
    expect(heard).to_contain_text(f"{calls.inmate.full_name} at {calls.facility.name} is calling you.")
    expect(heard).to_contain_text(
        "One call of up to 30 minutes at twenty-one cents a minute is six dollars and thirty cents, "
        "plus forty cents tax."
    )
    expect(heard).to_contain_text("Your card will be charged six dollars and seventy cents. There is no fee.")
    page.screenshot(path=str(ARTIFACTS / "phone-4-single-call-price.png"), full_page=True)
    _press(page, "1")
    page.click("#card-ok")
    expect(heard).to_contain_text("was charged six dollars and seventy cents")
    expect(heard).to_contain_text("the call will be put through")
    page.screenshot(path=str(ARTIFACTS / "phone-5-single-call-paid.png"), full_page=True)
    context.close()

    [payment] = Payment.objects.all()
    assert (payment.status, payment.amount_cents, payment.fee_cents) == (PaymentStatus.SUCCEEDED, 670, 0)
    allowed = authorize(calls.facility, calls.inmate, offer.dialed_number.as_e164, cid=offer.call_id)
    assert (allowed.decision, allowed.billing) == ("allow", "single_call")
    call_command("ledger_check", stdout=StringIO())
