"""The phone menu in a browser, for `make run` (DEBUG) and staff: "calls" the voice webhooks as a
chosen number, shows what the caller would hear and offers a keypad (plain form buttons).

Each step is a request signed with TWILIO_AUTH_TOKEN exactly as Twilio signs it, passed to the
webhook view inside this server; redirects and a Gather's fall-through are followed as Twilio
follows them. At the card entry the page offers Stripe's test cards by name: their PaymentMethods
are created at the Stripe stand-in by the server, so no card digits are typed or posted here.

It also plays the single call: a call the phone platform transfers to the single-call entry with the
offer's code sent as tones. The page can make a demo offer the way the platform gets one: it asks
authorize about an inmate calling a number on no account."""

import secrets
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.views.decorators.http import require_http_methods
from twilio.request_validator import RequestValidator

from accounts.models import PhoneNumber
from billing.payments import stripe_gateway
from calls.callpath.authorize import call_authorize
from calls.models import Facility, Inmate

SESSION_KEY = "phone_try"
OFFER_KEY = "phone_try_offer"
MAX_STEPS = 12
KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]
# Stripe's published test cards, by what they do (never real digits, never typed by a person).
TEST_CARDS = {
    "ok": ("4242424242424242", "A card that works (Visa ending 4242)"),
    "declined": ("4000000000000341", "A card that is declined (ending 0341)"),
    "three_d_secure": ("4000002500003155", "A card whose bank asks for 3-D Secure (ending 3155)"),
}


def _allowed(request: HttpRequest) -> bool:
    return settings.DEBUG or (request.user.is_authenticated and request.user.is_staff)


def _absolute(request: HttpRequest, path: str) -> str:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


