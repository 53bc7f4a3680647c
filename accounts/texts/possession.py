"""Proof that someone holds a phone number: a one-time code sent to it, by text or read out by a voice
call FamilyLine places (for landlines), typed back within CODE_TTL. Caller ID alone is never proof.

Codes are rate-limited per number (so nobody floods a phone) and per client address (so nobody walks
through many numbers), tried at most MAX_TRIES times, and kept only as a keyed hash."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from twilio.twiml.voice_response import VoiceResponse

from accounts.models import Language, PossessionCode, TextMessage, TextPurpose

from .sending import number_stopped, text_queue, text_send_now
from .wording import code_speech, code_text, number_e164

CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
# At most this many codes to one number, and from one client address, in the window.
PER_NUMBER_LIMIT = 5
PER_CLIENT_LIMIT = 10
LIMIT_WINDOW = timedelta(hours=1)
CHANNELS = (TextMessage.Channel.SMS, TextMessage.Channel.VOICE)


class PossessionError(Exception):
    """A code could not be sent or was not accepted; the message is fit to show."""


def _lock(names: list[str]) -> None:
    """PostgreSQL advisory locks, until the transaction ends, on 64-bit hashes of the names (in key
    order, so two requests never wait on each other crosswise)."""
    if connection.vendor != "postgresql":
        return
    keys = sorted(
        {
            int.from_bytes(hashlib.blake2b(f"possession:{n}".encode(), digest_size=8).digest(), "big", signed=True)
            for n in names
        }
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def _hash(*, number: str, purpose: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"possession:{number}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def deliver_code(*, number: str, code: str, channel: str, purpose: str, language: str = Language.ENGLISH) -> None:
    """Send the code to the number: a text ("sms") or a voice call that reads it out ("voice"). The
    stored message keeps no digits of it. Raises PossessionError when it could not go out."""
    if channel == TextMessage.Channel.VOICE:
        speech = VoiceResponse()
        speech.say(code_speech(code=code, language=language), language="es-MX" if language == "es" else "en-US")
        body = str(speech)
    elif channel == TextMessage.Channel.SMS:
        if number_stopped(number):
            raise PossessionError(
                _("This number replied STOP to FamilyLine texts. Text START to us first, or ask for a call.")
            )
        body = code_text(code=code, purpose=purpose, language=language)
    else:
        raise ValueError(f"unknown channel {channel!r}")
    stored = body.replace(code, "••••••").replace(", ".join(code), "•, •, •, •, •, •")
    message = text_queue(to=number, body=stored, purpose=TextPurpose.CODE, language=language, channel=channel)
    assert message is not None, "queued without a dedupe key: never a duplicate"
    sent = text_send_now(message=message, body=body)
    if sent.status == TextMessage.Status.FAILED:
        raise PossessionError(_("We could not send a code to this number. Check it and try again."))


def possession_code_send(
    *,
    number: str,
    purpose: str,
    channel: str,
    client_address: str | None,
    language: str = Language.ENGLISH,
    holder=None,
    account=None,
    now: datetime | None = None,
) -> PossessionCode:
    """Send a new code to the number (raises PossessionError over a limit or when it cannot go out)."""
    now = now or timezone.now()
    try:
        e164 = number_e164(number)
    except ValueError as exc:
        raise PossessionError(str(exc)) from None
    if channel not in CHANNELS:
        raise PossessionError(_("Choose a text or a call."))
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        # Requests at once for one number (or from one address) count in turn: none slips past a limit.
        _lock([f"number:{e164}"] + ([f"client:{client_address}"] if client_address else []))
        recent = PossessionCode.objects.filter(created_at__gte=now - LIMIT_WINDOW)
        if recent.filter(number=e164).count() >= PER_NUMBER_LIMIT:
            raise PossessionError(_("Too many codes were sent to this number. Try again in an hour."))
        if client_address and recent.filter(client_address=client_address).count() >= PER_CLIENT_LIMIT:
            raise PossessionError(_("Too many codes were asked for from here. Try again in an hour."))
        proof = PossessionCode.objects.create(
            number=e164,
            purpose=purpose,
            channel=channel,
            code_hash=_hash(number=e164, purpose=purpose, code=code),
            client_address=client_address or None,
            holder=holder,
            account=account,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    deliver_code(number=e164, code=code, channel=channel, purpose=purpose, language=language)
    return proof


def possession_code_check(*, number: str, purpose: str, code: str, now: datetime | None = None) -> PossessionCode:
    """The latest unused code sent to the number for this purpose, if `code` is it and it has not
    expired or been tried too often; it is then used up. Every wrong try counts."""
    now = now or timezone.now()
    try:
        e164 = number_e164(number)
    except ValueError as exc:
        raise PossessionError(str(exc)) from None
    code = "".join(str(code or "").split())
    with transaction.atomic():
        proof = (
            PossessionCode.objects.select_for_update()
            .filter(number=e164, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if proof is None or proof.expires_at <= now:
            raise PossessionError(_("This code has expired. Ask for a new one."))
        if proof.attempts >= MAX_TRIES:
            raise PossessionError(_("Too many wrong codes. Ask for a new one."))
        proof.attempts += 1
        right = hmac.compare_digest(proof.code_hash, _hash(number=e164, purpose=purpose, code=code))
        if right:
            proof.used_at = now
        proof.save(update_fields=["attempts", "used_at"])
    if not right:
        raise PossessionError(_("This code is not right. Check the last code we sent and try again."))
    return proof
