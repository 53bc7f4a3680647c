"""Staff tools for blocked numbers: stop inmates calling a number, and lift the block."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User

from .callpath.errors import CallInputError, normalize_number
from .models import BlockedNumber, BlockSource, Facility


class BlockError(Exception):
    """A block request staff can correct; the message is fit to show."""


def number_block(*, number: str, facility: Facility | None, reason: str, actor: User | None) -> BlockedNumber:
    """Stop inmates (at one facility, or everywhere) from calling a number."""
    try:
        e164 = normalize_number(number)
    except CallInputError as exc:
        raise BlockError(exc.message) from None
    if not reason.strip():
        raise BlockError("Say why the number is blocked.")
    try:
        with transaction.atomic():
            return BlockedNumber.objects.create(number=e164, facility=facility, reason=reason.strip(), created_by=actor)
    except IntegrityError:
        raise BlockError("This number is already blocked there.") from None


def number_unblock(*, block: BlockedNumber) -> None:
    """Lift a staff block (a block the number's owner placed is theirs to lift)."""
    BlockedNumber.objects.filter(pk=block.pk, source=BlockSource.STAFF, lifted_at__isnull=True).update(
        lifted_at=timezone.now()
    )
