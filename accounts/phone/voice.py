"""The voice menu's webhooks. Twilio posts each step of a call here (signed: `twilio_signed`), with
the call's CallSid; the call's session says who the caller proved to be. Nothing that reveals or
moves money answers before the PIN is proved on this call."""

from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

from accounts import phone_access
from accounts.phone_access import PinCheck
from billing.ledger import kernel as ledger
from billing.payments import phone as phone_payments
from billing.payments.services import PaymentError

from .menu import MAIN_MENU, MENUS, Menu, agent
from .signatures import twilio_signed
from .speech import money_words
from .twiml import ENTRY_TIMEOUT_SECONDS, MAX_SILENCES, Call, spoken, twiml, webhook_url

OTHER_LANGUAGE = {"en": "es", "es": "en"}
# <Pay> reads its own card prompts, in fewer locales than <Say>: US Spanish is the one it offers.
PAY_LANGUAGES = {"en": "en-US", "es": "es-US"}
# The most whole dollars an amount keyed in may have (more is surely a slip of the finger).
AMOUNT_MAX_DIGITS = 5


def _call(request: HttpRequest) -> Call | None:
    session = phone_access.phone_session_get(call_sid=request.POST.get("CallSid", ""))
    return Call(request, session) if session is not None else None


def _answer(call: Call, build) -> HttpResponse:
    return twiml(spoken(call.language, lambda: build(call)))


def _restart(request: HttpRequest) -> HttpResponse:
    """A step of a call we do not know (or no longer trust): start over from the welcome."""
    response = VoiceResponse()
    response.redirect(webhook_url(request, "voice_incoming"), method="POST")
    return twiml(response)


def _verified(view):
    """A menu step: only for a call whose caller proved the PIN on this call."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        call = _call(request)
        if call is None or not phone_access.phone_session_verified(call.session):
            return _restart(request)
        return _answer(call, view)

    return twilio_signed(wrapped)


# --- welcome, who is calling ---------------------------------------------------------------------


@twilio_signed
def voice_incoming(request: HttpRequest) -> HttpResponse:
    """A new call: greet in the holder's language (English for an unknown caller) and offer the other."""
    call_sid = request.POST.get("CallSid", "").strip()
    if not call_sid or len(call_sid) > 64:
        return HttpResponseBadRequest("A call needs its CallSid.", content_type="text/plain")
    session = phone_access.phone_session_start(call_sid=call_sid, calling_number_raw=request.POST.get("From", ""))
    call = Call(request, session)

    def build(call: Call) -> VoiceResponse:
        response = VoiceResponse()
        gather = call.gather(response, call.url("voice_start"), timeout=4)
        call.say(gather, _("Welcome to FamilyLine."))
        other = OTHER_LANGUAGE[call.language]
        if other == "es":
            call.say(gather, "Para español, oprima 2.", language="es")
        else:
            call.say(gather, "For English, press 1.", language="en")
        call.say(
            gather,
            _("To block or unblock calls to your phone number, press 8."),
            _("If you have a single-call code, press 9."),
            _("To speak with an agent, press 0."),
        )
        return call.redirect(response, "voice_start")

    return _answer(call, build)


@twilio_signed
def voice_start(request: HttpRequest) -> HttpResponse:
    """After the language choice: ask for the PIN of the caller ID's account, or for a number."""
    call = _call(request)
    if call is None:
        return _restart(request)
    if call.digits in ("1", "2"):
        phone_access.phone_session_language(session=call.session, language="en" if call.digits == "1" else "es")
    if call.digits == "0":
        return _answer(call, agent)
    # For the called person, with no account or PIN: blocking their number, or paying a single call.
    if call.digits == "8":
        return twiml(call.redirect(VoiceResponse(), "voice_block"))
    if call.digits == "9":
        return twiml(call.redirect(VoiceResponse(), "voice_single_call", step="menu"))
    if call.account is None:
        return _answer(call, _ask_number)
    return _answer(call, _ask_pin)


def _ask_number(call: Call, *, again: bool = False) -> VoiceResponse:
    response = VoiceResponse()
    gather = call.gather(response, call.url("voice_number"), num_digits=10, timeout=ENTRY_TIMEOUT_SECONDS)
    if again:
        call.say(gather, _("We could not find that number on an open account. Please try again."))
    call.say(gather, _("Please enter the ten-digit phone number registered on your FamilyLine account."))
    call.say(response, _("We did not hear a number. Goodbye."))
    response.hangup()
    return response


