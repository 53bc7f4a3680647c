"""Calls to the voice menu as Twilio makes them: form posts signed with the auth token over the URL
and the fields (RequestValidator.compute_signature), TwiML answers parsed as XML."""

import itertools
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import stripe
from django.conf import settings
from django.urls import reverse
from twilio.request_validator import RequestValidator

from accounts.phone_access import phone_pin_set

_sids = itertools.count(1)
BASE = "http://testserver"


def signed_post(client, url: str, params: dict, *, token: str | None = None):
    """POST `params` to `url` with the X-Twilio-Signature Twilio computes for them."""
    signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


class Answer:
    """A TwiML answer: what is said, and where the call goes next."""

    def __init__(self, response):
        assert response.status_code == 200, response.status_code
        assert response["Content-Type"].startswith("text/xml")
        self.root = ET.fromstring(response.content)  # noqa: S314 (the app's own answer, in a test)
        assert self.root.tag == "Response"

    @property
    def says(self) -> list[tuple[str, str]]:
        return [(say.text or "", say.get("language", "")) for say in self.root.iter("Say")]

    @property
    def text(self) -> str:
        return " ".join(text for text, _language in self.says)

    def first(self, tag: str):
        return next(self.root.iter(tag), None)

    @property
    def gather_action(self) -> str:
        gather = self.first("Gather")
        assert gather is not None, self.text
        return gather.get("action")

    @property
    def redirect(self) -> str:
        # The redirect that follows when nothing is pressed (a top-level verb).
        found = [verb for verb in self.root if verb.tag == "Redirect"]
        assert found, self.text
        return found[-1].text


class Caller:
    """One phone call to the voice menu from `number` (E.164, or "anonymous")."""

    def __init__(self, client, number: str):
        self.client = client
        self.number = number
        self.call_sid = f"CA{next(_sids):032d}"

    def params(self, **extra) -> dict:
        return {
            "CallSid": self.call_sid,
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
            "From": self.number,
            "To": settings.TWILIO_PHONE_NUMBER,
            **extra,
        }

    def post(self, url: str, **extra) -> Answer:
        return Answer(signed_post(self.client, url, self.params(**extra)))

    def dial(self) -> Answer:
        return self.post(BASE + reverse("phone:voice_incoming"))

    def press(self, answer: Answer, digits: str) -> Answer:
        return self.post(answer.gather_action, Digits=digits)

    def wait(self, answer: Answer) -> Answer:
        """Nothing pressed: Twilio goes on with the verb after the Gather."""
        return self.post(answer.redirect)

    def sign_in(self, pin: str, *, language_key: str = "") -> Answer:
        """From the welcome to the main menu: language (or silence), then the PIN."""
        welcome = self.dial()
        asked = self.press(welcome, language_key) if language_key else self.wait(welcome)
        assert "PIN" in asked.text or "PIN" in asked.text.upper(), asked.text
        return self.press(asked, pin)


@pytest.fixture
def phone_call(client):
    """phone_call("+18605550134") -> a Caller placing signed requests."""
    return lambda number: Caller(client, number)


@pytest.fixture
def with_pin():
    """with_pin(account, "2468"): the holder set this phone PIN on the web."""

    def set_pin(account, pin="2468"):
        phone_pin_set(account=account, pin=pin, actor=account.holder)
        return pin

    return set_pin


def twilio_tokenizes_card(base_url: str, number: str) -> str:
    """What Twilio's Stripe connector does in tokenize mode with the caller's keyed-in card: a
    PaymentMethod (here on a customer of its own) whose id comes back as `PaymentToken`."""
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    customer = client.v1.customers.create(params={"description": "connector"})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})
    return method.id


def stripe_object(base_url: str, kind: str, object_id: str) -> dict:
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    return getattr(client.v1, kind).retrieve(object_id).to_dict()


def stripe_payment_intents(base_url: str) -> list[dict]:
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    # Every page: the suite's localstripe holds the intents of every test run before this one.
    pages = client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [intent.to_dict() for intent in pages]
