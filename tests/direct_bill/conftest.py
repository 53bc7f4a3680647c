import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.direct_bill.services import application_submit
from accounts.models import AccountStatus, CallingAccount, LineType, PhoneNumber
from tests.factories import InmateFactory, RatePlanFactory, UserFactory

NY = ZoneInfo("America/New_York")
_call_ids = itertools.count(1)
_numbers = itertools.count(1000)


def ny(*args) -> datetime.datetime:
    """A moment on the New York clock: ny(2026, 10, 3, 14, 30)."""
    return datetime.datetime(*args, tzinfo=NY)


def open_direct_bill(*, state="AK", holder=None, activate=True) -> CallingAccount:
    """A Direct Bill account through the real application path (Alaska: approved at once)."""
    holder = holder or UserFactory(state=state)
    application = application_submit(
        applicant=holder,
        legal_name=holder.get_full_name(),
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="1 Front Street",
        city="Juneau",
        state=state,
        postal_code="99801",
        consent=True,
    )
    account = application.account
    if activate:
        from accounts.services import account_activate

        account_activate(account=account)
        account.refresh_from_db()
    return account


def add_number(account, number=None, line_type=LineType.LANDLINE) -> str:
    number = number or f"+1860555{next(_numbers):04d}"
    PhoneNumber.objects.create(account=account, number=number, label="Home", line_type=line_type)
    return number


class Calls:
    """A facility at $0.21/min + 6.35 % tax (calls up to 30 minutes) and an inmate, for real calls."""

    def __init__(self):
        self.plan = RatePlanFactory(
            rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01", facility__max_call_minutes=30
        )
        self.facility = self.plan.facility
        self.inmate = InmateFactory(facility=self.facility)

    def complete(self, *, number: str, minutes: int, started_at=None):
        from calls.services import call_complete

        started_at = started_at or timezone.now() - datetime.timedelta(minutes=minutes + 1)
        return call_complete(
            call_id=f"db-call-{next(_call_ids)}",
            facility_code=self.facility.code,
            inmate_number=self.inmate.inmate_number,
            dialed_number=number,
            started_at=started_at,
            duration_seconds=minutes * 60 - 5,
            disconnect="normal",
        )

    def authorize(self, *, number: str, call_id: str | None = None):
        from calls.services import call_authorize

        return call_authorize(
            call_id=call_id or f"db-auth-{next(_call_ids)}",
            facility_code=self.facility.code,
            inmate_number=self.inmate.inmate_number,
            dialed_number=number,
        )


@pytest.fixture
def calls(db):
    return Calls()


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@familyline.example", is_staff=True, is_superuser=True)


def active(account) -> bool:
    account.refresh_from_db()
    return account.status == AccountStatus.ACTIVE
