"""A number's line type from the carrier lookup (Twilio Lookup v2, line type intelligence), asked once
per number and kept (`LineTypeLookup`). Used only where it matters: a single call offered at a
facility that forbids cell phones, for a number no account registered (and so no holder chose a
line type for)."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from twilio.base.exceptions import TwilioException

from accounts.models import LineType
from accounts.texts.backends import twilio_client

from .models import LineTypeLookup

logger = logging.getLogger(__name__)

# The lookup runs while the platform waits for an authorize answer: a slow answer is given up on.
LOOKUP_TIMEOUT_SECONDS = 3

# Twilio's `line_type_intelligence.type` values, read as FamilyLine's line types. A number that
# forwards to or may be a mobile phone counts as one (nonFixedVoip, personal, pager); what is
# neither clearly a mobile nor clearly fixed stays unknown (which a no-cell facility refuses too).
CARRIER_TYPES = {
    "mobile": LineType.MOBILE,
    "nonFixedVoip": LineType.MOBILE,
    "personal": LineType.MOBILE,
    "pager": LineType.MOBILE,
    "landline": LineType.LANDLINE,
    "fixedVoip": LineType.VOIP,
    "tollFree": LineType.LANDLINE,
}


def line_type_of(*, e164: str) -> str:
    """The number's line type: the kept answer, else Twilio's, kept for next time. `unknown` when
    the lookup cannot be made or fails (not kept: asked again next time)."""
    kept = LineTypeLookup.objects.filter(number=e164).values_list("line_type", flat=True).first()
    if kept is not None:
        return kept
    if not settings.TWILIO_ACCOUNT_SID:
        return LineType.UNKNOWN
    try:
        answer = (
            twilio_client(timeout=LOOKUP_TIMEOUT_SECONDS)
            .lookups.v2.phone_numbers(e164)
            .fetch(fields="line_type_intelligence")
        )
    except (TwilioException, OSError) as exc:
        logger.warning("line type lookup of a number failed: %s", exc)
        return LineType.UNKNOWN
    intelligence = answer.line_type_intelligence or {}
    carrier_type = str(intelligence.get("type") or "")
    line_type = CARRIER_TYPES.get(carrier_type, LineType.UNKNOWN)
    if not carrier_type:  # Twilio answered without a type (an error code): not kept
        return line_type
    try:
        with transaction.atomic():
            LineTypeLookup.objects.create(
                number=e164, line_type=line_type, carrier_type=carrier_type[:30], looked_up_at=timezone.now()
            )
    except IntegrityError:  # looked up at the same moment by another authorize: the same answer
        pass
    return line_type
