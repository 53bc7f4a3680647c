"""Who is calling the voice menu: caller ID finds a registered number, and a phone PIN the holder set
on the web proves the caller. Caller ID alone never reveals a balance or moves money.

Five wrong PINs in a row from one calling number lock phone access to that account from that number
for PHONE_LOCK_DURATION and email the holder. The lock is per calling number, so a stranger spoofing
a family's caller ID (or calling with a withheld number) cannot lock the family out of its other
numbers, and never for longer than the lock lasts; the holder can unlock on the web."""

import re
from datetime import datetime, timedelta
from enum import Enum

import phonenumbers
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.ledger.errors import DomainError

from .emails import account_email_enqueue
from .models import AccountEvent, AccountStatus, CallingAccount, PhoneLock, PhoneNumber, PhonePin, PhoneSession, User

PIN_RE = re.compile(r"^[0-9]{4,8}$")
PHONE_PIN_MAX_FAILURES = 5
PHONE_LOCK_DURATION = timedelta(minutes=30)
# A call's session is trusted for at most this long (a call is capped well below it).
PHONE_SESSION_MAX_AGE = timedelta(hours=4)
WITHHELD = "withheld"


class PhoneAccessError(DomainError):
    """A PIN that cannot be set as asked. `message` is fit to show."""


