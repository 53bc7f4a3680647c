"""The voice menu once the caller proved the PIN: balance and minutes (the call path's own price
rule), Direct Bill amount owed and due date, the last three calls, the rates, an agent; 0 and * in
every menu; silence ends the call politely; amounts said as money in English and Spanish."""

from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from accounts.phone.menu import MENUS, Menu, info
from accounts.services import account_facility_set, account_suspend
from billing.statements import periods
from billing.statements import services as statements
from calls.rating import minutes_covered
from tests.helpers import add_number, make_account, ny, open_direct_bill

from .conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(calls, with_pin):
    """An AdvanceConnect account with $12.50, called from the suite's facility ($0.21/min + 6.35%)."""
    account = make_account(balance_cents=1250)
    account_facility_set(account=account, facility_id=calls.facility.pk)
    account.pin = with_pin(account)
    return account


def test_balance_and_minutes_in_english(family, calls, phone_call):
    expected = minutes_covered(
        available_cents=1250, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635"), cap_minutes=10**6
    )
    assert expected == 55
    caller = phone_call(family.test_number)
    said = caller.press(caller.sign_in(family.pin), "1")
    assert "Your balance is twelve dollars and fifty cents." in said.text
    assert f"That is about 55 minutes of calls from {calls.facility.name}." in said.text
    assert {language for _text, language in said.says} == {"en-US"}


def test_balance_and_minutes_in_spanish(family, calls, phone_call):
    caller = phone_call(family.test_number)
    said = caller.press(caller.sign_in(family.pin, language_key="2"), "1")
    assert "Su saldo es de doce dólares con cincuenta centavos." in said.text
    assert f"Eso alcanza para unos 55 minutos de llamadas desde {calls.facility.name}." in said.text
    assert {language for _text, language in said.says} == {"es-MX"}


def test_a_negative_balance_is_said_as_owed(calls, phone_call, with_pin):
    account = make_account(balance_cents=0)
    pin = with_pin(account)
    calls.complete(number=account.test_number, minutes=3)
    caller = phone_call(account.test_number)
    said = caller.press(caller.sign_in(pin), "1")
    assert "Your account owes sixty-seven cents." in said.text


def test_the_last_three_calls(family, calls, phone_call):
    for day, minutes in [(1, 2), (2, 3), (3, 4), (4, 5)]:
        calls.complete(number=family.test_number, minutes=minutes, started_at=ny(2026, 11, day, 14, 15))
    caller = phone_call(family.test_number)
    said = caller.press(caller.sign_in(family.pin), "2")
    assert "November 4 at 2:15 PM" in said.text
    assert "5 minutes, one dollar and twelve cents." in said.text
    assert "November 2 at 2:15 PM" in said.text
    assert "November 1" not in said.text
    assert calls.inmate.full_name in said.text


def test_the_rates(family, calls, phone_call):
    caller = phone_call(family.test_number)
    said = caller.press(caller.sign_in(family.pin), "4")
    assert f"At {calls.facility.name}, calls cost twenty-one cents a minute, plus 6.35 percent tax." in said.text


def test_star_repeats_an_answer_and_the_menu(family, phone_call):
    caller = phone_call(family.test_number)
    menu = caller.sign_in(family.pin)
    again = caller.press(menu, "*")
    assert "For your balance and minutes, press 1." in again.text
    balance = caller.press(menu, "1")
    assert "press star" in balance.text
    repeated = caller.press(balance, "*")
    assert "Your balance is twelve dollars and fifty cents." in repeated.text


def test_silence_times_out_gracefully(family, phone_call):
    caller = phone_call(family.test_number)
    answer = caller.sign_in(family.pin)
    for _silence in range(3):
        answer = caller.wait(answer)
    assert "Goodbye" in answer.text
    assert answer.first("Hangup") is not None


def test_an_unknown_key_says_so_and_repeats_the_menu(family, phone_call):
    caller = phone_call(family.test_number)
    said = caller.press(caller.sign_in(family.pin), "7")
    assert "not one of the choices" in said.text
    assert "press 1" in said.text