@twilio_signed
def voice_number(request: HttpRequest) -> HttpResponse:
    """A caller from an unregistered or withheld number keyed in a registered number."""
    call = _call(request)
    if call is None:
        return _restart(request)
    account = phone_access.phone_session_identify(session=call.session, keyed_digits=call.digits)
    if account is not None:
        return _answer(call, _ask_pin)
    if call.session.number_tries >= MAX_SILENCES:
        return _answer(call, _goodbye_number)
    return _answer(call, lambda call: _ask_number(call, again=True))


def _goodbye_number(call: Call) -> VoiceResponse:
    response = VoiceResponse()
    call.say(response, _("We could not find that number. Please check it on the website and call again. Goodbye."))
    response.hangup()
    return response


def _ask_pin(call: Call, *, again: bool = False) -> VoiceResponse:
    response = VoiceResponse()
    account = call.account
    if phone_access.phone_locked(account=account, calling_number=call.session.calling_number):
        return _locked(call, response)
    if not phone_access.phone_pin_is_set(account=account):
        gather = call.gather(response, call.url("voice_choice", menu="nopin"))
        call.say(
            gather,
            _(
                "This account has no phone PIN yet. To use this line, log in on the FamilyLine website, open "
                "your account and choose Phone PIN to set one. Then call again."
            ),
            _("To speak with an agent, press 0."),
        )
        call.say(response, _("Goodbye."))
        response.hangup()
        return response
    gather = call.gather(
        response, call.url("voice_pin"), num_digits=8, finish_on_key="#", timeout=ENTRY_TIMEOUT_SECONDS
    )
    if again:
        call.say(gather, _("That PIN is not right. Please try again."))
    call.say(gather, _("Please enter your phone PIN, then press pound."))
    call.say(response, _("We did not hear a PIN. Goodbye."))
    response.hangup()
    return response


def _locked(call: Call, response: VoiceResponse, *, just_now: bool = False) -> VoiceResponse:
    if just_now:
        call.say(
            response,
            _("That PIN was wrong five times."),
            _(
                "Phone access to this account from this number is locked for thirty minutes. The account holder "
                "can unlock it on the website, or you can call from another registered number. Goodbye."
            ),
        )
    else:
        call.say(
            response,
            _(
                "Phone access to this account from this number is locked. Please try again later, call from "
                "another registered number, or ask the account holder to unlock it on the website. Goodbye."
            ),
        )
    response.hangup()
    return response


@twilio_signed
def voice_pin(request: HttpRequest) -> HttpResponse:
    call = _call(request)
    if call is None or call.account is None:
        return _restart(request)
    result = phone_access.phone_session_verify(session=call.session, pin=call.digits)
    if result == PinCheck.OK:
        call.session.refresh_from_db(fields=["language"])
        return _answer(call, _main_menu)
    if result in (PinCheck.LOCKED, PinCheck.LOCKED_NOW):
        return _answer(call, lambda call: _locked(call, VoiceResponse(), just_now=result == PinCheck.LOCKED_NOW))
    return _answer(call, lambda call: _ask_pin(call, again=True))


# --- the menu ------------------------------------------------------------------------------------


def _menu_named(call: Call) -> Menu:
    return MENUS.get(call.param("menu", MAIN_MENU.name), MAIN_MENU)


def _play_menu(call: Call, menu: Menu) -> VoiceResponse:
    """Say the menu and wait for a key; unanswered, it says so and repeats, then ends the call."""
    response = VoiceResponse()
    silences = int(call.param("silences")) if call.param("silences").isdigit() else 0
    if silences >= MAX_SILENCES:
        call.say(response, _("We did not hear a choice. Thank you for calling FamilyLine. Goodbye."))
        response.hangup()
        return response
    gather = call.gather(response, call.url("voice_choice", menu=menu.name))
    if silences:
        call.say(gather, _("We did not hear a choice."))
    call.say(gather, menu.words(call.account))
    return call.redirect(response, "voice_menu", menu=menu.name, silences=silences + 1)


def _main_menu(call: Call) -> VoiceResponse:
    return _play_menu(call, MAIN_MENU)


def _may_hear(call: Call, menu: Menu) -> bool:
    return not menu.requires_pin or phone_access.phone_session_verified(call.session)


@twilio_signed
def voice_menu(request: HttpRequest) -> HttpResponse:
    """A menu (the main one unless the address names another): where every answer comes back to."""
    call = _call(request)
    if call is None or not _may_hear(call, _menu_named(call)):
        return _restart(request)
    return _answer(call, lambda call: _play_menu(call, _menu_named(call)))


