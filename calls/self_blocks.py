"""A called person blocks (or unblocks) calls to their own number, after proving it is theirs with a
code sent to it: by text, or read out by a voice call to it (for landlines). No account or PIN is
needed, and caller ID alone is never proof. The block is everywhere and at once (authorize reads every
active block); it lifts only the owner's own block, never one staff placed."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Language, PossessionCode
from accounts.texts.possession import PossessionError, possession_code_check, possession_code_send

from .models import BlockedNumber, BlockSource

SELF_BLOCK_REASON = "Blocked by the number's owner"
PURPOSES = {"block": PossessionCode.Purpose.SELF_BLOCK, "unblock": PossessionCode.Purpose.SELF_UNBLOCK}

__all__ = ["PossessionError", "self_block_active", "self_block_code_send", "self_block_confirm"]


def self_block_active(*, number: str) -> bool:
    return BlockedNumber.objects.filter(number=number, source=BlockSource.SELF, lifted_at__isnull=True).exists()


def self_block_code_send(
    *, number: str, action: str, channel: str, client_address: str | None, language: str = Language.ENGLISH
) -> PossessionCode:
    """Send a code to the number, to block ("block") or unblock ("unblock") it. Raises PossessionError
    (a message fit to show) over a rate limit or when it cannot be sent."""
    return possession_code_send(
        number=number, purpose=PURPOSES[action], channel=channel, client_address=client_address, language=language
    )


def self_block_confirm(
    *, number: str, action: str, code: str, client_address: str | None, now: datetime | None = None
) -> BlockedNumber | None:
    """With the right code: block the number everywhere (the active self-block, new or existing), or
    lift its self-block (None; a staff block stays). Raises PossessionError otherwise."""
    now = now or timezone.now()
    proof = possession_code_check(number=number, purpose=PURPOSES[action], code=code, now=now)
    e164 = str(proof.number)
    active = BlockedNumber.objects.filter(number=e164, source=BlockSource.SELF, facility__isnull=True, lifted_at=None)
    if action == "unblock":
        active.update(lifted_at=now, lifted_proven_by=proof.channel, lifted_client_address=client_address or None)
        return None
    try:
        with transaction.atomic():
            return BlockedNumber.objects.create(
                number=e164,
                source=BlockSource.SELF,
                reason=SELF_BLOCK_REASON,
                proven_by=proof.channel,
                client_address=client_address or None,
            )
    except IntegrityError:  # already blocked by its owner: that block stands
        return active.first()