class PinCheck(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"  # locked before this try: the PIN was not even checked
    LOCKED_NOW = "locked_now"  # this try was the fifth wrong one
    NO_PIN = "no_pin"


def calling_number_normalize(raw: str) -> str:
    """Twilio's `From` as E.164, or WITHHELD for an anonymous, blocked or unparsable caller ID."""
    try:
        parsed = phonenumbers.parse((raw or "").strip(), settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return WITHHELD
    if not phonenumbers.is_valid_number(parsed):
        return WITHHELD
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def keyed_number_normalize(digits: str) -> str | None:
    """Ten digits (or 1 and ten digits) keyed in as a US number, as E.164; None when not valid."""
    digits = "".join(ch for ch in (digits or "") if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    number = calling_number_normalize("+1" + digits)
    return None if number == WITHHELD else number


def registered_account_for(number: str) -> CallingAccount | None:
    """The open account a number is registered on (a number is active on at most one)."""
    if not number or number == WITHHELD:
        return None
    phone = (
        PhoneNumber.objects.filter(number=number, is_active=True)
        .exclude(account__status=AccountStatus.CLOSED)
        .select_related("account__holder")
        .first()
    )
    return phone.account if phone else None


# --- the PIN ---------------------------------------------------------------------------------------


def phone_pin_is_set(*, account: CallingAccount) -> bool:
    return PhonePin.objects.filter(account=account).exists()


def phone_pin_set(*, account: CallingAccount, pin: str, actor: User, now: datetime | None = None) -> None:
    """The holder sets (or changes) the account's phone PIN: 4 to 8 digits, kept hashed. Setting it
    also lifts any lock, since the holder now knows who has the PIN. Audited (never the PIN)."""
    if not PIN_RE.match(pin or ""):
        raise PhoneAccessError(_("A phone PIN is 4 to 8 digits."))
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise PhoneAccessError(_("Choose a PIN that is harder to guess than repeated or consecutive digits."))
    now = now or timezone.now()
    with transaction.atomic():
        PhonePin.objects.update_or_create(account=account, defaults={"pin_hash": make_password(pin), "set_at": now})
        PhoneLock.objects.filter(account=account).delete()
        AccountEvent.objects.create(account=account, action=AccountEvent.Action.PHONE_PIN_SET, actor=actor)


def phone_pin_reset(*, account: CallingAccount, actor: User, reason: str) -> None:
    """An agent resets the PIN (the holder asked by phone or mail): the PIN is removed, every lock
    lifted, the reset audited with its reason and the holder emailed, so a reset they did not ask
    for does not go unnoticed. The holder sets a new PIN on the web."""
    with transaction.atomic():
        PhonePin.objects.filter(account=account).delete()
        PhoneLock.objects.filter(account=account).delete()
        AccountEvent.objects.create(
            account=account, action=AccountEvent.Action.PHONE_PIN_RESET, actor=actor, reason=reason.strip()
        )
        account_email_enqueue(account_id=account.pk, template="phone_pin_reset")


def phone_unlock(*, account: CallingAccount, actor: User, now: datetime | None = None) -> int:
    """Lift every phone lock of the account (the holder on the web). Returns how many were locked."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = list(
            PhoneLock.objects.filter(account=account, locked_until__gt=now).values_list("calling_number", flat=True)
        )
        PhoneLock.objects.filter(account=account).delete()
        if locked:
            AccountEvent.objects.create(
                account=account,
                action=AccountEvent.Action.PHONE_UNLOCKED,
                actor=actor,
                data={"calling_numbers": locked},
            )
    return len(locked)


def phone_locks_active(*, account: CallingAccount, now: datetime | None = None) -> list[PhoneLock]:
    now = now or timezone.now()
    return list(PhoneLock.objects.filter(account=account, locked_until__gt=now).order_by("locked_until", "id"))


def phone_locked(*, account: CallingAccount, calling_number: str, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return PhoneLock.objects.filter(account=account, calling_number=calling_number, locked_until__gt=now).exists()


def phone_pin_check(*, account: CallingAccount, calling_number: str, pin: str, now: datetime | None = None) -> PinCheck:
    """Check a PIN keyed in from `calling_number`. The tries of one calling number are counted under
    a row lock, so PINs keyed in on several calls at once cannot slip past the fifth."""
    now = now or timezone.now()
    stored = PhonePin.objects.filter(account=account).first()
    if stored is None:
        return PinCheck.NO_PIN
    with transaction.atomic():
        PhoneLock.objects.get_or_create(account=account, calling_number=calling_number)
        tries = PhoneLock.objects.select_for_update().get(account=account, calling_number=calling_number)
        if tries.locked_until and tries.locked_until > now:
            return PinCheck.LOCKED
        if check_password(pin or "", stored.pin_hash):
            tries.failures = 0
            tries.locked_until = None
            tries.save(update_fields=["failures", "locked_until", "updated_at"])
            return PinCheck.OK
        tries.failures += 1
        if tries.failures < PHONE_PIN_MAX_FAILURES:
            tries.save(update_fields=["failures", "updated_at"])
            return PinCheck.WRONG
        tries.failures = 0
        tries.locked_until = now + PHONE_LOCK_DURATION
        tries.save(update_fields=["failures", "locked_until", "updated_at"])
        AccountEvent.objects.create(
            account=account,
            action=AccountEvent.Action.PHONE_LOCKED,
            data={"calling_number": calling_number, "locked_until": tries.locked_until.isoformat()},
        )
        account_email_enqueue(
            account_id=account.pk,
            template="phone_locked",
            calling_number=_number_display(calling_number),
            withheld=calling_number == WITHHELD,
            minutes=int(PHONE_LOCK_DURATION.total_seconds() // 60),
        )
        return PinCheck.LOCKED_NOW


def _number_display(number: str) -> str:
    if number == WITHHELD:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)


# --- one call's session ------------------------------------------------------------------------------


def phone_session_start(*, call_sid: str, calling_number_raw: str) -> PhoneSession:
    """The session of a new call (or the one already started for this CallSid: Twilio may retry).
    Caller ID picks the account to ask the PIN for and the language to greet in; nothing more."""
    calling_number = calling_number_normalize(calling_number_raw)
    account = registered_account_for(calling_number)
    language = account.holder.preferred_language if account else settings.LANGUAGE_CODE[:2]
    # A CallSid seen longer ago than a call can last is not this call: start it afresh.
    PhoneSession.objects.filter(call_sid=call_sid, created_at__lt=timezone.now() - PHONE_SESSION_MAX_AGE).delete()
    session, _created = PhoneSession.objects.get_or_create(
        call_sid=call_sid,
        defaults={"calling_number": calling_number, "account": account, "language": language},
    )
    return session


def phone_session_get(*, call_sid: str, now: datetime | None = None) -> PhoneSession | None:
    """The session of a call in progress (None for an unknown or stale CallSid)."""
    now = now or timezone.now()
    return (
        PhoneSession.objects.filter(call_sid=call_sid, created_at__gte=now - PHONE_SESSION_MAX_AGE)
        .select_related("account__holder")
        .first()
    )


def phone_session_verified(session: PhoneSession | None) -> bool:
    return session is not None and session.verified_at is not None and session.account_id is not None


def phone_session_language(*, session: PhoneSession, language: str) -> None:
    session.language = language
    session.language_chosen = True
    session.save(update_fields=["language", "language_chosen"])


def phone_session_identify(*, session: PhoneSession, keyed_digits: str) -> CallingAccount | None:
    """A caller from an unregistered or withheld number keys in a registered number; the account is
    only a candidate until the PIN is proved. Counts the tries (the menu gives up after a few)."""
    session.number_tries += 1
    number = keyed_number_normalize(keyed_digits)
    account = registered_account_for(number) if number else None
    session.account = account
    session.verified_at = None
    session.save(update_fields=["number_tries", "account", "verified_at"])
    return account


def phone_session_verify(*, session: PhoneSession, pin: str, now: datetime | None = None) -> PinCheck:
    """Check the PIN for the session's account. On success the call is verified, and a language the
    caller chose is remembered as the holder's."""
    if session.account is None:
        return PinCheck.NO_PIN
    now = now or timezone.now()
    result = phone_pin_check(account=session.account, calling_number=session.calling_number, pin=pin, now=now)
    if result == PinCheck.OK:
        session.verified_at = now
        session.save(update_fields=["verified_at"])
        holder = session.account.holder
        if session.language_chosen and holder.preferred_language != session.language:
            User.objects.filter(pk=holder.pk).update(preferred_language=session.language)
    return result


def phone_session_amount(*, session: PhoneSession, amount_cents: int | None, total_cents: int | None) -> None:
    """Remember the amount and total the caller heard and confirmed, for the card step."""
    session.amount_cents = amount_cents
    session.total_cents = total_cents
    session.save(update_fields=["amount_cents", "total_cents"])


def phone_sessions_forget(*, now: datetime | None = None) -> int:
    """Delete the sessions of calls that ended (older than a day): who called and when is not kept
    beyond that; PIN locks and their audit live elsewhere. Returns how many were deleted."""
    now = now or timezone.now()
    deleted, _by_model = PhoneSession.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    return deleted
