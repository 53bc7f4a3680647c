"""The voice menu for the person a facility calls, who often has no account: blocking (or unblocking)
calls to their own number, and paying for a single call. Neither needs a PIN. Blocking needs proof
that the caller holds the number (a code sent to it by text, or read out by a call FamilyLine places
to it; caller ID alone is not proof); the single call needs the code the phone platform gave them.

What a step needs to remember (block or unblock, the number, the offer and the price read out) rides
in the webhook addresses FamilyLine writes into its TwiML; Twilio signs each request over its address,
so a caller cannot change them."""

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

from accounts import phone_access
from accounts.phone_access import WITHHELD
from billing.payments import phone as phone_payments
from billing.payments.single_call import PayOutcome, single_call_offer_find, single_call_pay
from calls import self_blocks
from calls.models import SingleCall

from .menu import _rate_words, agent
from .signatures import twilio_signed
from .speech import money_words, number_words
from .twiml import ENTRY_TIMEOUT_SECONDS, Call
from .voice import _answer, _call, _restart, card_entry

ACTIONS = ("block", "unblock")
CHANNELS = {"1": "sms", "2": "voice"}
# Wrong single-call codes: a few per call, and per calling number in an hour (then even a right
# code is refused, so nobody walks through codes).
CODE_TRIES_PER_CALL = 3
CODE_TRIES_PER_NUMBER = 10
# Codes asked for to block or unblock: per call, and per calling number in an hour (on top of the
# limit per number the code goes to).
BLOCK_CODES_PER_CALL = 3
BLOCK_CODES_PER_NUMBER = 10
LIMIT_SECONDS = 3600


def _counters(call: Call, kind: str) -> list[tuple[str, int]]:
    session = call.session
    per_call = {"code": CODE_TRIES_PER_CALL, "block": BLOCK_CODES_PER_CALL}[kind]
    per_number = {"code": CODE_TRIES_PER_NUMBER, "block": BLOCK_CODES_PER_NUMBER}[kind]
    return [
        (f"phone:{kind}:call:{session.call_sid}", per_call),
        (f"phone:{kind}:from:{session.calling_number or WITHHELD}", per_number),
    ]


def _over_limit(call: Call, kind: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _counters(call, kind))


