"""Family forms that refuse a value change nothing and say why on the field: opening an account
with a facility that is not on the list, and a Direct Bill application whose consent box was not
ticked (whatever else was sent in its place). The opening page answers a GET too."""

import pytest
from django.urls import reverse

from accounts.models import CallingAccount, DirectBillApplication
from tests.factories import FacilityFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("facility", ["999999", "abc", "-1", "1.5"])
def test_opening_with_a_refused_facility_opens_nothing(client, facility):
    holder = UserFactory()
    listed = FacilityFactory()
    client.force_login(holder)
    response = client.post(reverse("accounts:account_open"), {"facility": facility})
    assert response.status_code == 400
    assert response.context["open_form"].errors["facility"] == [
        "Choose a facility from the list, or “I don't know yet”."
    ]
    assert not CallingAccount.objects.filter(holder=holder).exists()
    # A facility from the list, or none, opens one.
    assert client.post(reverse("accounts:account_open"), {"facility": listed.pk}).status_code == 302
    assert client.post(reverse("accounts:account_open"), {}).status_code == 302
    assert CallingAccount.objects.filter(holder=holder).count() == 2


def test_the_opening_page_answers_a_get_with_its_form(client):
    client.force_login(UserFactory())
    response = client.get(reverse("accounts:account_open"))
    assert response.status_code == 200
    assert b"Open an AdvanceConnect account" in response.content
    assert b'name="facility"' in response.content


APPLICATION = {
    "legal_name": "Jo Doe",
    "date_of_birth": "1990-01-02",
    "address_line1": "1 Front St",
    "city": "Hartford",
    "state": "CT",
    "postal_code": "06103",
}


@pytest.mark.parametrize("consent", ["\x00", "off", "no", "maybe", "", "0"])
def test_a_consent_box_not_ticked_runs_no_credit_check(client, consent):
    holder = UserFactory(state="CT")
    client.force_login(holder)
    response = client.post(reverse("accounts:direct_bill_apply"), {**APPLICATION, "consent": consent})
    assert response.status_code == 200
    errors = response.context["form"].errors["consent"]
    assert errors and errors[0] in (
        "Tick the box to agree to the credit check, or we cannot decide on it.",
        "Remove the control characters from this field.",
    )
    assert not DirectBillApplication.objects.filter(applicant=holder).exists()
    # What a browser sends for the ticked box files it.
    ticked = client.post(reverse("accounts:direct_bill_apply"), {**APPLICATION, "consent": "on"})
    assert ticked.status_code == 302
    assert DirectBillApplication.objects.filter(applicant=holder).exists()
