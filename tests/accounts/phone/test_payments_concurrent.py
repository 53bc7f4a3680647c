"""The same card callback delivered twice at once (Twilio retrying while the first is still being
charged) charges the card once: the payment's charge key is unique."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.services import account_open
from billing.payments.models import FeeSchedule, Payment, PaymentStatus
from billing.payments.phone import PhoneOutcome, phone_card_payment_charge
from tests.factories import UserFactory
from tests.helpers import OK_CARD, balance_of, deposit, run_at_once

from .conftest import stripe_payment_intents, twilio_tokenizes_card

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_callbacks_at_once_charge_the_card_once(stripe_server):
    FeeSchedule.objects.update_or_create(channel="phone_ivr", defaults={"fee_cents": 300})
    account = account_open(holder=UserFactory())
    deposit(account, 100)
    token = twilio_tokenizes_card(stripe_server, OK_CARD)

    def callback():
        return phone_card_payment_charge(
            account=account, amount_cents=2000, expected_total_cents=2300, call_sid="CA-at-once", card_token=token
        )

    results = run_at_once([callback] * 4)
    assert all(not isinstance(result, Exception) for result in results), results
    assert PhoneOutcome.PAID in {result.outcome for result in results}
    assert {result.outcome for result in results} <= {PhoneOutcome.PAID, PhoneOutcome.PROCESSING}
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance_of(account) == 2100
    charged = [i for i in stripe_payment_intents(stripe_server) if i["payment_method"] == token]
    assert [(i["amount"], i["status"]) for i in charged] == [(2300, "succeeded")]
    call_command("ledger_check", stdout=StringIO())
