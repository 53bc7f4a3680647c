"""Staff changes to facilities and their rate plans, as the call path must see them."""

from .models import Facility
from .selectors import facility_cache_clear


def facility_changed(*, facility: Facility, previous_code: str | None = None) -> None:
    """Staff changed a facility or its rate plans: the call path must see it at once."""
    facility_cache_clear(codes=[c for c in {facility.code, previous_code} if c])