def _post(request: HttpRequest, url: str, params: dict) -> str:
    """POST `params` to the webhook at `url` as Twilio does (signed), inside this server."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    webhook = RequestFactory().post(
        path,
        data=params,
        HTTP_HOST=request.get_host(),
        HTTP_X_TWILIO_SIGNATURE=signature,
        secure=request.is_secure(),
    )
    match = resolve(parts.path)
    response = match.func(webhook, *match.args, **match.kwargs)
    return response.content.decode() if response.status_code == 200 else ""


class Player:
    """Plays TwiML as a phone would, keeping what was heard and what the call waits for."""

    def __init__(self, request: HttpRequest, state: dict):
        self.request = request
        self.state = state

    def params(self, **extra) -> dict:
        state = self.state
        return {
            "CallSid": state["call_sid"],
            "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC-local",
            "From": state["from"],
            "To": settings.TWILIO_PHONE_NUMBER,
            "Direction": "inbound",
            **extra,
        }

    def post(self, url: str, **extra) -> None:
        self.play(_post(self.request, url, self.params(**extra)))

    def hear(self, text: str, language: str = "") -> None:
        self.state["heard"].append({"text": text, "language": language})

    def play(self, twiml: str, steps: int = 0) -> None:
        self.state["wait"] = {"kind": "end"}
        if not twiml.strip():
            self.hear("(the call ends)")
            return
        verbs = list(ET.fromstring(twiml))  # noqa: S314 (TwiML this server just wrote)
        self.play_verbs(verbs, steps)

    def play_verbs(self, verbs: list, steps: int = 0) -> None:
        for index, verb in enumerate(verbs):
            if verb.tag == "Say":
                self.hear(verb.text or "", verb.get("language", ""))
            elif verb.tag == "Gather":
                for say in verb.iter("Say"):
                    self.hear(say.text or "", say.get("language", ""))
                self.state["typed"] = ""
                self.state["wait"] = {
                    "kind": "gather",
                    "action": verb.get("action"),
                    "num_digits": int(verb.get("numDigits", "0") or 0),
                    "finish_on_key": verb.get("finishOnKey", "#"),
                    "rest": [ET.tostring(rest, encoding="unicode") for rest in verbs[index + 1 :]],
                }
                return
            elif verb.tag == "Pay":
                self.state["wait"] = {
                    "kind": "pay",
                    "action": verb.get("action"),
                    "status_callback": verb.get("statusCallback", ""),
                    "attributes": dict(verb.attrib),
                }
                return
            elif verb.tag == "Redirect":
                if steps >= MAX_STEPS:
                    self.hear("(too many redirects: the call ends)")
                    return
                self.play(_post(self.request, verb.text, self.params()), steps + 1)
                return
            elif verb.tag == "Dial":
                self.hear(f"(the call is put through to {verb.text})")
                self.state["wait"] = {"kind": "end"}
                return
            elif verb.tag == "Hangup":
                break
        self.hear("(the call ends)")
        self.state["wait"] = {"kind": "end"}

    def key(self, key: str) -> None:
        wait = self.state["wait"]
        self.hear(f"(you press {key})", "keypad")
        if key == wait["finish_on_key"]:
            self.submit()
            return
        self.state["typed"] += key
        if wait["num_digits"] and len(self.state["typed"]) >= wait["num_digits"]:
            self.submit()

    def submit(self) -> None:
        """The Gather ends: with digits, Twilio posts them to its action; without, it goes on."""
        wait, typed = self.state["wait"], self.state["typed"]
        if typed:
            self.post(wait["action"], Digits=typed)
        else:
            self.play_verbs([ET.fromstring(rest) for rest in wait["rest"]])  # noqa: S314 (our own TwiML)

    def pay(self, card: str) -> None:
        wait = self.state["wait"]
        if card not in TEST_CARDS:
            self.hear("(you press *)", "keypad")
            self.post(wait["action"], Result="caller-interrupted-with-star", PaymentError="")
            return
        number, label = TEST_CARDS[card]
        self.hear(f"(you key in {label.lower()})", "keypad")
        try:
            token = stripe_gateway.test_card_token_create(number=number)
        except stripe_gateway.GatewayError as exc:
            self.hear(f"(no test card: {exc.message})", "keypad")
            return
        result = {
            "Result": "success",
            "PaymentToken": token,
            "PaymentCardNumber": "x" * 12 + number[-4:],
            "PaymentCardType": "visa",
            "ExpirationDate": "1234",
            "PaymentConfirmationCode": "",
        }
        if wait.get("status_callback"):
            _post(self.request, wait["status_callback"], self.params(For="payment-card-number", PaymentCardNumber=""))
        self.post(wait["action"], **result)


def demo_offer() -> dict:
    """Ask authorize, as the platform would, about an inmate calling a number on no account: its
    `single_call` offer (the code, the number, the call id), or why there is none."""
    number = f"+120255501{secrets.randbelow(100):02d}"
    inmates = Inmate.objects.filter(is_active=True, facility__is_active=True).select_related("facility")
    facilities = Facility.objects.filter(is_active=True, cell_phones_allowed=True, inmates__is_active=True)
    reason = "no facility with an inmate"
    for facility in facilities.distinct().order_by("id")[:10]:
        inmate = inmates.filter(facility=facility).order_by("id").first()
        if inmate is None:
            continue
        call_id = f"try-{uuid.uuid4().hex[:12]}"
        answer = call_authorize(
            call_id=call_id, facility_code=facility.code, inmate_number=inmate.inmate_number, dialed_number=number
        )
        if answer.single_call is not None:
            return {
                "call_id": call_id,
                "number": number,
                "code": answer.single_call["code"],
                "expires_at": answer.single_call["expires_at"],
                "facility": facility.name,
                "inmate": inmate.full_name,
            }
        reason = answer.reason or answer.decision
    return {"error": f"No offer was made ({reason})."}


def _single_call(request: HttpRequest, number: str, code: str) -> dict:
    """A call the platform transferred to the single-call entry, the code sent as tones."""
    state: dict[str, Any] = {"call_sid": "CA" + uuid.uuid4().hex, "from": number or "anonymous"}
    state.update({"heard": [], "typed": "", "wait": {"kind": "end"}})
    player = Player(request, state)
    player.hear("(the phone platform transfers the called person to the single-call entry)", "keypad")
    player.post(_absolute(request, reverse("phone:voice_single_call")))
    code = "".join(ch for ch in code if ch.isdigit())
    if code and state["wait"]["kind"] == "gather":
        player.hear(f"(the platform sends the code {code} as tones)", "keypad")
        player.post(state["wait"]["action"], Digits=code)
    return state


def _act(request: HttpRequest, state: dict | None, action: str) -> dict | None:
    """One button of the page: start a call, press a key, wait, key in a card, or hang up."""
    if action == "call":
        state = {"call_sid": "CA" + uuid.uuid4().hex, "from": request.POST.get("number", "").strip() or "anonymous"}
        state.update({"heard": [], "typed": "", "wait": {"kind": "end"}})
        Player(request, state).post(_absolute(request, reverse("phone:voice_incoming")))
    elif action == "offer":
        request.session[OFFER_KEY] = demo_offer()
    elif action == "single_call":
        offer = request.session.get(OFFER_KEY) or {}
        state = _single_call(request, offer.get("number", ""), request.POST.get("code", ""))
    elif state and action == "key" and state["wait"]["kind"] == "gather":
        key = request.POST.get("key", "")
        if key in KEYS:
            Player(request, state).key(key)
    elif state and action == "wait" and state["wait"]["kind"] == "gather":
        Player(request, state).submit()
    elif state and action == "card" and state["wait"]["kind"] == "pay":
        Player(request, state).pay(request.POST.get("card", ""))
    elif action == "hangup":
        state = None
    return state


@require_http_methods(["GET", "POST"])
def phone_try(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404
    state = request.session.get(SESSION_KEY)
    if request.method == "POST":
        request.session[SESSION_KEY] = _act(request, state, request.POST.get("action", ""))
        return redirect(reverse("phone:try") + "#heard-end")
    numbers = PhoneNumber.objects.filter(is_active=True).select_related("account").order_by("id")[:30]
    return render(
        request,
        "phone/try.html",
        {
            "state": state,
            "numbers": numbers,
            "keys": KEYS,
            "cards": [(name, label) for name, (_number, label) in TEST_CARDS.items()],
            "twilio_number": settings.TWILIO_PHONE_NUMBER,
            "offer": request.session.get(OFFER_KEY),
        },
    )
