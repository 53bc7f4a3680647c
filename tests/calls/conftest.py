import datetime
import importlib
import itertools
from decimal import Decimal

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from accounts.models import AccountKind, AccountStatus, PhoneNumber
from accounts.services import account_open
from billing import ledger
from billing.models import EntryKind, LedgerAccount, SystemAccount
from calls import services
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory

_numbers = itertools.count(1)
_deposits = itertools.count(1)


def next_number() -> str:
    """A distinct valid US number (Hartford exchange) per call."""
    return f"+1860{2000000 + next(_numbers):07d}"


def deposit(account, cents: int) -> None:
    ledger.post(
        idempotency_key=f"test-deposit:{account.pk}:{next(_deposits)}",
        kind=EntryKind.PAYMENT,
        lines=[(ledger.system_account(SystemAccount.CARD_CLEARING), -cents), (ledger.account_ledger(account), cents)],
    )


def balance(account) -> int:
    return LedgerAccount.objects.get(calling_account=account).balance_cents


def make_account(
    *,
    balance_cents: int = 0,
    kind: str = AccountKind.ADVANCE_CONNECT,
    status: str = AccountStatus.ACTIVE,
    credit_limit_cents: int = 0,
    number: str | None = None,
    line_type: str = "landline",
    language: str = "en",
    holder=None,
):
    """An account with one registered number (`account.test_number`, E.164) and a balance."""
    holder = holder or UserFactory(preferred_language=language)
    account = account_open(holder=holder, kind=kind, status=status, credit_limit_cents=credit_limit_cents)
    if balance_cents:
        deposit(account, balance_cents)
    account.test_number = number or next_number()
    PhoneNumber.objects.create(account=account, number=account.test_number, line_type=line_type, label="home")
    return account


@pytest.fixture
def facility(db):
    """A paid facility: $0.21/min + 6.35% tax, 15-minute calls, cell phones allowed."""
    facility = FacilityFactory()
    RatePlanFactory(facility=facility, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635"))
    return facility


@pytest.fixture
def inmate(facility):
    return InmateFactory(facility=facility, first_name="John", last_name="Roe")


@pytest.fixture
def connecticut(db):
    """The Connecticut DOC facilities of the data migration (recreated: transactional tests flush)."""
    migration = importlib.import_module("calls.migrations.0002_connecticut_facilities")
    migration.forward(apps, None)
    return apps.get_model("calls", "Facility").objects.get(code="CT-HFD")


_call_ids = itertools.count(1)


def call_id() -> str:
    return f"call-{next(_call_ids)}"


def authorize(facility, inmate, number, *, cid=None, now=None):
    return services.call_authorize(
        call_id=cid or call_id(),
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=number,
        now=now,
    )


def complete(facility, inmate, number, *, seconds, cid=None, started_at=None, disconnect="normal", now=None):
    return services.call_complete(
        call_id=cid or call_id(),
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=number,
        started_at=started_at or datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds),
        duration_seconds=seconds,
        disconnect=disconnect,
        now=now,
    )


@pytest.fixture
def platform_token(db):
    token, raw = services.platform_token_create(name="Test platform", actor=None)
    return raw


@pytest.fixture
def api(platform_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform_token}")
    return client
