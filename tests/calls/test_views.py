import datetime

import pytest
from django.urls import reverse

from accounts.models import AccountKind, PhoneNumber
from calls.models import InmateDebitSponsorship
from tests.factories import InmateFactory
from tests.helpers import authorize, complete, make_account

pytestmark = pytest.mark.django_db


def test_history_shows_own_calls_in_the_holders_time_zone(client, facility, inmate):
    account = make_account(balance_cents=1000, number="+18605550147")
    complete(
        facility,
        inmate,
        account.test_number,
        seconds=541,
        started_at=datetime.datetime(2026, 1, 5, 20, 30, tzinfo=datetime.UTC),
    )
    client.force_login(account.holder)
    response = client.get(reverse("calls:history", args=[account.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    # 20:30 UTC is 3:30 PM in New York (the holder's zone, named), whatever the facility's zone
    for text in ("Jan 5, 2026 3:30 PM", "Eastern time", facility.name, "John Roe", "(860) 555-0147", "10 min"):
        assert text in page
    for text in ("$2.10", "$0.13", "$2.23"):
        assert text in page


def test_history_of_someone_elses_account_is_404(client, facility, inmate):
    mine, theirs = make_account(), make_account()
    client.force_login(mine.holder)
    assert client.get(reverse("calls:history", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("calls:sponsorships", args=[theirs.pk])).status_code == 404


def test_history_needs_login(client, db):
    account = make_account()
    response = client.get(reverse("calls:history", args=[account.pk]))
    assert response.status_code == 302


def test_history_is_paginated_newest_first(client, facility, inmate):
    account = make_account(balance_cents=100_000)
    base = datetime.datetime(2026, 2, 1, 15, 0, tzinfo=datetime.UTC)
    for day in range(30):
        complete(facility, inmate, account.test_number, seconds=60, started_at=base + datetime.timedelta(days=day))
    client.force_login(account.holder)
    first = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    assert "Mar 2, 2026" in first and "Feb 1, 2026" not in first and "Page 1 of 2" in first
    second = client.get(reverse("calls:history", args=[account.pk]), {"page": 2}).content.decode()
    assert "Feb 1, 2026" in second


def test_holder_sponsors_an_inmate_after_confirming_the_name_and_stops(client, facility, inmate):
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    url = reverse("calls:sponsorships", args=[account.pk])
    asked = client.post(url, {"facility": facility.pk, "inmate_number": inmate.inmate_number}).content.decode()
    assert f"John Roe, inmate #{inmate.inmate_number} at {facility.name}" in asked
    assert not InmateDebitSponsorship.objects.exists()  # shown the name, nothing started yet
    confirm = {"facility": facility.pk, "inmate_number": inmate.inmate_number, "confirm": "on"}
    refused = client.post(url, confirm)
    assert refused.status_code == 400 and "Please confirm that John Roe" in refused.content.decode()
    assert not InmateDebitSponsorship.objects.exists()
    response = client.post(url, {**confirm, "confirmed_name": "on", "monthly_cap": "20.00"}, follow=True)
    assert "John Roe&#x27;s calls are now paid from this account." in response.content.decode()
    sponsorship = InmateDebitSponsorship.objects.get(account=account)
    assert sponsorship.is_active and sponsorship.monthly_cap_cents == 2000
    client.post(reverse("calls:sponsorship_cap", args=[sponsorship.pk]), {"monthly_cap": ""})
    sponsorship.refresh_from_db()
    assert sponsorship.monthly_cap_cents is None
    client.post(reverse("calls:sponsorship_end", args=[sponsorship.pk]))
    sponsorship.refresh_from_db()
    assert sponsorship.ended_at is not None


def test_sponsorship_errors_are_shown_on_the_form(client, facility, inmate):
    account = make_account(balance_cents=0)
    client.force_login(account.holder)
    url = reverse("calls:sponsorships", args=[account.pk])
    page = client.post(url, {"facility": facility.pk, "inmate_number": "nope"}).content.decode()
    assert f"No inmate with number nope is at {facility.name}." in page
    confirm = {"facility": facility.pk, "inmate_number": inmate.inmate_number, "confirm": "on", "confirmed_name": "on"}
    page = client.post(url, confirm).content.decode()
    assert "Add money to this account first" in page
    assert InmateDebitSponsorship.objects.filter(account=account).count() == 0


def test_direct_bill_account_cannot_sponsor(client, facility, inmate):
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=5000)
    client.force_login(account.holder)
    url = reverse("calls:sponsorships", args=[account.pk])
    confirm = {"facility": facility.pk, "inmate_number": inmate.inmate_number, "confirm": "on", "confirmed_name": "on"}
    page = client.post(url, confirm).content.decode()
    assert "Only an AdvanceConnect (prepaid) account can pay for an inmate's calls." in page
    assert not InmateDebitSponsorship.objects.exists()


def test_the_sponsor_sees_the_calls_it_paid_for_with_other_families_numbers_masked(client, facility, inmate):
    sponsor = make_account(balance_cents=5000)
    InmateDebitSponsorship.objects.create(inmate=inmate, account=sponsor, started_by=sponsor.holder)
    family = make_account(balance_cents=0)
    complete(
        facility, inmate, family.test_number, seconds=120, cid=authorize(facility, inmate, family.test_number).call_id
    )
    complete(
        facility, inmate, sponsor.test_number, seconds=60, cid=authorize(facility, inmate, sponsor.test_number).call_id
    )
    client.force_login(sponsor.holder)
    page = client.get(reverse("calls:sponsorships", args=[sponsor.pk])).content.decode()
    assert family.test_number not in page and family.test_number[-2:] in page
    assert f"•••••••••{family.test_number[-2:]}" in page
    assert PhoneNumber.objects.get(number=sponsor.test_number).number.as_national in page  # its own, in full


def test_someone_elses_sponsorship_cannot_be_ended(client, facility):
    account, other = make_account(), make_account()
    sponsorship = InmateDebitSponsorship.objects.create(
        inmate=InmateFactory(facility=facility), account=other, started_by=other.holder
    )
    client.force_login(account.holder)
    assert client.post(reverse("calls:sponsorship_end", args=[sponsorship.pk])).status_code == 404
    sponsorship.refresh_from_db()
    assert sponsorship.is_active
