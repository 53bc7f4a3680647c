"""The calls admin for staff answering families: calls found by inmate name, an account filter typed
as a number (no list of every account), an account page with its recent calls and sponsorships."""

import pytest
from django.urls import reverse

from calls.models import CallRecord
from calls.sponsorships import sponsorship_start
from tests.factories import InmateFactory
from tests.helpers import make_account

pytestmark = pytest.mark.django_db
CALLS = reverse("admin:calls_callrecord_changelist")


@pytest.fixture
def two_calls(calls):
    maria = InmateFactory(facility=calls.facility, first_name="Maria", last_name="Lopez")
    account, other = make_account(balance_cents=3000), make_account(balance_cents=3000)
    calls.inmate = maria
    calls.complete(number=account.test_number, minutes=3)
    calls.inmate = InmateFactory(facility=calls.facility, first_name="John", last_name="Roe")
    calls.complete(number=other.test_number, minutes=2)
    return account, other


@pytest.mark.parametrize("query", ["Lopez", "Maria", "Maria Lopez"])
def test_calls_are_found_by_inmate_name(admin_client, two_calls, query):
    account, _ = two_calls
    shown = list(admin_client.get(CALLS, {"q": query}).context["cl"].result_list)
    assert [call.account for call in shown] == [account]


def test_the_account_filter_takes_a_number_and_lists_no_accounts(admin_client, two_calls):
    account, other = two_calls
    page = admin_client.get(CALLS)
    html = page.content.decode()
    assert 'name="account__id__exact"' in html and f"?account__id__exact={other.pk}" not in html
    shown = list(admin_client.get(CALLS, {"account__id__exact": account.pk}).context["cl"].result_list)
    assert [call.account for call in shown] == [account]


def test_the_account_page_shows_recent_calls_and_sponsorships(admin_client, two_calls, calls):
    account, _ = two_calls
    sponsorship_start(
        account=account,
        facility=calls.facility,
        inmate_number=calls.inmate.inmate_number,
        actor=account.holder,
        confirmed=True,
    )
    html = admin_client.get(reverse("admin:accounts_callingaccount_change", args=[account.pk])).content.decode()
    call = CallRecord.objects.get(account=account)
    assert "Maria Lopez" in html and "3 min" in html and call.dialed_number.as_national in html
    assert "John Roe" in html and "in force" in html
