"""The voice menu for the person a facility calls, with no account or PIN: blocking (or unblocking)
calls to their own number after proving it with a code sent to it, and paying for a single call with
the code the phone platform gave them (who is calling, the price with no fee, then <Pay>)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.texts import backends
from billing.ledger.models import SystemAccount
from billing.payments.models import Payment, PaymentStatus
from billing.payments.selectors import ledger_violations
from calls.callpath.errors import DenyReason
from calls.models import BlockedNumber, SingleCall, SingleCallStatus
from tests.helpers import DECLINED_CARD, OK_CARD, THREE_DS_CARD, authorize, complete, next_number, system_posted

from .conftest import BASE, twilio_tokenizes_card

pytestmark = pytest.mark.django_db

# The fixture facility: $0.21/min + 6.35 % tax, 15-minute calls: $3.15 + $0.20 tax.
FULL_PRICE = 315 + 20


def _texted_code(number: str) -> str:
    [body] = [m.body for m in backends.outbox if m.to == number][-1:]
    return re.search(r"\b(\d{6})\b", body).group(1)


def _to_block_channel(caller, action_key: str):
    """Welcome → 8 → block (1) or unblock (2): the question of how the code should come."""
    welcome = caller.dial()
    assert "To block or unblock calls to your phone number, press 8." in welcome.text
    block_menu = caller.post(caller.press(welcome, "8").redirect)
    assert "To block calls to your number, press 1." in block_menu.text
    return caller.press(block_menu, action_key)


def _ledger_clean():
    assert ledger_violations() == []
    call_command("ledger_check", stdout=StringIO())


# --- blocking ----------------------------------------------------------------------------------------


def test_a_caller_blocks_their_number_with_a_texted_code_and_no_pin(phone_call, facility, inmate):
    number = next_number()  # on no account: the called person is often not a holder
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_NOT_REGISTERED
    caller = phone_call(number)
    channel = _to_block_channel(caller, "1")
    assert "To get the code by text message, press 1." in channel.text
    assert not BlockedNumber.objects.exists()  # caller ID alone is not proof

    asked = caller.press(channel, "1")
    assert "We sent a text message with a six-digit code." in asked.text
    done = caller.press(asked, _texted_code(number))
    assert "are now blocked" in done.text

    block = BlockedNumber.objects.get(number=number, lifted_at=None)
    assert (block.source, block.proven_by, block.facility) == ("self", "sms", None)
    result = authorize(facility, inmate, number)
    assert (result.decision, result.reason) == ("deny", DenyReason.NUMBER_BLOCKED)


def test_a_landline_gets_the_code_by_a_voice_call_and_keys_it_in_on_a_second_call(
    phone_call, facility, inmate, twilio_api
):
    number = next_number()
    first = phone_call(number)
    ends = first.press(_to_block_channel(first, "1"), "2")
    assert "We are hanging up and calling" in ends.text
    assert ends.first("Hangup") is not None
    [placed] = twilio_api.calls()
    assert placed["To"] == number and twilio_api.messages() == []
    code = re.search(r"is (\d), (\d), (\d), (\d), (\d), (\d)\.", placed["Twiml"]).expand(r"\1\2\3\4\5\6")

    second = phone_call(number)
    asked = second.press(_to_block_channel(second, "1"), "3")  # "I already have a code"
    done = second.press(asked, code)
    assert "are now blocked" in done.text
    assert BlockedNumber.objects.get(number=number).proven_by == "voice"
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_BLOCKED


def test_a_wrong_code_blocks_nothing(phone_call, facility, inmate):
    number = next_number()
    caller = phone_call(number)
    asked = caller.press(_to_block_channel(caller, "1"), "1")
    right = _texted_code(number)
    wrong = "000000" if right != "000000" else "111111"
    again = caller.press(asked, wrong)
    assert "This code is not right" in again.text
    assert "Please enter the six-digit code." in again.text
    assert not BlockedNumber.objects.exists()
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_NOT_REGISTERED


def test_a_withheld_caller_keys_in_the_number_then_unblocks_it(phone_call, facility, inmate):
    number = next_number()
    caller = phone_call(number)
    caller.press(caller.press(_to_block_channel(caller, "1"), "1"), _texted_code(number))
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_BLOCKED

    anonymous = phone_call("anonymous")
    asked_number = _to_block_channel(anonymous, "2")
    assert "Please enter the ten-digit phone number" in asked_number.text
    channel = anonymous.press(asked_number, number[2:])
    done = anonymous.press(anonymous.press(channel, "1"), _texted_code(number))
    assert "is lifted" in done.text
    block = BlockedNumber.objects.get(number=number)
    assert block.lifted_at is not None and block.lifted_proven_by == "sms"
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_NOT_REGISTERED


def test_the_block_menu_is_in_spanish_after_pressing_2(phone_call):
    caller = phone_call(next_number())
    welcome = caller.dial()
    spanish = caller.press(welcome, "2")  # the language; the PIN question for an unknown caller follows
    assert spanish is not None
    block_menu = caller.post(caller.post(welcome.gather_action, Digits="8").redirect)
    assert "Para bloquear las llamadas a su número, oprima 1." in block_menu.text, block_menu.text


def test_codes_asked_for_from_one_call_are_limited(phone_call):
    caller = phone_call(next_number())
    channel = _to_block_channel(caller, "1")
    for _ in range(3):
        caller.press(channel, "1")
    refused = caller.press(channel, "1")
    assert "Too many codes were asked for from this phone" in refused.text
    assert len(backends.outbox) == 3


# --- the single call ---------------------------------------------------------------------------------


def _offer(facility, inmate, cid: str):
    number = next_number()
    answer = authorize(facility, inmate, number, cid=cid)
    assert (answer.decision, answer.reason) == ("deny", DenyReason.NUMBER_NOT_REGISTERED)
    return number, answer.single_call


def _transferred(phone_call, number: str):
    """The platform transfers the called person straight to the single-call entry."""
    caller = phone_call(number)
    return caller, caller.post(BASE + reverse("phone:voice_single_call"))


def test_a_single_call_code_says_who_and_the_price_then_4242_pays_and_the_call_is_allowed(
    phone_call, facility, inmate, stripe_server
):
    number, offer = _offer(facility, inmate, "sc-phone-1")
    caller, asked = _transferred(phone_call, number)
    assert "Please enter your six-digit single-call code." in asked.text
    price = caller.press(asked, offer["code"])  # sent as tones by the platform
    assert f"John Roe at {facility.name} is calling you." in price.text
    assert (
        "One call of up to 15 minutes at twenty-one cents a minute is three dollars and fifteen cents, "
        "plus twenty cents tax." in price.text
    )
    assert "Your card will be charged three dollars and thirty-five cents. There is no fee." in price.text
    assert not Payment.objects.exists()

    card_entry = caller.press(price, "1")
    pay = card_entry.first("Pay")
    assert (pay.get("tokenType"), pay.get("input")) == ("payment-method", "dtmf")
    token = twilio_tokenizes_card(stripe_server, OK_CARD)
    paid = caller.post(pay.get("action"), Result="success", PaymentToken=token)
    assert "Your card ending in 4 2 4 2 was charged three dollars and thirty-five cents." in paid.text
    [payment] = Payment.objects.all()
    assert (payment.status, payment.amount_cents, payment.fee_cents, payment.account_id) == (
        PaymentStatus.SUCCEEDED,
        FULL_PRICE,
        0,
        None,
    )
    assert system_posted(SystemAccount.SINGLE_CALLS) == FULL_PRICE

    # A repeated <Pay> callback (same call, same token) charges nothing more.
    again = caller.post(pay.get("action"), Result="success", PaymentToken=token)
    assert "was charged" in again.text
    assert Payment.objects.count() == 1 and system_posted(SystemAccount.SINGLE_CALLS) == FULL_PRICE

    allowed = authorize(facility, inmate, number, cid="sc-phone-1")
    assert (allowed.decision, allowed.billing, allowed.max_seconds) == ("allow", "single_call", 15 * 60)
    done = complete(facility, inmate, number, seconds=15 * 60, cid="sc-phone-1")
    assert done.charge_cents == 315
    assert SingleCall.objects.get().status == SingleCallStatus.COMPLETED
    _ledger_clean()


def test_the_single_call_from_the_welcome_menu_in_spanish(phone_call, facility, inmate, stripe_server):
    number, offer = _offer(facility, inmate, "sc-phone-es")
    caller = phone_call(number)
    welcome = caller.dial()
    assert "If you have a single-call code, press 9." in welcome.text
    caller.press(welcome, "2")
    asked = caller.post(caller.post(welcome.gather_action, Digits="9").redirect)
    assert "Marque su código de llamada única de seis dígitos." in asked.text, asked.text
    price = caller.press(asked, offer["code"])
    assert "No hay cargo por servicio." in price.text, price.text
    assert "tres dólares con treinta y cinco centavos" in price.text


def test_a_declined_card_charges_nothing_and_another_card_may_be_tried(phone_call, facility, inmate, stripe_server):
    number, offer = _offer(facility, inmate, "sc-phone-2")
    caller, asked = _transferred(phone_call, number)
    pay = caller.press(caller.press(asked, offer["code"]), "1").first("Pay")
    declined = caller.post(
        pay.get("action"), Result="success", PaymentToken=twilio_tokenizes_card(stripe_server, DECLINED_CARD)
    )
    assert "Your card was declined. Nothing was charged." in declined.text
    assert "To try another card, press 1." in declined.text
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    assert not Payment.objects.filter(status=PaymentStatus.SUCCEEDED).exists()
    assert authorize(facility, inmate, number, cid="sc-phone-2").decision == "deny"

    retry = caller.press(declined, "1").first("Pay")
    token = twilio_tokenizes_card(stripe_server, OK_CARD)
    paid = caller.post(retry.get("action"), Result="success", PaymentToken=token)
    assert "was charged three dollars and thirty-five cents" in paid.text
    _ledger_clean()


def test_a_card_asking_for_3d_secure_is_not_charged_and_the_caller_is_told_what_to_do(
    phone_call, facility, inmate, stripe_server
):
    number, offer = _offer(facility, inmate, "sc-phone-3")
    caller, asked = _transferred(phone_call, number)
    pay = caller.press(caller.press(asked, offer["code"]), "1").first("Pay")
    answer = caller.post(
        pay.get("action"), Result="success", PaymentToken=twilio_tokenizes_card(stripe_server, THREE_DS_CARD)
    )
    assert "Please pay with an agent or another card." in answer.text
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    _ledger_clean()


def test_an_expired_offer_is_not_paid(phone_call, facility, inmate, stripe_server):
    number, offer = _offer(facility, inmate, "sc-phone-4")
    caller, asked = _transferred(phone_call, number)
    pay = caller.press(caller.press(asked, offer["code"]), "1").first("Pay")
    SingleCall.objects.update(status=SingleCallStatus.EXPIRED)
    token = twilio_tokenizes_card(stripe_server, OK_CARD)
    answer = caller.post(pay.get("action"), Result="success", PaymentToken=token)
    assert "This single-call offer has expired. Nothing was charged." in answer.text
    assert not Payment.objects.exists()


def test_wrong_codes_are_limited_per_call_and_per_calling_number(phone_call, facility, inmate):
    number, offer = _offer(facility, inmate, "sc-phone-5")
    wrong = "000000" if offer["code"] != "000000" else "111111"
    caller, asked = _transferred(phone_call, number)
    first = caller.press(asked, wrong)
    assert "That code is not right, or it has expired." in first.text
    second = caller.press(first, wrong)
    third = caller.press(second, wrong)
    assert "Too many wrong codes." in third.text and third.first("Hangup") is not None
    # Even the right code is refused on this call now.
    assert "Too many wrong codes." in caller.post(first.gather_action, Digits=offer["code"]).text

    # Across calls from the same number: ten wrong codes an hour, then nothing more is tried.
    for _ in range(2):
        other, asked_again = _transferred(phone_call, number)
        for _ in range(3):
            other.post(asked_again.gather_action, Digits=wrong)
    late, asked_late = _transferred(phone_call, number)
    late.post(asked_late.gather_action, Digits=wrong)
    refused = late.post(asked_late.gather_action, Digits=offer["code"])
    assert "Too many wrong codes." in refused.text
    # Another number's caller still gets through with the right code.
    fresh, asked_fresh = _transferred(phone_call, next_number())
    assert "is calling you" in fresh.press(asked_fresh, offer["code"]).text


def test_an_unsigned_single_call_request_is_refused(client):
    response = client.post(reverse("phone:voice_single_call"), {"CallSid": "CA1", "Digits": "123456"})
    assert response.status_code == 403


def test_a_paid_offer_opens_no_second_card_entry(phone_call, facility, inmate, stripe_server):
    number, offer = _offer(facility, inmate, "sc-phone-6")
    caller, asked = _transferred(phone_call, number)
    price = caller.press(asked, offer["code"])
    pay = caller.press(price, "1").first("Pay")
    caller.post(pay.get("action"), Result="success", PaymentToken=twilio_tokenizes_card(stripe_server, OK_CARD))

    # The same price answer pressed again, and the code keyed in on another call: already paid.
    again = caller.press(price, "1")
    assert again.first("Pay") is None and "This call is already paid." in again.text
    other, asked_other = _transferred(phone_call, number)
    assert "This call is already paid." in other.press(asked_other, offer["code"]).text
    assert Payment.objects.count() == 1
    _ledger_clean()
