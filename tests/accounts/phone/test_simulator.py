"""The phone page (`/phone/try/`) without a browser: it refuses test cards against a live Stripe key
instead of sending card numbers there."""

import pytest
from django.urls import reverse

from accounts.phone_access import phone_pin_set
from billing.payments.models import Payment
from tests.factories import UserFactory
from tests.helpers import make_account

pytestmark = pytest.mark.django_db


def _call_to_card_entry(client, number: str, pin: str) -> None:
    url = reverse("phone:try")
    client.post(url, {"action": "call", "number": number})
    client.post(url, {"action": "wait"})
    for key in f"{pin}#3" + "20#1":
        client.post(url, {"action": "key", "key": key})


def test_with_a_live_stripe_key_no_test_card_is_sent(client, settings, stripe_server):
    account = make_account(balance_cents=500)
    phone_pin_set(account=account, pin="2468", actor=account.holder)
    client.force_login(UserFactory(is_staff=True))
    _call_to_card_entry(client, account.test_number, "2468")
    assert client.session["phone_try"]["wait"]["kind"] == "pay"
    settings.STRIPE_SECRET_KEY = "sk_live_not_for_tests"
    response = client.post(reverse("phone:try"), {"action": "card", "card": "ok"})
    assert response.status_code == 302
    heard = [line["text"] for line in client.session["phone_try"]["heard"]]
    assert "test-mode Stripe account" in heard[-1]
    assert not Payment.objects.exists()
