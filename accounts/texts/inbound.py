"""What the number's owner texts back (STOP, START, HELP and their synonyms) and what Twilio reports
about delivery. Both arrive on signed webhooks; these services decide, the views only answer."""

from django.db import transaction

from accounts.models import Language, TextConsent, TextMessage, TextReceived, TextStatusEvent

from .backends import OPTED_OUT_ERROR
from .sending import number_resume, number_stop
from .wording import help_text, number_e164, resumed_text, stopped_text

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "PARAR", "ALTO"}
START_WORDS = {"START", "UNSTOP", "YES", "OPTIN", "COMENZAR", "INICIAR"}
HELP_WORDS = {"HELP", "INFO", "AYUDA"}
SPANISH_WORDS = {"PARAR", "ALTO", "COMENZAR", "INICIAR", "AYUDA"}


def _language(number: str, keyword: str) -> str:
    if keyword in SPANISH_WORDS:
        return Language.SPANISH
    consent = TextConsent.objects.filter(number=number).order_by("-confirmed_at", "-id").first()
    return consent.language if consent else Language.ENGLISH


def text_received(*, from_number: str, body: str, provider_sid: str = "") -> str:
    """Act on a text received from `from_number` and keep it; returns the reply to send ("" for
    none). STOP takes effect before this returns."""
    keyword = "".join(ch for ch in (body or "").strip().upper() if ch.isalnum())
    try:
        number = number_e164(from_number)
    except ValueError:
        number = ""
    reply = ""
    with transaction.atomic():
        if keyword in STOP_WORDS and number:
            number_stop(number=number, keyword=keyword)
            reply = stopped_text(_language(number, keyword))
        elif keyword in START_WORDS and number:
            number_resume(number=number, keyword=keyword)
            reply = resumed_text(_language(number, keyword))
        elif keyword in HELP_WORDS:
            reply = help_text(_language(number, keyword))
        known = keyword in STOP_WORDS | START_WORDS | HELP_WORDS
        TextReceived.objects.create(
            from_number=str(from_number or "")[:40],
            body=str(body or "")[:1600],
            keyword=keyword if known else "",
            reply=reply,
            provider_sid=str(provider_sid or "")[:64],
        )
    return reply


def _error_code(value: str) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def text_status_received(*, fields: dict) -> TextStatusEvent:
    """Keep a delivery status Twilio reported and show it on its message; an opted-out error stops
    the number."""
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "")[:20]
    error_code = _error_code(fields.get("ErrorCode", ""))
    with transaction.atomic():
        message = TextMessage.objects.select_for_update().filter(provider_sid=sid).first() if sid else None
        event = TextStatusEvent.objects.create(
            message=message, provider_sid=sid[:64], status=status, error_code=error_code, payload=fields
        )
        if message is not None:
            message.delivery_status = status
            update = ["delivery_status"]
            if error_code is not None:
                message.error_code = error_code
                update.append("error_code")
            message.save(update_fields=update)
            if error_code == OPTED_OUT_ERROR:
                number_stop(number=str(message.to_number), keyword="carrier")
    return event
