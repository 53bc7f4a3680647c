import datetime

import pytest
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, PhoneNumber
from accounts.services import account_open
from calls import selectors as call_selectors
from calls.tokens import platform_token_create
from tests.factories import InmateFactory, RatePlanFactory, UserFactory

from .forms_catalog import STAFF_PASSWORD, next_number


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    call_selectors._token_cache.clear()
    yield
    call_selectors._token_cache.clear()


@pytest.fixture
def staff(db):
    user = UserFactory(email="supervisor@familyline.example", is_staff=True, is_superuser=True)
    user.set_password(STAFF_PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def prepaid(db):
    """An active AdvanceConnect account with one landline."""
    holder = UserFactory()
    account = account_open(holder=holder, kind=AccountKind.ADVANCE_CONNECT, status=AccountStatus.ACTIVE)
    account.test_number = next_number()
    PhoneNumber.objects.create(account=account, number=account.test_number, line_type="landline", label="home")
    # Registered well before the calls the tests report (a call is charged to who held the number then).
    PhoneNumber.objects.filter(account=account).update(added_at=timezone.now() - datetime.timedelta(days=1))
    return account


@pytest.fixture
def two_facilities(db):
    plan_a = RatePlanFactory(rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01")
    plan_b = RatePlanFactory(rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01")
    return (
        (plan_a.facility, InmateFactory(facility=plan_a.facility)),
        (plan_b.facility, InmateFactory(facility=plan_b.facility)),
    )


@pytest.fixture
def token_factory(db):
    def make(*, facilities=()):
        token, raw = platform_token_create(name="Platform", actor=None)
        if facilities:
            token.facilities.set(facilities)
        return token, raw

    return make
