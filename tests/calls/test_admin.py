import datetime
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from calls.callpath.errors import DenyReason
from calls.models import BlockedNumber, PlatformToken
from tests.helpers import authorize, complete, make_account

pytestmark = pytest.mark.django_db


def _facility_form(facility, *plans, **fields) -> dict:
    """The admin change form of `facility` as a browser posts it: its fields (overridden by
    `fields`), its existing plan, then each of `plans` as (name, rate, from, to) rows."""
    existing = facility.rate_plans.get()
    rows = [(existing.name, str(existing.rate_per_minute), str(existing.effective_from_date), None, existing.pk)]
    rows += [(*plan, None) for plan in plans]
    data = {
        "code": facility.code,
        "name": facility.name,
        "town": facility.town,
        "state": facility.state,
        "facility_type": facility.facility_type,
        "size_tier": facility.size_tier,
        "time_zone": facility.time_zone,
        "cell_phones_allowed": "on",
        "max_call_minutes": facility.max_call_minutes,
        "is_active": "on",
        "rate_plans-TOTAL_FORMS": len(rows),
        "rate_plans-INITIAL_FORMS": 1,
    }
    for i, (name, rate, start, end, pk) in enumerate(rows):
        row = {"facility": facility.pk, "name": name, "rate_per_minute": rate, "tax_rate": "0.0635"}
        row |= {"effective_from_date": start, "effective_to_date": end or "", "id": pk or ""}
        data |= {f"rate_plans-{i}-{key}": value for key, value in row.items()}
    data |= fields
    return {key: value for key, value in data.items() if value is not None}


def _post_facility(admin_client, facility, data):
    return admin_client.post(reverse("admin:calls_facility_change", args=[facility.pk]), data)


def test_staff_create_a_token_see_it_once_and_revoke_it(admin_client):
    response = admin_client.post(reverse("admin:calls_platformtoken_add"), {"name": "Acme platform"}, follow=True)
    page = response.content.decode()
    raw = re.search(r"<code>(flp_[A-Za-z0-9_\-]+)</code>", page).group(1)
    token = PlatformToken.objects.get(name="Acme platform")
    assert raw not in token.token_hash
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.post("/api/v1/calls/authorize", {}, format="json").status_code == 400
    detail = admin_client.get(reverse("admin:calls_platformtoken_change", args=[token.pk])).content.decode()
    assert raw not in detail
    admin_client.post(
        reverse("admin:calls_platformtoken_changelist"), {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )
    assert api.post("/api/v1/calls/authorize", {}, format="json").status_code == 401


def test_staff_block_a_number_and_calls_are_refused(admin_client, facility, inmate):
    account = make_account(balance_cents=1000, number="+18605550111")
    admin_client.post(
        reverse("admin:calls_blockednumber_add"),
        {"number": "(860) 555-0111", "facility": facility.pk, "reason": "Victim request"},
    )
    block = BlockedNumber.objects.get()
    assert block.number == "+18605550111"
    assert authorize(facility, inmate, account.test_number).reason == DenyReason.NUMBER_BLOCKED
    admin_client.post(
        reverse("admin:calls_blockednumber_changelist"), {"action": "lift_blocks", "_selected_action": [block.pk]}
    )
    assert authorize(facility, inmate, account.test_number).decision == "allow"


def test_facility_change_in_admin_reaches_the_call_path_at_once(admin_client, facility, inmate):
    account = make_account(balance_cents=1000, line_type="mobile")
    assert authorize(facility, inmate, account.test_number).decision == "allow"  # cached now
    response = _post_facility(
        admin_client, facility, _facility_form(facility, max_call_minutes=10, cell_phones_allowed=None)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert authorize(facility, inmate, account.test_number).reason == DenyReason.CELL_PHONE_NOT_ALLOWED


def test_new_rate_plan_above_the_fcc_cap_is_refused(admin_client, facility):
    data = _facility_form(
        facility, ("2026", "0.21", "2026-07-01", None), **{"rate_plans-0-effective_to_date": "2026-06-30"}
    )
    response = _post_facility(admin_client, facility, data)
    assert response.status_code == 200
    assert "Above the FCC cap of $0.07 per minute" in response.content.decode()
    assert facility.rate_plans.count() == 1


def test_call_records_in_admin_filter_by_facility_account_and_date(admin_client, facility, inmate):
    account = make_account(balance_cents=5000)
    done = complete(
        facility,
        inmate,
        account.test_number,
        seconds=60,
        started_at=datetime.datetime(2026, 3, 2, 15, tzinfo=datetime.UTC),
    )
    url = reverse("admin:calls_callrecord_changelist")
    for query in (
        {},
        {"facility__id__exact": facility.pk},
        {"account__id__exact": account.pk},
        {"started_at__year": 2026, "started_at__month": 3},
        {"q": done.call_id},
    ):
        response = admin_client.get(url, query)
        assert response.status_code == 200
        assert done.call_id in response.content.decode(), query
    for model in ("facility", "inmate", "inmatedebitsponsorship", "blockednumber", "platformtoken"):
        assert admin_client.get(reverse(f"admin:calls_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:ledger_hold_changelist")).status_code == 200


def test_overlapping_rate_plans_are_refused(admin_client, facility):
    data = _facility_form(facility, ("Cheaper", "0.05", "2026-07-01", None))
    response = _post_facility(admin_client, facility, data)
    assert response.status_code == 200
    assert "The plans starting 2020-01-01 and 2026-07-01 overlap" in response.content.decode()
    assert facility.rate_plans.count() == 1
    data["rate_plans-0-effective_to_date"] = "2026-06-30"
    response = _post_facility(admin_client, facility, data)
    assert response.status_code == 302
    assert facility.rate_plans.count() == 2


def test_prison_with_a_jail_size_is_a_form_error_not_a_crash(admin_client):
    data = {
        "code": "NEW-1",
        "name": "New Prison",
        "town": "Town",
        "state": "NY",
        "facility_type": "prison",
        "size_tier": "large",
        "time_zone": "America/New_York",
        "max_call_minutes": 15,
        "is_active": "on",
        "rate_plans-TOTAL_FORMS": 0,
        "rate_plans-INITIAL_FORMS": 0,
    }
    response = admin_client.post(reverse("admin:calls_facility_add"), data)
    assert response.status_code == 200
    assert "facility_size_tier_only_for_jails" in response.content.decode()