def test_zero_reaches_an_agent_in_office_hours(family, phone_call, settings):
    settings.PHONE_AGENT_NUMBER = "+18605550111"
    caller = phone_call(family.test_number)
    with time_machine.travel(ny(2026, 12, 7, 10, 0), tick=False):
        menu = caller.sign_in(family.pin)
        connected = caller.press(menu, "0")
    assert connected.first("Dial").text == "+18605550111"


def test_out_of_hours_the_hours_are_read(family, phone_call, settings):
    settings.PHONE_AGENT_NUMBER = "+18605550111"
    caller = phone_call(family.test_number)
    with time_machine.travel(ny(2026, 12, 7, 22, 0), tick=False):
        said = caller.press(caller.sign_in(family.pin), "0")
    assert said.first("Dial") is None
    assert "from 8:00 AM to 8:00 PM, Eastern time" in said.text


def test_zero_reaches_the_agent_from_the_welcome_and_from_an_answer(family, phone_call, settings):
    settings.PHONE_AGENT_NUMBER = "+18605550111"
    with time_machine.travel(ny(2026, 12, 7, 10, 0), tick=False):
        caller = phone_call(family.test_number)
        assert caller.press(caller.dial(), "0").first("Dial") is not None
        balance = caller.press(caller.sign_in(family.pin), "1")
        assert caller.press(balance, "0").first("Dial") is not None


def test_direct_bill_amount_owed_and_due_date(calls, phone_call, with_pin):
    number = "+18605550177"
    with time_machine.travel(ny(2026, 10, 1, 9, 0)):
        account = open_direct_bill()
        add_number(account, number)
        pin = with_pin(account)
    with time_machine.travel(ny(2026, 10, 5, 10, 30)):
        calls.complete(number=number, minutes=10, started_at=ny(2026, 10, 5, 10, 0))
    statement, _created = statements.statement_generate(
        account=account, period=periods.month_period(ny(2026, 10, 5).date())
    )
    caller = phone_call(number)
    menu = caller.sign_in(pin)
    assert "For the amount you owe and the due date, press 1." in menu.text
    assert "To pay now with a card, press 3." in menu.text
    said = caller.press(menu, "1")
    assert "You owe two dollars and twenty-three cents." in said.text
    assert f"two dollars and twenty-three cents by {statement.due_date:%B} {statement.due_date.day}" in said.text


def test_the_menu_offers_no_payment_on_an_account_suspended_by_staff(family, phone_call, staff):
    account_suspend(account=family, actor=staff, reason="fraud review")
    caller = phone_call(family.test_number)
    menu = caller.sign_in(family.pin)
    assert "press 3" not in menu.text
    assert "not one of the choices" in caller.press(menu, "3").text


def test_a_stale_or_unknown_call_starts_over(phone_call):
    caller = phone_call("+18605550999")
    answer = caller.post(BASE + reverse("phone:voice_pin"), Digits="1234")
    assert answer.redirect.endswith(reverse("phone:voice_incoming"))


def test_a_menu_is_data_another_menu_or_option_plugs_in(phone_call):
    """A menu added by another module (here one heard without a PIN) is played, dispatched and
    repeated by the same webhooks, with 0 and * handled for it."""
    extra = Menu("extra-for-test", requires_pin=False)

    @extra.option("5", offer=lambda account: "To hear a test answer, press 5.")
    def test_answer(call):
        return info(call, "5", "This is the test answer.", menu=extra)

    try:
        caller = phone_call("+12025550123")
        caller.dial()
        menu = caller.post(BASE + reverse("phone:voice_menu") + "?menu=extra-for-test")
        assert "To hear a test answer, press 5. To speak with an agent, press 0." in menu.text
        answer = caller.press(menu, "5")
        assert "This is the test answer." in answer.text
        assert "This is the test answer." in caller.press(answer, "*").text
        assert "not one of the choices" in caller.press(menu, "4").text
        with pytest.raises(ValueError):
            extra.option("0", offer=lambda account: "")
        # The main menu still needs the PIN.
        main = caller.post(BASE + reverse("phone:voice_menu"))
        assert main.redirect.endswith(reverse("phone:voice_incoming"))
    finally:
        MENUS.pop("extra-for-test")
