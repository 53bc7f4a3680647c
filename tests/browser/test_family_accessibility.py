"""Every family page in a real Chromium, checked by axe-core (axe-playwright-python) for WCAG 2.1
A/AA, at desktop 1280×800 and phone 390×844, in English and Spanish, in its error and state
variants: form errors, a suspended account, a negative balance, Direct Bill at its credit limit,
a card payment waiting for 3-D Secure, a family whose calls are free. One browser context per
language, one page reused for every URL and both viewports, so the matrix stays quick."""

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from django.test import Client

from accounts.direct_bill.services import application_submit
from accounts.models import AccountStatus, DirectBillApplication, Language
from accounts.phone_access import phone_pin_check, phone_pin_set
from accounts.services import account_facility_set, account_suspend
from billing.payments import services as payments
from billing.payments.models import FeeSchedule, Payment, PaymentStatus
from billing.statements.models import Statement
from billing.tasks import statements_monthly_run
from calls.models import Facility
from tests.factories import RatePlanFactory, UserFactory
from tests.helpers import (
    ARTIFACTS,
    DECLINED_CARD,
    THREE_DS_CARD,
    Calls,
    add_number,
    browser_confirms_card,
    card_payment,
    make_account,
    ny,
    open_direct_bill,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
# The card field is Stripe's own element (an iframe from Stripe in production; the local stand-in's
# plain inputs here), not FamilyLine's markup.
CONTEXT = {"exclude": [["#card-element"]]}


@pytest.fixture
def default_fees(transactional_db):
    for channel, cents in {"web": 300, "phone_ivr": 300, "phone_agent": 300, "mail": 0}.items():
        FeeSchedule.objects.update_or_create(channel=channel, defaults={"fee_cents": cents})


def _failed_payment(base_url, holder, account):
    setup_id, secret = payments.card_setup_start(holder=holder)
    browser_confirms_card(base_url, secret, DECLINED_CARD)
    with pytest.raises(payments.PaymentError):
        payments.card_payment_create(holder=holder, account=account, amount_cents=1500, setup_intent_id=setup_id)


def _waiting_payment(base_url, holder, account) -> Payment:
    setup_id, secret = payments.card_setup_start(holder=holder)
    browser_confirms_card(base_url, secret, THREE_DS_CARD)
    payment = payments.card_payment_create(holder=holder, account=account, amount_cents=1000, setup_intent_id=setup_id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    return payment


def _family(base_url, language: str) -> dict:
    """One holder with every state a family meets, and the URLs of the pages that show them."""
    holder = UserFactory(
        preferred_language=language,
        address_line1="12 Elm Street",
        city="Hartford",
        state="CT",
        postal_code="06103",
        first_name="Maria",
        last_name="Lopez",
    )
    calls = Calls()
    inmate = calls.inmate
    active = make_account(holder=holder, balance_cents=3000)
    paid = card_payment(base_url, holder, active, 2000)
    _failed_payment(base_url, holder, active)
    waiting = _waiting_payment(base_url, holder, active)
    for minutes in (12, 3):
        calls.complete(number=active.test_number, minutes=minutes)
    # A phone PIN, and a number locked by five wrong ones (the PIN page lists it).
    phone_pin_set(account=active, pin="2468", actor=holder)
    for _try in range(5):
        phone_pin_check(account=active, calling_number="+12025550123", pin="0000")

    suspended = make_account(holder=holder, balance_cents=800)
    negative = make_account(holder=holder, balance_cents=100)
    calls.complete(number=negative.test_number, minutes=10)
    account_suspend(account=suspended, actor=None, reason="Review")

    free_plan = RatePlanFactory(rate_per_minute=Decimal("0"), tax_rate=Decimal("0"), effective_from_date="2022-10-01")
    free = make_account(holder=holder, status=AccountStatus.PENDING_FUNDING)
    account_facility_set(account=free, facility_id=free_plan.facility_id)

    with time_machine.travel(ny(2026, 9, 2, 9, 0), tick=False):
        direct = open_direct_bill(state="AK", holder=holder)
        number = add_number(direct)
    with time_machine.travel(ny(2026, 9, 20, 9, 0), tick=False):
        for _ in range(8):  # 8 x $6.70: past the $50.00 credit limit
            calls.complete(number=number, minutes=30)
    with time_machine.travel(ny(2026, 10, 1, 3, 0), tick=False):
        statements_monthly_run()
    statement = Statement.objects.filter(account=direct).first()
    application = DirectBillApplication.objects.get(account=direct)
    phone = active.phone_numbers.first()
    facility = Facility.objects.get(pk=calls.facility.pk)

    applicant = UserFactory(preferred_language=language, state="NY")
    application_submit(
        applicant=applicant,
        legal_name="Ana Ruiz",
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="3 Main Street",
        city="Albany",
        state="NY",
        postal_code="12207",
        consent=True,
    )
    return {
        "holder": holder,
        "applicant": applicant,
        "facility": facility,
        "inmate": inmate,
        "urls": [
            ("dashboard", "/dashboard/"),
            ("account", f"/accounts/{active.pk}/"),
            ("account suspended", f"/accounts/{suspended.pk}/"),
            ("account negative balance", f"/accounts/{negative.pk}/"),
            ("account free calls", f"/accounts/{free.pk}/"),
            ("account at the credit limit", f"/accounts/{direct.pk}/"),
            ("fund", f"/billing/fund/?account={active.pk}"),
            ("receipt", f"/billing/payments/{paid.pk}/"),
            ("3-D Secure pending", f"/billing/payments/{waiting.pk}/authenticate/"),
            ("history", f"/calls/accounts/{active.pk}/history/"),
            ("history direct bill", f"/calls/accounts/{direct.pk}/history/"),
            ("statements", "/billing/statements/"),
            ("statement", f"/billing/statements/{statement.pk}/"),
            ("statement pay", f"/billing/statements/{statement.pk}/pay/"),
            ("sponsorships", f"/calls/accounts/{active.pk}/sponsorships/"),
            ("profile", "/profile/"),
            ("phone pin", f"/phone/pin/{active.pk}/"),
            ("close", f"/accounts/{active.pk}/close/"),
            ("alerts and auto-reload", f"/billing/accounts/{active.pk}/alerts/"),
            ("number edit", f"/numbers/{phone.pk}/edit/"),
            ("number remove", f"/numbers/{phone.pk}/remove/"),
            ("number texts", f"/texts/numbers/{phone.pk}/"),
            ("direct bill", "/direct-bill/"),
            ("direct bill application", f"/direct-bill/applications/{application.pk}/"),
        ],
        "active": active,
    }


def _login(context, live_server, user):
    client = Client()
    client.force_login(user)
    context.clear_cookies()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


def _check(page, axe, label: str, failures: list):
    results = axe.run(page, context=CONTEXT, options=WCAG)
    for violation in results.response["violations"]:
        targets = [node["target"] for node in violation["nodes"]][:5]
        failures.append(f"{label}: {violation['id']} ({violation['impact']}) {json.dumps(targets)}")


def _error_variants(page, base, family):
    """Pages in their error state, reached the way a person reaches them (a submitted form)."""
    active = family["active"]
    page.goto(f"{base}/accounts/{active.pk}/")
    page.fill("#id_number", "12")
    page.locator("form:has(#id_number) button[type=submit]").click()
    yield "account form errors"
    page.goto(f"{base}/billing/fund/?account={active.pk}")
    page.fill("#id_amount", "1")
    page.locator("form:has(#id_amount) button[type=submit]").click()
    yield "fund form errors"
    page.goto(f"{base}/billing/fund/?account={active.pk}")
    page.fill("#id_amount", "20.00")
    page.locator("form:has(#id_amount) button[type=submit]").click()
    page.wait_for_selector("#quote-total")
    yield "review"
    page.goto(f"{base}/profile/")
    page.fill("#id_postal_code", "12")
    page.locator("form:has(#id_postal_code) button[type=submit]").click()
    yield "profile form errors"
    page.goto(f"{base}/calls/accounts/{active.pk}/sponsorships/")
    page.select_option("#id_facility", str(family["facility"].pk))
    page.fill("#id_inmate_number", "NOPE-1")
    page.locator("form:has(#id_inmate_number) button[type=submit]").click()
    yield "sponsorships form errors"
    page.goto(f"{base}/calls/accounts/{active.pk}/history/?date_from=2026-05-02&date_to=2026-05-01")
    yield "history filter errors"
    page.goto(f"{base}/billing/accounts/{active.pk}/alerts/")
    page.fill("#id_low_balance_threshold", "abc")
    page.locator("form:has(#id_low_balance_threshold) button[type=submit]").click()
    yield "alerts form errors"


@pytest.mark.parametrize("language", [Language.ENGLISH, Language.SPANISH])
def test_every_family_page_has_no_wcag_a_or_aa_violation(chromium, live_server, stripe_server, default_fees, language):
    family = _family(stripe_server, language)
    axe = Axe()
    failures: list[str] = []
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(15000)
    base = live_server.url
    _login(context, live_server, family["holder"])
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, url in family["urls"]:
            response = page.goto(f"{base}{url}")
            assert response.status < 400, (name, url, response.status)
            assert page.locator("html").get_attribute("lang") == language
            _check(page, axe, f"{language} {viewport_name} {name}", failures)
        for name in _error_variants(page, base, family):
            assert page.locator("html").get_attribute("lang") == language
            _check(page, axe, f"{language} {viewport_name} {name}", failures)
    page.screenshot(path=str(ARTIFACTS / f"family-alerts-{language}-phone.png"), full_page=True)
    _login(context, live_server, family["applicant"])
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/direct-bill/")
    _check(page, axe, f"{language} desktop direct bill pending application", failures)
    _login(context, live_server, UserFactory(preferred_language=language))
    for viewport_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{base}/direct-bill/apply/")
        _check(page, axe, f"{language} {viewport_name} direct bill application form", failures)
        page.locator("form button[type=submit]").last.click()
        _check(page, axe, f"{language} {viewport_name} direct bill application form errors", failures)
    context.clear_cookies()
    for path in ("/auth/login/", "/auth/signup/", "/", "/block/"):
        page.goto(f"{base}{path}")
        _check(page, axe, f"{language} phone {path}", failures)
    context.close()
    assert failures == []


def test_history_and_statement_tables_show_every_column_at_1280(chromium, live_server, stripe_server, default_fees):
    family = _family(stripe_server, Language.ENGLISH)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    _login(context, live_server, family["holder"])
    urls = dict(family["urls"])
    for name in ("history", "history direct bill", "statements", "statement", "account", "dashboard"):
        page.goto(f"{live_server.url}{urls[name]}")
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll('.table-wrap')]
                 .filter(box => box.scrollWidth > box.clientWidth + 1)
                 .map(box => box.querySelector('table').id || box.innerText.slice(0, 40))"""
        )
        assert overflowing == [], (name, overflowing)
        # Every header cell is inside the visible box.
        hidden = page.evaluate(
            """() => [...document.querySelectorAll('.table-wrap th')].filter(th => {
                 const box = th.closest('.table-wrap').getBoundingClientRect();
                 const cell = th.getBoundingClientRect();
                 return cell.right > box.right + 1 || cell.left < box.left - 1;
               }).map(th => th.innerText)"""
        )
        assert hidden == [], (name, hidden)
    page.goto(f"{live_server.url}{urls['history']}")
    page.screenshot(path=str(ARTIFACTS / "family-history-1280.png"), full_page=True)
    context.close()
