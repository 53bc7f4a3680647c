"""What the called party hears on answering, in the language of the account holder of the number."""

from django.utils import translation
from django.utils.translation import gettext

from .models import Billing


def announcement(*, billing: str, inmate_name: str, facility_name: str, language: str) -> str:
    with translation.override(language or "en"):
        if billing == Billing.INMATE_DEBIT:
            text = gettext("This is a prepaid call from %(inmate)s, an inmate at %(facility)s.")
        elif billing == Billing.FREE:
            text = gettext("This is a free call from %(inmate)s, an inmate at %(facility)s.")
        else:
            text = gettext(
                "This is a collect call from %(inmate)s, an inmate at %(facility)s. "
                "It will be charged to your FamilyLine account."
            )
        return text % {"inmate": inmate_name, "facility": facility_name}