@twilio_signed
def voice_choice(request: HttpRequest) -> HttpResponse:
    """A key pressed in a menu. 0 is the agent everywhere and * repeats; the rest is the menu's."""
    call = _call(request)
    if call is None:
        return _restart(request)
    key, menu = call.digits[:1], _menu_named(call)
    if key == "0":
        return _answer(call, agent)
    if call.param("menu") == "nopin" and not phone_access.phone_session_verified(call.session):
        # Before the PIN, a caller whose account has none may reach an agent (0), nothing else.
        return _answer(call, _ask_pin) if call.account is not None else _restart(request)
    if not _may_hear(call, menu):
        return _restart(request)
    if call.param("item"):
        # A key after an answer: * hears it again, # (or nothing) goes back to the menu.
        item = menu.find(call.param("item"), call.account)
        if key == "*" and item is not None:
            return _answer(call, item.handler)
        if key in ("#", "*", ""):
            return _answer(call, lambda call: _play_menu(call, menu))
    option = menu.find(key, call.account)
    if option is None:
        return _answer(call, lambda call: _not_an_option(call, menu))
    return _answer(call, option.handler)


def _not_an_option(call: Call, menu: Menu) -> VoiceResponse:
    response = VoiceResponse()
    if call.digits and call.digits != "*":
        call.say(response, _("Sorry, that is not one of the choices."))
    response.append(_play_menu(call, menu))
    return response


# --- paying by card --------------------------------------------------------------------------------


def _amount_prompt(call: Call, response: VoiceResponse, *, problem: str = "", dollars: bool = False) -> VoiceResponse:
    """Prepaid: the amount in whole dollars. Direct Bill: all that is owed (1) or part of it (2)."""
    account, language = call.account, call.language
    if not account.is_prepaid and not dollars:
        gather = call.gather(response, call.url("voice_pay_amount", step="choose"))
        call.say(
            gather,
            problem,
            _("You owe %(amount)s.") % {"amount": money_words(ledger.owed_cents(account=account), language)},
            _("To pay all of it, press 1. To pay part of it, press 2."),
        )
        return call.redirect(response, "voice_menu")
    gather = call.gather(
        response,
        call.url("voice_pay_amount"),
        num_digits=AMOUNT_MAX_DIGITS,
        finish_on_key="#",
        timeout=ENTRY_TIMEOUT_SECONDS,
    )
    call.say(gather, problem)
    if account.is_prepaid:
        words = {
            "low": money_words(settings.MIN_DEPOSIT_CENTS, language),
            "high": money_words(settings.MAX_DEPOSIT_CENTS, language),
        }
        call.say(
            gather, _("Enter the amount to add in whole dollars, from %(low)s to %(high)s, then press pound.") % words
        )
    else:
        call.say(gather, _("Enter the amount to pay in whole dollars, then press pound."))
    return call.redirect(response, "voice_menu")


@_verified
def voice_pay_amount(call: Call) -> VoiceResponse:
    """Ask for the amount, or read back the one keyed in: amount + fee = total, confirmed with 1."""
    response = VoiceResponse()
    account = call.account
    if not account.is_prepaid and ledger.owed_cents(account=account) <= 0:
        call.say(response, _("Nothing is owed now."))
        return call.redirect(response, "voice_menu")
    if "Digits" not in call.request.POST:
        return _amount_prompt(call, response)
    digits = call.digits.strip("#*")
    if call.param("step") == "choose":
        if call.digits == "0":
            return agent(call)
        if call.digits == "*":
            return _amount_prompt(call, response)
        if digits != "1":
            return _amount_prompt(call, response, dollars=True)
        amount = ledger.owed_cents(account=account)
    elif digits.isdigit():
        amount = int(digits) * 100
    else:
        return _amount_prompt(call, response, problem=_("We did not hear an amount."), dollars=True)
    try:
        quote = phone_payments.phone_payment_quote(account=account, amount_cents=amount)
    except PaymentError as exc:
        return _amount_prompt(call, response, problem=exc.message, dollars=True)
    phone_access.phone_session_amount(
        session=call.session, amount_cents=quote.amount_cents, total_cents=quote.total_cents
    )
    return _read_back(call, response)


def _read_back(call: Call, response: VoiceResponse) -> VoiceResponse:
    session, language = call.session, call.language
    assert session.amount_cents is not None and session.total_cents is not None, "read back once an amount is set"
    words = {
        "amount": money_words(session.amount_cents, language),
        "fee": money_words(session.total_cents - session.amount_cents, language),
        "total": money_words(session.total_cents, language),
    }
    gather = call.gather(response, call.url("voice_pay_confirm"))
    if call.account.is_prepaid:
        call.say(gather, _("You are adding %(amount)s to your balance.") % words)
    else:
        call.say(gather, _("You are paying %(amount)s toward what you owe.") % words)
    if session.total_cents != session.amount_cents:
        call.say(gather, _("The processing fee is %(fee)s, so your card will be charged %(total)s.") % words)
    else:
        call.say(gather, _("There is no processing fee: your card will be charged %(total)s.") % words)
    call.say(
        gather,
        _(
            "To enter your card, press 1. To change the amount, press 2. To hear this again, press star. "
            "Nothing is charged until your card is entered."
        ),
    )
    return call.redirect(response, "voice_menu")


