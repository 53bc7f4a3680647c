"""What texts say, in the holder's language, and how many SMS segments a text takes.

A text longer than one segment is split by the carrier: GSM-7 texts (plain Latin letters) hold 160
characters alone or 153 per segment, and a single character outside GSM-7 (á, í, ó, ú, emoji…) makes
the whole text UCS-2: 70 alone, 67 per segment. FamilyLine sends at most MAX_SEGMENTS per text."""

import math
from datetime import date

import phonenumbers
from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from billing.ledger.money import format_cents

MAX_SEGMENTS = 2

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these takes two GSM-7 characters (an escape and the character).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


class NumberInvalid(ValueError):
    """Not a phone number FamilyLine can text; the message is fit to show."""


def number_e164(text: str) -> str:
    """E.164 for a number in E.164 or US national form; raises NumberInvalid."""
    try:
        parsed = phonenumbers.parse(str(text or "").strip(), "US")
    except phonenumbers.NumberParseException:
        raise NumberInvalid(_("Enter a phone number, for example (860) 555-0123.")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise NumberInvalid(_("This is not a valid phone number."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def segments_count(body: str) -> int:
    """How many SMS segments the body takes."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body):
        septets = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


class TextTooLong(ValueError):
    pass


def checked(body: str) -> str:
    """The body, refused when it needs more than MAX_SEGMENTS segments (a wording to shorten)."""
    if segments_count(body) > MAX_SEGMENTS:
        raise TextTooLong(f"{segments_count(body)} segments: {body!r}")
    return body


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def _stop() -> str:
    return _("Reply STOP to stop texts.")


def _account_notice(template: str, context: dict) -> str:
    due = context.get("due_date")
    values = {
        "account": context["account_id"],
        "amount": format_cents(context.get("amount_cents") or 0),
        "balance": format_cents(context.get("balance_cents") or 0),
        "due": date_format(date.fromisoformat(due), "SHORT_DATE_FORMAT") if due else "",
        "site": _site(),
    }
    wordings = {
        "low_balance": _("FamilyLine: account #%(account)s is down to %(balance)s. Add money: %(site)s"),
        "calls_stopped": _(
            "FamilyLine: account #%(account)s is out of money (%(balance)s). Calls stop until you add money: %(site)s"
        ),
        "auto_reload_stopped": _(
            "FamilyLine: auto-reload of account #%(account)s is off: the card was not charged. See %(site)s"
        ),
        "account_suspended": _(
            "FamilyLine: account #%(account)s is suspended; calls to your numbers will not connect. See %(site)s"
        ),
        "payment_receipt": _("FamilyLine receipt: %(amount)s paid to account #%(account)s. Thank you."),
        "statement_ready": _("FamilyLine: the statement of account #%(account)s is ready, due %(due)s. See %(site)s"),
    }
    return wordings[template] % values


def account_notice_text(*, template: str, language: str, context: dict) -> str:
    """The text of an account notice (`context`: account_id, and amount_cents, balance_cents or due_date)."""
    with translation.override(language):
        return checked(f"{_account_notice(template, context)} {_stop()}")


def code_text(*, code: str, purpose: str, language: str) -> str:
    with translation.override(language):
        if purpose == "text_opt_in":
            what = _("FamilyLine code to turn on texts: %(code)s.")
        else:
            what = _("FamilyLine code to block or unblock calls to this number: %(code)s.")
        return checked(f"{what % {'code': code}} {_('It expires in 10 minutes. Do not share it.')}")


def code_speech(*, code: str, language: str) -> str:
    """What a voice call reading a code says (the digits one by one, twice)."""
    digits = ", ".join(code)
    with translation.override(language):
        return _("This is FamilyLine. Your code is %(digits)s. Again: %(digits)s.") % {"digits": digits}


def help_text(language: str) -> str:
    with translation.override(language):
        return checked(
            _(
                "FamilyLine: prepaid calling accounts for families. Help: %(site)s or call %(phone)s. "
                "Msg & data rates may apply. Reply STOP to stop."
            )
            % {"site": _site(), "phone": _phone()}
        )


def stopped_text(language: str) -> str:
    with translation.override(language):
        return checked(_("FamilyLine: you will get no more texts. Reply START to get them again."))


def resumed_text(language: str) -> str:
    with translation.override(language):
        return checked(
            _("FamilyLine: texts are on again. Msg & data rates may apply. Reply HELP for help, STOP to stop.")
        )


def consent_wording(language: str) -> str:
    """What the holder agrees to, shown beside the button and kept with the consent, word for word."""
    with translation.override(language):
        return _(
            "I agree to receive text messages from FamilyLine at this number about my account: low balance, "
            "auto-reload, receipts, suspension and statements. At most a few messages a month; message "
            "and data rates may apply. Reply STOP to stop at any time, HELP for help. Consent is not a "
            "condition of any purchase."
        )


def _phone() -> str:
    number = settings.TWILIO_PHONE_NUMBER
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, "US"), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return number
