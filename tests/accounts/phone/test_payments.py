"""Card payments by phone: the amount read back with the phone fee and the total, confirmed with 1,
then <Pay> in tokenize mode; the PaymentMethod Twilio returns (created here in the real localstripe)
is charged through the web's card payment service, once per call and token."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AccountKind
from billing.ledger.models import EntryKind, JournalEntry, SystemAccount
from billing.payments.models import Channel, Payment, PaymentStatus
from billing.staff.reconciliation import reconciliation_run
from billing.staff.reports import monthly_report
from billing.staff.work_queue import work_queue
from tests.factories import UserFactory
from tests.helpers import DECLINED_CARD, OK_CARD, THREE_DS_CARD, balance_of, make_account, system_posted

from .conftest import signed_post, stripe_object, stripe_payment_intents, twilio_tokenizes_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def family(with_pin):
    account = make_account(balance_cents=0)
    account.pin = with_pin(account)
    return account


def _to_card_entry(caller, pin: str, dollars: str):
    """Sign in, choose 3, key in the amount, hear it read back, press 1: the <Pay> answer."""
    chosen = caller.press(caller.sign_in(pin), "3")
    asked = caller.post(chosen.redirect)
    read_back = caller.press(asked, dollars)
    card_entry = caller.press(read_back, "1")
    return read_back, card_entry


def _card_keyed(caller, card_entry, token: str, result: str = "success"):
    pay = card_entry.first("Pay")
    return caller.post(pay.get("action"), Result=result, PaymentToken=token, PaymentCardNumber="xxxxxxxxxxxx4242")


def test_a_20_dollar_phone_payment_charges_once_under_a_repeated_callback(
    stripe_server, family, phone_call, django_capture_on_commit_callbacks
):
    caller = phone_call(family.test_number)
    read_back, card_entry = _to_card_entry(caller, family.pin, "20")
    assert "You are adding twenty dollars to your balance." in read_back.text
    assert "The processing fee is three dollars, so your card will be charged twenty-three dollars." in read_back.text
    assert "press 1" in read_back.text
    assert not Payment.objects.exists()  # nothing charged before the card is keyed in

    pay = card_entry.first("Pay")
    assert pay.get("tokenType") == "payment-method"
    assert pay.get("paymentConnector") == "Default"
    assert pay.get("chargeAmount") is None  # tokenize: Twilio charges nothing, FamilyLine does
    assert pay.get("action").endswith("/phone/voice/pay/done/")
    assert pay.get("statusCallback").endswith("/phone/voice/pay/status/")
    assert card_entry.root.find("Record") is None

    token = twilio_tokenizes_card(stripe_server, OK_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        first = _card_keyed(caller, card_entry, token)
        again = _card_keyed(caller, card_entry, token)  # Twilio retried the callback
    for said in (first, again):
        assert "was charged twenty-three dollars" in said.text
        assert "We added twenty dollars. Your balance is now twenty dollars." in said.text

    payment = Payment.objects.get()
    assert payment.channel == Channel.PHONE_IVR
    assert (payment.amount_cents, payment.fee_cents, payment.status) == (2000, 300, PaymentStatus.SUCCEEDED)
    assert payment.card_last4 == "4242"
    assert balance_of(family) == 2000
    assert system_posted(SystemAccount.FEE_REVENUE) == 300
    assert system_posted(SystemAccount.CARD_CLEARING) == -2300
    assert JournalEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
    charged = [i for i in stripe_payment_intents(stripe_server) if i["payment_method"] == token]
    assert [(i["amount"], i["status"]) for i in charged] == [(2300, "succeeded")]
    receipts = [m for m in mail.outbox if m.to == [family.holder.email]]
    assert len(receipts) == 1 and "$23.00" in receipts[0].body
    assert "By phone (automated), card ending 4242" in receipts[0].body
    call_command("ledger_check", stdout=StringIO())  # raises on any violation


def test_the_status_callback_is_accepted_and_charges_nothing(stripe_server, family, phone_call):
    caller = phone_call(family.test_number)
    _read_back, card_entry = _to_card_entry(caller, family.pin, "20")
    status_url = card_entry.first("Pay").get("statusCallback")
    response = signed_post(caller.client, status_url, caller.params(For="payment-card-number", Capture=""))
    assert response.status_code == 204
    assert not Payment.objects.exists()


def test_a_declined_card_charges_nothing_and_leaves_no_attached_card(stripe_server, family, phone_call):
    caller = phone_call(family.test_number)
    _read_back, card_entry = _to_card_entry(caller, family.pin, "20")
    token = twilio_tokenizes_card(stripe_server, DECLINED_CARD)
    said = _card_keyed(caller, card_entry, token)
    assert "Your card was declined. Nothing was charged." in said.text
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED and payment.channel == Channel.PHONE_IVR
    assert balance_of(family) == 0
    assert not JournalEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
    assert stripe_object(stripe_server, "payment_methods", token)["customer"] is None
    tried = [i for i in stripe_payment_intents(stripe_server) if i["payment_method"] == token]
    assert [i["status"] for i in tried] == ["requires_payment_method"]  # declined: nothing taken
    # Staff see it on the work queue.
    staff = UserFactory(is_staff=True, is_superuser=True)
    item = next(item for item in work_queue(user=staff) if item.key == "phone_payments_failed")
    assert item.count == 1
    call_command("ledger_check", stdout=StringIO())


def test_3d_secure_charges_nothing_and_says_to_pay_on_the_web_or_with_an_agent(stripe_server, family, phone_call):
    caller = phone_call(family.test_number)
    _read_back, card_entry = _to_card_entry(caller, family.pin, "20")
    token = twilio_tokenizes_card(stripe_server, THREE_DS_CARD)
    said = _card_keyed(caller, card_entry, token)
    assert "cannot be done by phone. Nothing was charged." in said.text
    assert "Please pay on the website or with an agent." in said.text
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CANCELED
    assert stripe_object(stripe_server, "payment_intents", payment.stripe_payment_intent_id)["status"] == "canceled"
    assert stripe_object(stripe_server, "payment_methods", token)["customer"] is None
    assert balance_of(family) == 0
    again = _card_keyed(caller, card_entry, token)
    assert "Nothing was charged" in again.text
    assert Payment.objects.count() == 1
    call_command("ledger_check", stdout=StringIO())


def test_star_during_the_card_entry_cancels_and_detaches(stripe_server, family, phone_call):
    caller = phone_call(family.test_number)
    _read_back, card_entry = _to_card_entry(caller, family.pin, "20")
    token = twilio_tokenizes_card(stripe_server, OK_CARD)
    said = _card_keyed(caller, card_entry, token, result="caller-interrupted-with-star")
    assert "You canceled the card entry. Nothing was charged." in said.text
    assert not Payment.objects.exists()
    assert stripe_object(stripe_server, "payment_methods", token)["customer"] is None


def test_an_amount_over_the_limit_is_refused_before_the_card(stripe_server, family, phone_call):
    caller = phone_call(family.test_number)
    chosen = caller.press(caller.sign_in(family.pin), "3")
    asked = caller.post(chosen.redirect)
    refused = caller.press(asked, "75")
    assert "One payment can add at most $50.00." in refused.text
    assert refused.first("Pay") is None


def test_a_direct_bill_balance_is_paid_in_full_by_phone(stripe_server, calls, phone_call, with_pin):
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=5000)
    pin = with_pin(account)
    calls.complete(number=account.test_number, minutes=10)
    caller = phone_call(account.test_number)
    chosen = caller.press(caller.sign_in(pin), "3")
    asked = caller.post(chosen.redirect)
    assert "You owe two dollars and twenty-three cents." in asked.text
    assert "To pay all of it, press 1." in caller.press(asked, "*").text
    read_back = caller.press(asked, "1")
    assert "You are paying two dollars and twenty-three cents toward what you owe." in read_back.text
    card_entry = caller.press(read_back, "1")
    said = _card_keyed(caller, card_entry, twilio_tokenizes_card(stripe_server, OK_CARD))
    assert "Nothing is owed now." in said.text
    assert balance_of(account) == 0
    call_command("ledger_check", stdout=StringIO())


def test_star_repeats_the_read_back_and_zero_reaches_the_agent(stripe_server, family, phone_call, settings):
    settings.PHONE_AGENT_NUMBER = ""  # no agent line: the hours are read out
    caller = phone_call(family.test_number)
    chosen = caller.press(caller.sign_in(family.pin), "3")
    read_back = caller.press(caller.post(chosen.redirect), "20")
    again = caller.press(read_back, "*")
    assert "You are adding twenty dollars to your balance." in again.text
    agent = caller.press(again, "0")
    assert "Our agents answer every day" in agent.text
    assert not Payment.objects.exists()


def test_phone_payments_reconcile_and_report_as_the_phone_channel(stripe_server, family, phone_call):
    """Staff see phone payments as channel phone_ivr: the monthly report's row, and a reconciliation
    with Stripe that finds nothing amiss after a payment, a decline and a 3-D Secure refusal."""
    now = timezone.now()
    time.sleep(1 - now.microsecond / 1_000_000)  # Stripe counts whole seconds; localstripe is shared
    since = now.replace(microsecond=0) + timedelta(seconds=1)
    for card in (OK_CARD, DECLINED_CARD, THREE_DS_CARD):
        caller = phone_call(family.test_number)
        _read_back, card_entry = _to_card_entry(caller, family.pin, "20")
        _card_keyed(caller, card_entry, twilio_tokenizes_card(stripe_server, card))
    report = monthly_report(month=timezone.localdate())
    phone_rows = [row for row in report.payments if row["channel"] == Channel.PHONE_IVR]
    assert phone_rows == [
        {
            "channel": "phone_ivr",
            "channel_label": "Phone (automated)",
            "payments": 1,
            "amount_cents": 2000,
            "fee_cents": 300,
        }
    ]
    run = reconciliation_run(since=since)
    assert run.error == ""
    assert list(run.differences.values_list("kind", flat=True)) == []
    assert run.stripe_net_cents == run.ledger_card_clearing_cents
    call_command("ledger_check", stdout=StringIO())
