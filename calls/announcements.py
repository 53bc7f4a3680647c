"""What the called party hears on answering, in the language of the account holder of the number."""

import functools

from django.utils import translation
from django.utils.translation import gettext

from .models import Billing


@functools.lru_cache(maxsize=4096)
def announcement(*, billing: str, inmate_name: str, facility_name: str, language: str) -> str:
    """Remembered per (billing, names, language) in this process: every allowed call asks, and the
    text changes only with a release (its translations) or with the names it is given."""
    with translation.override(language or "en"):
        if billing == Billing.INMATE_DEBIT:
            text = gettext("This is a prepaid call from %(inmate)s, an inmate at %(facility)s.")
        elif billing == Billing.SINGLE_CALL:
            text = gettext("This is a call from %(inmate)s, an inmate at %(facility)s. You have already paid for it.")
        elif billing == Billing.FREE:
            text = gettext("This is a free call from %(inmate)s, an inmate at %(facility)s.")
        else:
            text = gettext(
                "This is a collect call from %(inmate)s, an inmate at %(facility)s. "
                "It will be charged to your FamilyLine account."
            )
        return text % {"inmate": inmate_name, "facility": facility_name}
