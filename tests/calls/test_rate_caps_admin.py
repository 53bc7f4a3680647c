"""The FCC per-minute cap is a service check the admin calls: a new facility whose first plan is above
its cap is refused, like an existing one."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from calls.models import Facility, RatePlan
from calls.rating import RateCapError, rate_plan_check


def _new_facility_form(rate: str, **extra) -> dict:
    form = {
        "code": "NEWJ",
        "name": "New Jail",
        "town": "Hartford",
        "state": "CT",
        "facility_type": "jail",
        "size_tier": "small",
        "max_call_minutes": "15",
        "time_zone": "America/New_York",
        "is_active": "on",
        "cell_phones_allowed": "on",
        "rate_plans-TOTAL_FORMS": "1",
        "rate_plans-INITIAL_FORMS": "0",
        "rate_plans-MIN_NUM_FORMS": "0",
        "rate_plans-MAX_NUM_FORMS": "1000",
        "rate_plans-0-name": "Standard",
        "rate_plans-0-rate_per_minute": rate,
        "rate_plans-0-tax_rate": "0.0635",
        "rate_plans-0-effective_from_date": "2026-01-01",
    }
    return form | extra


def test_the_service_refuses_a_plan_above_the_cap():
    with pytest.raises(RateCapError, match=r"\$0.09"):
        rate_plan_check(
            facility_type="jail", size_tier="small", rate_per_minute=Decimal("0.10"), effective_from_date=_date()
        )
    rate_plan_check(
        facility_type="jail", size_tier="small", rate_per_minute=Decimal("0.09"), effective_from_date=_date()
    )


def _date():
    return datetime.date(2026, 1, 1)


@pytest.mark.django_db
def test_a_new_facility_with_an_over_cap_plan_is_refused(admin_client):
    response = admin_client.post(reverse("admin:calls_facility_add"), _new_facility_form("0.25"))
    assert response.status_code == 200, response.content.decode()[:500]
    assert "Above the FCC cap of $0.09 per minute" in response.content.decode()
    assert not Facility.objects.filter(code="NEWJ").exists()


@pytest.mark.django_db
def test_a_new_facility_within_the_cap_is_saved(admin_client):
    response = admin_client.post(reverse("admin:calls_facility_add"), _new_facility_form("0.09"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert RatePlan.objects.get(facility__code="NEWJ").rate_per_minute == Decimal("0.09")