def _count(call: Call, kind: str) -> None:
    for key, _limit in _counters(call, kind):
        if not cache.add(key, 1, LIMIT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.add(key, 1, LIMIT_SECONDS)


def _digits_words(number: str, language: str) -> str:
    """A US number read digit by digit: "8, 6, 0, 5, 5, 5, ..."."""
    digits = number[2:] if number.startswith("+1") else number.lstrip("+")
    return ", ".join(number_words(int(digit), language) for digit in digits)


def _goodbye(call: Call, response: VoiceResponse, *sentences: str) -> VoiceResponse:
    call.say(response, *sentences, _("Thank you for calling FamilyLine. Goodbye."))
    response.hangup()
    return response


# --- blocking calls to your own number --------------------------------------------------------------


@twilio_signed
def voice_block(request: HttpRequest) -> HttpResponse:
    """Block or unblock calls to a number: choose which, the number (caller ID, or keyed in), how the
    code comes (text, or a call; or a code already received), then key in the code."""
    call = _call(request)
    if call is None:
        return _restart(request)
    step = call.param("step")
    if call.digits == "0":
        return _answer(call, agent)
    if step == "action":
        return _answer(call, _block_chose_action)
    if step == "number":
        return _answer(call, _block_keyed_number)
    if step == "channel":
        return _answer(call, _block_chose_channel)
    if step == "code":
        return _answer(call, _block_keyed_code)
    return _answer(call, _block_ask_action)


def _block_ask_action(call: Call, *, problem: str = "") -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(response, call.url("voice_block", step="action"))
    call.say(
        gather,
        problem,
        _("You can stop calls from prisons and jails through FamilyLine to your phone number, at once."),
        _("To block calls to your number, press 1. To lift a block you placed, press 2."),
        _("To speak with an agent, press 0."),
    )
    return _goodbye(call, response, _("We did not hear a choice."))


def _block_chose_action(call: Call) -> VoiceResponse:
    if call.digits not in ("1", "2"):
        return _block_ask_action(call, problem=_("Sorry, that is not one of the choices."))
    action = ACTIONS[int(call.digits) - 1]
    number = call.session.calling_number
    if not number or number == WITHHELD:
        return _block_ask_number(call, action)
    return _block_ask_channel(call, action, number)


def _block_ask_number(call: Call, action: str, *, again: bool = False) -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(
        response,
        call.url("voice_block", step="number", action=action),
        num_digits=10,
        timeout=ENTRY_TIMEOUT_SECONDS,
    )
    if again:
        call.say(gather, _("That is not a phone number we can use. Please try again."))
    call.say(gather, _("Please enter the ten-digit phone number, starting with the area code."))
    return _goodbye(call, response, _("We did not hear a number."))


def _action_of(call: Call) -> str | None:
    action = call.param("action")
    return action if action in ACTIONS else None


def _block_keyed_number(call: Call) -> VoiceResponse:
    action = _action_of(call)
    if action is None:
        return _block_ask_action(call)
    number = phone_access.keyed_number_normalize(call.digits)
    if number is None:
        return _block_ask_number(call, action, again=True)
    return _block_ask_channel(call, action, number)


def _block_ask_channel(call: Call, action: str, number: str, *, problem: str = "") -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(response, call.url("voice_block", step="channel", action=action, number=number))
    call.say(
        gather,
        problem,
        _("To prove the number %(number)s is yours, we send a code to it.")
        % {"number": _digits_words(number, call.language)},
        _("To get the code by text message, press 1."),
        _("For a landline, press 2: we hang up and call that number to read the code to you."),
        _("If you already have a code from us, press 3."),
    )
    return _goodbye(call, response, _("We did not hear a choice."))


def _number_of(call: Call) -> str | None:
    number = call.param("number")
    return number if number and phone_access.keyed_number_normalize(number) == number else None


def _block_chose_channel(call: Call) -> VoiceResponse:
    action, number = _action_of(call), _number_of(call)
    if action is None or number is None:
        return _block_ask_action(call)
    if call.digits == "3":
        return _block_ask_code(call, action, number)
    channel = CHANNELS.get(call.digits)
    if channel is None:
        return _block_ask_channel(call, action, number, problem=_("Sorry, that is not one of the choices."))
    if _over_limit(call, "block"):
        return _goodbye(
            call, VoiceResponse(), _("Too many codes were asked for from this phone. Try again in an hour.")
        )
    _count(call, "block")
    try:
        self_blocks.self_block_code_send(
            number=number, action=action, channel=channel, client_address=None, language=call.language
        )
    except self_blocks.PossessionError as exc:
        return _goodbye(call, VoiceResponse(), str(exc))
    if channel == "voice":
        return _goodbye(
            call,
            VoiceResponse(),
            _("We are hanging up and calling %(number)s now to read you a code. It works for ten minutes.")
            % {"number": _digits_words(number, call.language)},
            _("Then call FamilyLine again, press 8, choose the same thing, and press 3 to enter the code."),
        )
    return _block_ask_code(call, action, number, sent=True)


def _block_ask_code(call: Call, action: str, number: str, *, sent: bool = False, problem: str = "") -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(
        response,
        call.url("voice_block", step="code", action=action, number=number),
        num_digits=6,
        timeout=ENTRY_TIMEOUT_SECONDS * 3,
    )
    if sent:
        call.say(gather, _("We sent a text message with a six-digit code."))
    call.say(gather, problem, _("Please enter the six-digit code."))
    return _goodbye(call, response, _("We did not hear a code. Nothing was changed."))


def _block_keyed_code(call: Call) -> VoiceResponse:
    action, number = _action_of(call), _number_of(call)
    if action is None or number is None:
        return _block_ask_action(call)
    try:
        self_blocks.self_block_confirm(number=number, action=action, code=call.digits, client_address=None)
    except self_blocks.PossessionError as exc:
        return _block_ask_code(call, action, number, problem=str(exc))
    words = {"number": _digits_words(number, call.language)}
    if action == "block":
        done = _("Calls from prisons and jails through FamilyLine to %(number)s are now blocked.") % words
        more = _("To lift the block later, call again and press 8.")
    else:
        done = _("Your block on %(number)s is lifted.") % words
        more = _("If staff blocked the number too, that block stays until they lift it.")
    return _goodbye(call, VoiceResponse(), done, more)


# --- the single call -----------------------------------------------------------------------------------


@twilio_signed
def voice_single_call(request: HttpRequest) -> HttpResponse:
    """The single call's code, keyed in by the called person or sent as tones by the platform that
    transferred them here. Also an entry in itself: a call transferred straight to this address starts
    here (1 or 2 alone chooses English or Spanish)."""
    call = _call(request)
    if call is None:
        call_sid = request.POST.get("CallSid", "").strip()
        if not call_sid or len(call_sid) > 64:
            return HttpResponseBadRequest("A call needs its CallSid.", content_type="text/plain")
        session = phone_access.phone_session_start(call_sid=call_sid, calling_number_raw=request.POST.get("From", ""))
        call = Call(request, session)
    digits = call.digits.strip("#")
    if digits == "0":
        return _answer(call, agent)
    if digits in ("1", "2"):
        phone_access.phone_session_language(session=call.session, language="en" if digits == "1" else "es")
        return _answer(call, _code_ask)
    if "Digits" not in request.POST or not digits:
        return _answer(call, lambda call: _code_ask(call, welcome=call.param("step") != "menu"))
    return _answer(call, lambda call: _code_keyed(call, digits))


def _code_ask(call: Call, *, problem: str = "", welcome: bool = False) -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(
        response, call.url("voice_single_call"), num_digits=6, finish_on_key="#", timeout=ENTRY_TIMEOUT_SECONDS
    )
    call.say(gather, problem)
    if welcome:
        call.say(gather, _("Welcome to FamilyLine."))
        if call.language == "en":
            call.say(gather, "Para español, oprima 2.", language="es")
        else:
            call.say(gather, "For English, press 1.", language="en")
    call.say(gather, _("Please enter your six-digit single-call code."))
    return _goodbye(call, response, _("We did not hear a code."))


def _code_keyed(call: Call, code: str) -> VoiceResponse:
    if _over_limit(call, "code"):
        return _goodbye(call, VoiceResponse(), _("Too many wrong codes. Please try again later."))
    offer = single_call_offer_find(code=code)
    if offer is None:
        _count(call, "code")
        if _over_limit(call, "code"):
            return _goodbye(call, VoiceResponse(), _("Too many wrong codes. Please try again later."))
        return _code_ask(call, problem=_("That code is not right, or it has expired."))
    if offer.paid:
        return _goodbye(call, VoiceResponse(), _("This call is already paid. Please hang up: it will be put through."))
    return _price(call, VoiceResponse(), offer)


def _price(call: Call, response: VoiceResponse, offer, *, problem: str = "") -> VoiceResponse:
    """Who is calling and the price: rate × minutes + tax = total, no fee; 1 to enter a card."""
    language = call.language
    words = {
        "inmate": offer.inmate_name,
        "facility": offer.facility_name,
        "minutes": offer.minutes,
        "rate": _rate_words(offer.rate_per_minute, language),
        "charge": money_words(offer.charge_cents, language),
        "tax": money_words(offer.tax_cents, language),
        "total": money_words(offer.total_cents, language),
    }
    gather = call.gather(response, call.url("voice_single_call_confirm", offer=offer.id, total=offer.total_cents))
    call.say(
        gather,
        problem,
        _("%(inmate)s at %(facility)s is calling you.") % words,
        _("One call of up to %(minutes)s minutes at %(rate)s a minute is %(charge)s, plus %(tax)s tax.") % words,
        _("Your card will be charged %(total)s. There is no fee.") % words,
        _("Minutes you do not use are refunded to your card after the call."),
        _("To pay with a card, press 1. To hear this again, press star."),
    )
    return _goodbye(call, response, _("We did not hear a choice. Nothing was charged."))


def _offer_of(call: Call):
    """The offer id and the total read out, from the address (None, None when missing)."""
    offer_id, total = call.param("offer"), call.param("total")
    if not offer_id.isdigit() or not total.isdigit():
        return None, None
    return int(offer_id), int(total)


@twilio_signed
def voice_single_call_confirm(request: HttpRequest) -> HttpResponse:
    """1: the card entry (<Pay> in tokenize mode: Twilio never charges, FamilyLine does after)."""
    call = _call(request)
    if call is None:
        return _restart(request)
    return _answer(call, _confirmed)


def _confirmed(call: Call) -> VoiceResponse:
    response = VoiceResponse()
    offer_id, total = _offer_of(call)
    if offer_id is None:
        return _code_ask(call)
    if call.digits == "0":
        return agent(call)
    offer = _offer_by_id(offer_id)
    if offer is None:
        return _expired(call)
    if offer.paid:
        return _goodbye(call, response, _("This call is already paid. Please hang up: it will be put through."))
    if call.digits != "1":
        return _price(call, response, offer)
    if offer.total_cents != total:
        # The rate changed since the price was read: read the new one before any card is asked for.
        return _price(call, response, offer, problem=_("The price has changed. Nothing was charged."))
    return card_entry(
        call,
        response,
        action=call.url("voice_single_call_paid", offer=offer_id, total=total),
        description="FamilyLine single call",
    )


def _offer_by_id(offer_id: int):
    """The live offer with this id, as the code finds it (None once expired or used)."""
    # The code is not written into the addresses: it is read from the offer, only to find it again.
    code = SingleCall.objects.filter(pk=offer_id).values_list("code", flat=True).first()
    return single_call_offer_find(code=code) if code else None


def _expired(call: Call) -> VoiceResponse:
    return _goodbye(call, VoiceResponse(), _("This single-call offer has expired. Nothing was charged."))


@twilio_signed
def voice_single_call_paid(request: HttpRequest) -> HttpResponse:
    """<Pay>'s action: charge the card token for the offer once (a repeated callback with the same
    token answers what the first came to), then say what happened."""
    call = _call(request)
    if call is None:
        return _restart(request)
    return _answer(call, _paid)


def _try_again(call: Call, response: VoiceResponse, offer_id: int, total: int, *sentences: str) -> VoiceResponse:
    gather = call.gather(response, call.url("voice_single_call_confirm", offer=offer_id, total=total))
    call.say(gather, *sentences, _("To try another card, press 1. To speak with an agent, press 0."))
    return _goodbye(call, response, _("Nothing was charged."))


def _paid(call: Call) -> VoiceResponse:
    response = VoiceResponse()
    offer_id, total = _offer_of(call)
    if offer_id is None:
        return _code_ask(call)
    post = call.request.POST
    token, result = post.get("PaymentToken", ""), post.get("Result", "")
    if result != "success" or not token:
        if token:
            phone_payments.phone_card_payment_detach(card_token=token)
        if result == "caller-interrupted-with-star":
            return _try_again(call, response, offer_id, total, _("You canceled the card entry. Nothing was charged."))
        return _try_again(call, response, offer_id, total, _("The card could not be entered. Nothing was charged."))
    outcome = single_call_pay(offer_id=offer_id, payment_method_id=token, expected_total_cents=total)
    return _outcome(call, response, outcome, offer_id, total)


def _outcome(call: Call, response: VoiceResponse, outcome, offer_id: int, total: int) -> VoiceResponse:
    """What the caller hears about the payment: paid, declined, 3-D Secure, or no longer payable."""
    if outcome.outcome == PayOutcome.PAID:
        words = {"total": money_words(outcome.total_cents, call.language)}
        last4 = outcome.payment.card_last4 if outcome.payment is not None else ""
        if last4:
            words["last4"] = " ".join(last4)
            call.say(response, _("Thank you. Your card ending in %(last4)s was charged %(total)s.") % words)
        else:
            call.say(response, _("Thank you. Your card was charged %(total)s.") % words)
        return _goodbye(call, response, _("Please hang up now: the call will be put through."))
    if outcome.outcome == PayOutcome.DECLINED:
        return _try_again(call, response, offer_id, total, _("Your card was declined. Nothing was charged."))
    if outcome.outcome == PayOutcome.NEEDS_AUTHENTICATION:
        return _try_again(
            call,
            response,
            offer_id,
            total,
            _("Your bank asks for a check that cannot be done by phone. Nothing was charged."),
            _("Please pay with an agent or another card."),
        )
    if outcome.outcome == PayOutcome.PRICE_CHANGED:
        offer = _offer_by_id(offer_id)
        if offer is not None:
            return _price(call, response, offer, problem=_("The price has changed. Nothing was charged."))
        return _expired(call)
    if outcome.outcome == PayOutcome.PENDING:
        return _goodbye(
            call,
            response,
            _("Your payment is still being processed. If it goes through, the call will be put through."),
        )
    return _expired(call)
