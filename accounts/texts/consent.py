"""A holder turns texts on for a number of their account (confirmed by a code texted to it, the
consent kept word for word) or off, on the web."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PhoneNumber, PossessionCode, TextConsent, TextMessage, User

from .possession import PossessionError, possession_code_check, possession_code_send
from .wording import consent_wording


def text_consent_active(*, phone: PhoneNumber) -> TextConsent | None:
    return TextConsent.objects.filter(
        account_id=phone.account_id, number=phone.number, withdrawn_at__isnull=True
    ).first()


def text_opt_in_start(*, holder: User, phone: PhoneNumber, client_address: str | None) -> PossessionCode:
    """Text a confirmation code to the number (raises PossessionError)."""
    if not phone.is_active or phone.account.holder_id != holder.pk:
        raise PossessionError(_("This number is not on your account."))
    return possession_code_send(
        number=str(phone.number),
        purpose=PossessionCode.Purpose.TEXT_OPT_IN,
        channel=TextMessage.Channel.SMS,
        client_address=client_address,
        language=holder.preferred_language,
        holder=holder,
        account=phone.account,
    )


def text_opt_in_confirm(
    *,
    holder: User,
    phone: PhoneNumber,
    code: str,
    language: str,
    client_address: str | None,
    now: datetime | None = None,
) -> TextConsent:
    """The code texted to the number proves it is the holder's: the consent is recorded with the
    wording shown (in `language`, the page's language) and the moment."""
    now = now or timezone.now()
    if not phone.is_active or phone.account.holder_id != holder.pk:
        raise PossessionError(_("This number is not on your account."))
    proof = possession_code_check(
        number=str(phone.number), purpose=PossessionCode.Purpose.TEXT_OPT_IN, code=code, now=now
    )
    if proof.holder_id != holder.pk or proof.account_id != phone.account_id:
        raise PossessionError(_("This code is not right. Check the last code we sent and try again."))
    try:
        with transaction.atomic():
            return TextConsent.objects.create(
                holder=holder,
                account=phone.account,
                number=phone.number,
                wording=consent_wording(language),
                language=language,
                confirmed_at=now,
                client_address=client_address or None,
            )
    except IntegrityError:  # confirmed twice at once: the first consent stands
        consent = text_consent_active(phone=phone)
        assert consent is not None, "the consent that won the race"
        return consent


def text_opt_out(*, holder: User, phone: PhoneNumber, now: datetime | None = None) -> int:
    """Texts about the account to this number stop at once (queued ones are canceled)."""
    now = now or timezone.now()
    with transaction.atomic():
        withdrawn = TextConsent.objects.filter(
            holder=holder, account_id=phone.account_id, number=phone.number, withdrawn_at__isnull=True
        ).update(withdrawn_at=now, withdrawn_how=TextConsent.Withdrawn.WEB)
        TextMessage.objects.filter(
            account_id=phone.account_id, to_number=phone.number, status=TextMessage.Status.QUEUED
        ).update(status=TextMessage.Status.CANCELED, error_message="The holder turned texts off.")
    return withdrawn
