"""Who is calling: caller ID finds the account, the phone PIN proves the caller; five wrong PINs
lock that calling number (only that one) for 30 minutes and email the holder; a withheld or
unregistered caller keys in a number first; caller ID alone never reveals a balance."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import phone_access, tasks
from accounts.models import AccountEvent, PhoneLock, PhonePin, PhoneSession, User
from tests.factories import UserFactory
from tests.helpers import add_number, make_account

from .conftest import BASE

pytestmark = pytest.mark.django_db


def test_the_pin_is_stored_hashed_and_must_be_4_to_8_digits(holder):
    account = make_account(holder=holder)
    for bad in ["123", "123456789", "12a4", "", "1111", "1234"]:
        with pytest.raises(phone_access.PhoneAccessError):
            phone_access.phone_pin_set(account=account, pin=bad, actor=holder)
    phone_access.phone_pin_set(account=account, pin="270514", actor=holder)
    stored = PhonePin.objects.get(account=account)
    assert "270514" not in stored.pin_hash
    assert check_password("270514", stored.pin_hash)
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.PHONE_PIN_SET)
    assert "270514" not in str(event.data) + event.reason


def test_caller_id_alone_reveals_nothing(phone_call, with_pin):
    account = make_account(balance_cents=4321)
    with_pin(account)
    caller = phone_call(account.test_number)
    welcome = caller.dial()
    asked = caller.wait(welcome)
    assert "PIN" in asked.text
    assert "forty-three" not in asked.text
    # Jumping straight to the menu (a forged step of a real call) starts over from the welcome.
    menu = caller.post(BASE + reverse("phone:voice_menu"))
    assert menu.redirect.endswith(reverse("phone:voice_incoming"))
    balance = caller.post(BASE + reverse("phone:voice_choice") + "?menu=main", Digits="1")
    assert "forty-three" not in balance.text
    assert "balance" not in balance.text.lower()


def test_the_right_pin_opens_the_menu(phone_call, with_pin):
    account = make_account(balance_cents=4321)
    pin = with_pin(account)
    menu = phone_call(account.test_number).sign_in(pin)
    assert "For your balance and minutes, press 1." in menu.text
    assert "To speak with an agent, press 0." in menu.text


def test_five_wrong_pins_lock_that_number_for_30_minutes_and_email_the_holder(
    phone_call, with_pin, django_capture_on_commit_callbacks
):
    account = make_account(balance_cents=2500)
    other_number = add_number(account)
    pin = with_pin(account)
    caller = phone_call(account.test_number)
    asked = caller.wait(caller.dial())
    with django_capture_on_commit_callbacks(execute=True):
        for _try in range(4):
            asked = caller.press(asked, "9999")
            assert "That PIN is not right" in asked.text
        locked = caller.press(asked, "9999")
    assert "locked for thirty minutes" in locked.text
    assert locked.first("Hangup") is not None
    lock = PhoneLock.objects.get(account=account, calling_number=account.test_number)
    assert timedelta(minutes=29) < lock.locked_until - timezone.now() <= timedelta(minutes=30)
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.PHONE_LOCKED).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [account.holder.email]
    assert "five times" in mail.outbox[0].body
    assert "(860) 200-" in mail.outbox[0].body  # the calling number, as people write it
    assert reverse("phone:pin", args=[account.pk]) in mail.outbox[0].body

    # The right PIN from the locked number does not open the menu: the lock holds.
    again = phone_call(account.test_number)
    refused = again.wait(again.dial())
    assert "locked" in refused.text
    assert (
        phone_access.phone_pin_check(account=account, calling_number=account.test_number, pin=pin)
        == phone_access.PinCheck.LOCKED
    )

    # Another number of the same account is not locked.
    menu = phone_call(other_number).sign_in(pin)
    assert "For your balance and minutes, press 1." in menu.text

    # Thirty minutes later the number works again.
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        later = phone_call(account.test_number).sign_in(pin)
        assert "For your balance and minutes, press 1." in later.text


def test_wrong_pins_on_separate_calls_add_up(phone_call, with_pin):
    account = make_account(balance_cents=2500)
    with_pin(account)
    for _call in range(5):
        caller = phone_call(account.test_number)
        last = caller.press(caller.wait(caller.dial()), "0000")
    assert "locked" in last.text


def test_a_right_pin_resets_the_count(phone_call, with_pin):
    account = make_account(balance_cents=2500)
    pin = with_pin(account)
    caller = phone_call(account.test_number)
    asked = caller.wait(caller.dial())
    for _try in range(4):
        asked = caller.press(asked, "0000")
    caller.press(asked, pin)
    assert PhoneLock.objects.get(account=account).failures == 0


def test_a_withheld_caller_keys_in_a_number_then_the_pin(phone_call, with_pin):
    account = make_account(balance_cents=1250, number="+18605550134")
    pin = with_pin(account)
    caller = phone_call("anonymous")
    asked = caller.wait(caller.dial())
    assert "ten-digit phone number" in asked.text
    unknown = caller.press(asked, "2025550123")
    assert "could not find that number" in unknown.text
    pin_asked = caller.press(unknown, "8605550134")
    assert "PIN" in pin_asked.text
    menu = caller.press(pin_asked, pin)
    balance = caller.press(menu, "1")
    assert "Your balance is twelve dollars and fifty cents." in balance.text


def test_withheld_wrong_pins_lock_withheld_callers_not_the_family(
    phone_call, with_pin, django_capture_on_commit_callbacks
):
    account = make_account(balance_cents=1250, number="+18605550134", language="es")
    pin = with_pin(account)
    caller = phone_call("anonymous")
    asked = caller.press(caller.wait(caller.dial()), "8605550134")
    with django_capture_on_commit_callbacks(execute=True):
        for _try in range(5):
            asked = caller.press(asked, "0000")
    assert "locked" in asked.text  # an unknown caller is answered in English unless they press 2
    # The holder reads who tried in their own language.
    assert "una persona que llamó con el número oculto" in mail.outbox[0].body
    assert PhoneLock.objects.get(account=account).calling_number == phone_access.WITHHELD
    menu = phone_call("+18605550134").sign_in(pin)
    assert "oprima 1" in menu.text  # the family's own number: greeted in the holder's Spanish


def test_a_caller_without_a_pin_hears_how_to_set_one(phone_call):
    account = make_account(balance_cents=1250)
    caller = phone_call(account.test_number)
    told = caller.wait(caller.dial())
    assert "no phone PIN yet" in told.text
    assert "Phone PIN" in told.text
    assert "twelve" not in told.text


def test_the_holder_unlocks_and_resets_on_the_web(client, phone_call, with_pin):
    account = make_account(balance_cents=1250)
    with_pin(account)
    caller = phone_call(account.test_number)
    asked = caller.wait(caller.dial())
    for _try in range(5):
        asked = caller.press(asked, "0000")
    client.force_login(account.holder)
    page = client.get(reverse("phone:pin", args=[account.pk]))
    assert page.status_code == 200
    assert account.test_number in page.content.decode()
    client.post(reverse("phone:pin", args=[account.pk]), {"action": "unlock"})
    assert not phone_access.phone_locks_active(account=account)
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.PHONE_UNLOCKED).exists()

    refused = client.post(
        reverse("phone:pin", args=[account.pk]), {"action": "set", "pin": "4812", "pin_again": "4813"}
    )
    assert refused.status_code == 400
    client.post(reverse("phone:pin", args=[account.pk]), {"action": "set", "pin": "4812", "pin_again": "4812"})
    menu = phone_call(account.test_number).sign_in("4812")
    assert "press 1" in menu.text


def test_a_holder_cannot_open_another_holders_pin_page(client):
    account = make_account(balance_cents=1250)
    client.force_login(UserFactory())
    assert client.get(reverse("phone:pin", args=[account.pk])).status_code == 404


def test_an_agent_resets_the_pin_in_the_admin_and_the_holder_is_emailed(
    client, staff, phone_call, with_pin, django_capture_on_commit_callbacks
):
    account = make_account(balance_cents=1250)
    with_pin(account)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_callingaccount_changelist"),
            {
                "action": "reset_phone_pin",
                "_selected_action": [account.pk],
                "apply": "1",
                "reason": "Holder called, verified by address and last payment",
            },
        )
    assert response.status_code == 302
    assert not PhonePin.objects.filter(account=account).exists()
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.PHONE_PIN_RESET)
    assert event.actor == staff and "verified" in event.reason
    assert [m.to for m in mail.outbox] == [[account.holder.email]]
    assert "reset the phone PIN" in mail.outbox[0].body
    told = phone_call(account.test_number)
    assert "no phone PIN yet" in told.wait(told.dial()).text


def test_spanish_chosen_on_the_phone_is_remembered_for_the_holder(phone_call, with_pin):
    account = make_account(balance_cents=1250, language="en")
    pin = with_pin(account)
    menu = phone_call(account.test_number).sign_in(pin, language_key="2")
    assert "Para su saldo" in menu.text
    assert User.objects.get(pk=account.holder.pk).preferred_language == "es"
    welcome = phone_call(account.test_number).dial()
    assert welcome.says[0] == ("Bienvenido a FamilyLine.", "es-MX")
    assert ("For English, press 1.", "en-US") in welcome.says


def test_sessions_of_finished_calls_are_forgotten(phone_call, with_pin):
    account = make_account(balance_cents=1250)
    with_pin(account)
    caller = phone_call(account.test_number)
    caller.dial()
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        new_call = phone_call(account.test_number)
        new_call.dial()
        assert tasks.phone_sessions_forget() == 1
    assert list(PhoneSession.objects.values_list("call_sid", flat=True)) == [new_call.call_sid]
