import pytest

from calls.demo import demo_calls_load
from calls.models import CallRecord, Facility, InmateDebitSponsorship, PlatformToken
from tests.factories import UserFactory
from tests.helpers import balance_of, make_account

pytestmark = pytest.mark.django_db


def test_demo_shows_free_and_paid_calls_and_runs_twice(connecticut):
    family = UserFactory()
    account = make_account(balance_cents=2500, holder=family)
    first = demo_calls_load(family=family)
    assert "Platform API token (shown once): flp_" in first
    assert Facility.objects.filter(code__in=["TX-HCJ", "GA-MSP", "AZ-YCJ"]).count() == 3
    records = {r.call_id: r for r in CallRecord.objects.filter(account=account)}
    assert records["demo-call-1"].billing == "free" and records["demo-call-1"].charge_cents == 0
    assert records["demo-call-2"].billing == "collect" and records["demo-call-2"].charge_cents == 60
    assert records["demo-call-3"].billing == "inmate_debit"
    after_first = balance_of(account)
    assert after_first < 2500
    second = demo_calls_load(family=family)
    assert "token" not in second
    assert balance_of(account) == after_first
    assert PlatformToken.objects.count() == 1
    assert InmateDebitSponsorship.objects.filter(account=account, ended_at__isnull=True).count() == 1


def test_demo_without_a_family_account_only_loads_facilities(connecticut):
    demo_calls_load(family=UserFactory())
    assert not CallRecord.objects.exists()
    assert Facility.objects.filter(code="AZ-YCJ", cell_phones_allowed=False).exists()
