"""Staff input through the real admin: a value an autocomplete cannot look up is a field error, and a
platform token limited to facilities can be issued."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing.ledger.models import JournalEntry
from billing.statements.models import Adjustment
from calls.models import PlatformToken
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import make_account

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["abc", "1e3", "12abc", "99999999999999999999", "-5", " ", "1.5"])
def test_an_adjustment_for_an_account_that_is_not_an_id_is_a_field_error(admin_client, value):
    make_account(balance_cents=500)
    entries = JournalEntry.objects.count()
    response = admin_client.post(
        reverse("admin:billing_adjustment_add"),
        {"account": value, "direction": "credit", "amount": "1.00", "reason": "Dropped call"},
    )
    assert response.status_code == 200
    assert "account" in response.context["adminform"].form.errors
    assert not Adjustment.objects.exists()
    assert JournalEntry.objects.count() == entries


def test_an_adjustment_form_with_another_error_shows_the_chosen_account_again(admin_client):
    account = make_account(balance_cents=500)
    response = admin_client.post(
        reverse("admin:billing_adjustment_add"),
        {"account": str(account.pk), "direction": "credit", "amount": "0", "reason": "Dropped call"},
    )
    assert response.status_code == 200
    assert f'<option value="{account.pk}" selected>' in response.content.decode()


def test_staff_issue_a_token_limited_to_chosen_facilities(admin_client):
    allowed, other = FacilityFactory(code="CT-AAA"), FacilityFactory(code="CT-BBB")
    for facility in (allowed, other):
        RatePlanFactory(facility=facility)
        InmateFactory(facility=facility, inmate_number=f"9{facility.pk}")
    response = admin_client.post(
        reverse("admin:calls_platformtoken_add"),
        {"name": "Scoped platform", "facilities": [allowed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    raw = re.search(r"<code>(flp_[A-Za-z0-9_\-]+)</code>", response.content.decode()).group(1)
    token = PlatformToken.objects.get(name="Scoped platform")
    assert list(token.facilities.values_list("code", flat=True)) == ["CT-AAA"]
    assert token.created_by is not None

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def authorize(facility):
        body = {"call_id": f"s-{facility.code}", "facility": facility.code, "inmate": f"9{facility.pk}"}
        return api.post("/api/v1/calls/authorize", body | {"dialed_number": "+18605550199"}, format="json")

    assert authorize(allowed).status_code == 200
    refused = authorize(other)
    assert refused.status_code == 403 and refused.json()["reason"] == "facility_not_allowed"
    # Staff can still narrow or widen it afterwards.
    admin_client.post(
        reverse("admin:calls_platformtoken_change", args=[token.pk]), {"facilities": [allowed.pk, other.pk]}
    )
    assert set(token.facilities.values_list("code", flat=True)) == {"CT-AAA", "CT-BBB"}