@_verified
def voice_pay_confirm(call: Call) -> VoiceResponse:
    """1: the card entry (<Pay>, tokenize only: Twilio never charges, FamilyLine does after)."""
    response = VoiceResponse()
    session = call.session
    if call.digits == "0":
        return agent(call)
    if session.amount_cents is None or call.digits == "2":
        return _amount_prompt(call, response, dollars=True)
    if call.digits != "1":
        return _read_back(call, response)
    try:
        quote = phone_payments.phone_payment_quote(account=call.account, amount_cents=session.amount_cents)
    except PaymentError as exc:
        return _amount_prompt(call, response, problem=exc.message, dollars=True)
    if quote.total_cents != session.total_cents:
        # The fee changed since it was read: read the new total before anything is charged.
        phone_access.phone_session_amount(
            session=session, amount_cents=quote.amount_cents, total_cents=quote.total_cents
        )
        call.say(response, _("The processing fee has changed."))
        return _read_back(call, response)
    return card_entry(call, response, action=call.url("voice_pay_done"), description="FamilyLine")


def card_entry(call: Call, response: VoiceResponse, *, action: str, description: str) -> VoiceResponse:
    """<Pay> in tokenize mode (Twilio collects the card and returns a Stripe PaymentMethod id to
    `action`; it never charges), nothing recorded, `*` cancels."""
    call.say(response, _("Please enter your card on your keypad. To cancel, press star at any time."))
    response.pay(
        input="dtmf",
        payment_connector=settings.TWILIO_PAY_CONNECTOR,
        token_type="payment-method",
        action=action,
        status_callback=call.url("voice_pay_status"),
        payment_method="credit-card",
        postal_code=True,
        max_attempts=3,
        timeout=10,
        language=PAY_LANGUAGES[call.language],
        description=description,
    )
    return response


@_verified
def voice_pay_done(call: Call) -> VoiceResponse:
    """<Pay>'s action: charge the card token once (per call and token), then say what happened."""
    response = VoiceResponse()
    post = call.request.POST
    token, result = post.get("PaymentToken", ""), post.get("Result", "")
    session = call.session
    if result != "success" or not token or session.amount_cents is None:
        if token:
            phone_payments.phone_card_payment_detach(card_token=token)
        if result == "caller-interrupted-with-star":
            call.say(response, _("You canceled the card entry. Nothing was charged."))
        else:
            call.say(response, _("The card could not be entered. Nothing was charged."))
        return call.redirect(response, "voice_menu")
    assert session.total_cents is not None, "set with the amount"
    charge = phone_payments.phone_card_payment_charge(
        account=call.account,
        amount_cents=session.amount_cents,
        expected_total_cents=session.total_cents,
        call_sid=session.call_sid,
        card_token=token,
    )
    outcome = charge.outcome
    if outcome == phone_payments.PhoneOutcome.PAID:
        return _paid(call, response, charge.payment)
    call.say(response, charge.message)
    if outcome == phone_payments.PhoneOutcome.NEEDS_AUTHENTICATION:
        call.say(response, _("Please pay on the website or with an agent."))
    return call.redirect(response, "voice_menu")


def _paid(call: Call, response: VoiceResponse, payment) -> VoiceResponse:
    language = call.language
    words = {
        "total": money_words(payment.total_cents, language),
        "amount": money_words(payment.amount_cents, language),
        "last4": " ".join(payment.card_last4),
    }
    call.say(response, _("Thank you. Your card ending in %(last4)s was charged %(total)s.") % words)
    balance = ledger.balance_get(account=call.account)
    if call.account.is_prepaid:
        call.say(
            response,
            _("We added %(amount)s. Your balance is now %(balance)s.")
            % {**words, "balance": money_words(balance, language)},
        )
    elif balance < 0:
        call.say(response, _("You now owe %(owed)s.") % {"owed": money_words(-balance, language)})
    else:
        call.say(response, _("Nothing is owed now."))
    call.say(response, _("A receipt is on its way by email."))
    return call.redirect(response, "voice_menu")


@twilio_signed
def voice_pay_status(request: HttpRequest) -> HttpResponse:
    """<Pay>'s progress reports. Nothing is decided on them: the action callback charges."""
    return HttpResponse(status=204)
