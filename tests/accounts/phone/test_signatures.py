"""Every voice webhook is refused (403) and does nothing unless Twilio's signature matches the URL
and the fields, computed with the configured auth token."""

import pytest
from django.urls import reverse
from twilio.request_validator import RequestValidator

from accounts.models import PhoneLock, PhoneSession
from billing.payments.models import Payment
from tests.helpers import make_account

from .conftest import BASE, signed_post

pytestmark = pytest.mark.django_db

WEBHOOKS = [
    "voice_incoming",
    "voice_start",
    "voice_number",
    "voice_pin",
    "voice_menu",
    "voice_choice",
    "voice_pay_amount",
    "voice_pay_confirm",
    "voice_pay_done",
    "voice_pay_status",
]


def _fields(number: str) -> dict:
    return {"CallSid": "CA" + "1" * 32, "From": number, "To": "+18605550100", "Digits": "1111"}


@pytest.mark.parametrize("name", WEBHOOKS)
def test_an_unsigned_request_is_refused_and_changes_nothing(client, name):
    account = make_account(balance_cents=2000)
    response = client.post(reverse(f"phone:{name}"), _fields(account.test_number))
    assert response.status_code == 403
    assert not PhoneSession.objects.exists()
    assert not PhoneLock.objects.exists()


@pytest.mark.parametrize("name", WEBHOOKS)
def test_a_request_signed_with_another_token_is_refused(client, name):
    account = make_account(balance_cents=2000)
    url = BASE + reverse(f"phone:{name}")
    response = signed_post(client, url, _fields(account.test_number), token="someone-elses-token")
    assert response.status_code == 403
    assert not PhoneSession.objects.exists()


def test_a_signature_over_other_fields_is_refused(client):
    """A valid signature for one set of fields does not cover different ones (a changed PIN or caller)."""
    account = make_account(balance_cents=2000)
    url = BASE + reverse("phone:voice_incoming")
    fields = _fields(account.test_number)
    signature = RequestValidator("twilio-test-token").compute_signature(url, fields)
    response = client.post(url, {**fields, "From": "+12025550123"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert not PhoneSession.objects.exists()


def test_a_signature_for_another_address_is_refused(client):
    account = make_account(balance_cents=2000)
    fields = _fields(account.test_number)
    response = signed_post(client, BASE + reverse("phone:voice_incoming"), fields)
    assert response.status_code == 200
    other = signed_post(client, "http://evil.example" + reverse("phone:voice_incoming"), fields)
    assert other.status_code == 403


def test_get_is_refused_even_when_signed(client):
    response = client.get(reverse("phone:voice_incoming"), HTTP_X_TWILIO_SIGNATURE="x")
    assert response.status_code == 403


def test_a_signed_card_callback_without_a_verified_call_charges_nothing(client, stripe_server):
    account = make_account(balance_cents=0)
    fields = {**_fields(account.test_number), "Result": "success", "PaymentToken": "pm_card_visa"}
    response = signed_post(client, BASE + reverse("phone:voice_pay_done"), fields)
    assert response.status_code == 200
    assert b"<Redirect" in response.content  # back to the welcome: who is calling is not known
    assert not Payment.objects.exists()


def test_behind_the_proxy_the_public_address_is_what_is_signed(client, settings):
    settings.PUBLIC_BASE_URL = "https://phone.familyline.example"
    account = make_account(balance_cents=2000)
    fields = _fields(account.test_number)
    path = reverse("phone:voice_incoming")
    assert signed_post(client, BASE + path, fields).status_code == 403
    response = signed_post(client, "https://phone.familyline.example" + path, fields)
    assert response.status_code == 200
    # The next steps are given at the public address too.
    assert b"https://phone.familyline.example/phone/voice/start/" in response.content


def test_a_signed_call_without_a_call_sid_is_a_400(client):
    fields = {"From": "+18605550134", "To": "+18605550100"}
    response = signed_post(client, BASE + reverse("phone:voice_incoming"), fields)
    assert response.status_code == 400
    assert not PhoneSession.objects.exists()
