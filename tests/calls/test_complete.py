import dataclasses
import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.ledger import kernel as ledger
from billing.ledger.models import Hold, JournalEntry, SystemAccount
from calls.callpath import authorize as callpath_authorize
from calls.callpath import complete as calls_services
from calls.callpath.errors import CallConflict, CallInputError
from calls.models import CallRecord, InmateDebitSponsorship
from calls.rating import billable_minutes, minutes_covered, price
from tests.factories import InmateFactory
from tests.helpers import authorize, balance_of, complete, make_account

pytestmark = pytest.mark.django_db
EASTERN = datetime.timezone(datetime.timedelta(hours=-4))  # EDT, as in late September


@pytest.mark.parametrize(
    ("seconds", "disconnect", "minutes"),
    [
        (0, "normal", 0),
        (1, "normal", 1),
        (59, "dropped", 0),
        (60, "dropped", 1),
        (61, "normal", 2),
        (900, "normal", 15),
    ],
)
def test_billing_is_per_started_minute(seconds, disconnect, minutes):
    assert billable_minutes(duration_seconds=seconds, disconnect=disconnect, cap_minutes=15) == minutes


def test_price_rounds_tax_half_up_on_the_charge():
    assert price(minutes=4, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635")).total_cents == 89
    assert price(minutes=5, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635")).total_cents == 112
    # 0.0725 * 3 = 21.75 cents -> 22; tax 22 * 0.0635 = 1.397 -> 1
    assert price(minutes=3, rate_per_minute=Decimal("0.0725"), tax_rate=Decimal("0.0635")).charge_cents == 22
    assert price(minutes=10, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635")).tax_cents == 13


@pytest.mark.parametrize("available", [0, 1, 21, 22, 88, 89, 100, 111, 112, 335, 336, 10_000])
def test_minutes_covered_is_the_largest_affordable_whole_minute(available):
    rate, tax = Decimal("0.21"), Decimal("0.0635")
    minutes = minutes_covered(available_cents=available, rate_per_minute=rate, tax_rate=tax, cap_minutes=15)
    assert minutes == 0 or price(minutes=minutes, rate_per_minute=rate, tax_rate=tax).total_cents <= available
    assert minutes == 15 or price(minutes=minutes + 1, rate_per_minute=rate, tax_rate=tax).total_cents > available


def test_complete_posts_a_balanced_entry_and_releases_the_hold(facility, inmate):
    account = make_account(balance_cents=1000)
    auth = authorize(facility, inmate, account.test_number)
    done = complete(facility, inmate, account.test_number, seconds=181, cid=auth.call_id)
    assert (done.billable_minutes, done.charge_cents, done.tax_cents) == (4, 84, 5)
    assert balance_of(account) == 911 == done.balance_after_cents
    entry = JournalEntry.objects.get(idempotency_key=f"call:{auth.call_id}")
    amounts = {p.ledger_account.code: p.amount_cents for p in entry.postings.select_related("ledger_account")}
    assert amounts == {
        f"account:{account.pk}": -89,
        f"system:{SystemAccount.CALL_REVENUE.value}": 84,
        f"system:{SystemAccount.TAX_PAYABLE.value}": 5,
    }
    assert Hold.objects.get(call_id=auth.call_id).released_at is not None
    record = CallRecord.objects.get(call_id=auth.call_id)
    assert (record.account_id, record.entry_id, record.billing) == (account.pk, entry.pk, "collect")
    assert ledger.check() == []


def test_complete_without_authorization_may_drive_the_balance_negative(facility, inmate):
    account = make_account(balance_cents=200)
    done = complete(facility, inmate, account.test_number, seconds=15 * 60, cid="never-authorized")
    assert done.balance_after_cents == 200 - 335 == balance_of(account)
    assert done.as_dict()["balance_after"] == "-1.35"


def test_dropped_call_under_a_minute_is_not_charged(facility, inmate):
    account = make_account(balance_cents=500)
    auth = authorize(facility, inmate, account.test_number)
    done = complete(facility, inmate, account.test_number, seconds=45, cid=auth.call_id, disconnect="dropped")
    assert (done.billable_minutes, done.charge_cents, done.tax_cents) == (0, 0, 0)
    assert balance_of(account) == 500
    assert not JournalEntry.objects.filter(idempotency_key=f"call:{auth.call_id}").exists()
    assert Hold.objects.get(call_id=auth.call_id).released_at is not None
    normal = complete(facility, inmate, account.test_number, seconds=45, disconnect="normal")
    assert (normal.billable_minutes, normal.charge_cents) == (1, 21)


def test_call_longer_than_the_facility_allows_is_billed_up_to_the_cap(facility, inmate):
    account = make_account(balance_cents=1000)
    done = complete(facility, inmate, account.test_number, seconds=40 * 60)
    assert done.billable_minutes == 15


def test_connecticut_rate_follows_the_local_date_the_call_started(connecticut):
    inmate = InmateFactory(facility=connecticut)
    account = make_account(balance_cents=1000)
    free = complete(
        connecticut,
        inmate,
        account.test_number,
        seconds=600,
        started_at=datetime.datetime(2022, 10, 1, 0, 0, 5, tzinfo=EASTERN),
    )
    assert (free.charge_cents, free.tax_cents, free.balance_after_cents) == (0, 0, 1000)
    # 23:50 on 30 September in Hartford is already 1 October in UTC: still the paid plan.
    paid = complete(
        connecticut,
        inmate,
        account.test_number,
        seconds=600,
        started_at=datetime.datetime(2022, 9, 30, 23, 50, tzinfo=EASTERN),
    )
    assert (paid.billable_minutes, paid.charge_cents, paid.tax_cents) == (10, 210, 13)
    assert balance_of(account) == 1000 - 223
    record = CallRecord.objects.get(call_id=paid.call_id)
    assert (record.billing, record.rate_per_minute, record.tax_rate) == ("collect", Decimal("0.21"), Decimal("0.0635"))
    assert CallRecord.objects.get(call_id=free.call_id).billing == "free"


def test_free_call_to_a_number_nobody_registered_is_recorded_without_a_payer(connecticut):
    inmate = InmateFactory(facility=connecticut)
    done = complete(connecticut, inmate, "+18605550199", seconds=120)
    assert done.as_dict()["balance_after"] is None
    assert CallRecord.objects.get(call_id=done.call_id).account is None


@pytest.mark.parametrize(("seconds", "disconnect"), [(120, "normal"), (30, "dropped")])
def test_paid_call_to_a_number_nobody_registered_is_refused(facility, inmate, seconds, disconnect):
    with pytest.raises(CallInputError) as refused:
        complete(facility, inmate, "+18605550199", seconds=seconds, disconnect=disconnect)
    assert refused.value.field == "dialed_number"
    assert not CallRecord.objects.exists()


def test_late_record_is_charged_to_the_payer_of_its_authorization(facility, inmate):
    account = make_account(balance_cents=1000)
    auth = authorize(facility, inmate, account.test_number)
    account.phone_numbers.update(is_active=False)  # the family removed the number meanwhile
    done = complete(facility, inmate, account.test_number, seconds=60, cid=auth.call_id)
    assert done.balance_after_cents == 1000 - 22 == balance_of(account)


@given(
    available=st.integers(min_value=-1000, max_value=100_000),
    rate=st.decimals(min_value="0.0001", max_value="1.0000", places=4),
    tax=st.decimals(min_value="0", max_value="0.20000", places=5),
    cap=st.integers(min_value=1, max_value=60),
)
def test_minutes_covered_property(available, rate, tax, cap):
    minutes = minutes_covered(available_cents=available, rate_per_minute=rate, tax_rate=tax, cap_minutes=cap)
    assert 0 <= minutes <= cap
    assert minutes == 0 or price(minutes=minutes, rate_per_minute=rate, tax_rate=tax).total_cents <= available
    assert minutes == cap or price(minutes=minutes + 1, rate_per_minute=rate, tax_rate=tax).total_cents > available


def test_late_record_is_charged_to_the_sponsorship_in_force_when_the_call_started(facility, inmate):
    callee = make_account(balance_cents=1000)
    sponsor = make_account(balance_cents=1000)
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    # The sponsorship began after the call: the sponsor never agreed to pay for it.
    InmateDebitSponsorship.objects.create(inmate=inmate, account=sponsor, started_by=sponsor.holder)
    complete(facility, inmate, callee.test_number, seconds=300, cid="late-after", started_at=started)
    assert balance_of(sponsor) == 1000
    assert balance_of(callee) < 1000
    # A call made while a sponsorship was in force is the sponsor's, even reported after it ended.
    now = datetime.datetime.now(datetime.UTC)
    InmateDebitSponsorship.objects.filter(account=sponsor).update(
        started_at=now - datetime.timedelta(hours=1), ended_at=now - datetime.timedelta(minutes=5)
    )
    callee_before = balance_of(callee)
    complete(
        facility,
        inmate,
        callee.test_number,
        seconds=300,
        cid="late-during",
        started_at=now - datetime.timedelta(minutes=30),
    )
    assert balance_of(sponsor) < 1000
    assert balance_of(callee) == callee_before


def test_a_report_that_loses_the_race_releases_the_hold_the_winner_did_not_see(facility, inmate, monkeypatch):
    """Report A read its facts before the authorization's hold committed (no hold); report B read
    them after it, but before A's record committed. Each releases the call's hold whatever its facts
    said, or it would tie up the family's money until it expires."""
    account = make_account(balance_cents=5000)
    allowed = authorize(facility, inmate, account.test_number)
    real = calls_services.complete_facts_get
    monkeypatch.setattr(calls_services, "complete_facts_get", lambda **kw: dataclasses.replace(real(**kw), hold=None))
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=3)
    first = complete(facility, inmate, account.test_number, seconds=120, cid=allowed.call_id, started_at=started)
    assert Hold.objects.get(call_id=allowed.call_id).released_at is not None  # A released the hold it never saw
    Hold.objects.filter(call_id=allowed.call_id).update(released_at=None)  # as if A had not got that far
    monkeypatch.setattr(calls_services, "complete_facts_get", lambda **kw: dataclasses.replace(real(**kw), record=None))
    second = complete(facility, inmate, account.test_number, seconds=120, cid=allowed.call_id, started_at=started)
    assert second.as_dict() == first.as_dict() and not second.created
    assert Hold.objects.get(call_id=allowed.call_id).released_at is not None
    assert CallRecord.objects.filter(call_id=allowed.call_id).count() == 1


def _after_reading_facts(monkeypatch, selector: str, then) -> None:
    """Run `then()` (another request, committed) right after the call path's facts read `selector`."""
    module = callpath_authorize if selector == "authorize_facts_get" else calls_services
    real = getattr(module, selector)

    def read_then(**kw):
        facts = real(**kw)
        then()
        return facts

    monkeypatch.setattr(module, selector, read_then)


def test_an_authorize_that_reads_its_facts_just_before_its_call_is_completed_places_no_hold(
    facility, inmate, monkeypatch
):
    """The late record commits between the authorization's read of the facts and its lock: under the
    lock the record is looked for again, and the answer comes from it."""
    account = make_account(balance_cents=1000)
    late = lambda: complete(facility, inmate, account.test_number, seconds=120, cid="late-1")  # noqa: E731
    _after_reading_facts(monkeypatch, "authorize_facts_get", late)
    answer = authorize(facility, inmate, account.test_number, cid="late-1")
    assert answer.decision == "allow" and answer.max_seconds == 2 * 60
    assert not Hold.objects.filter(call_id="late-1").exists()


def test_a_complete_that_reads_its_facts_just_before_the_hold_is_placed_releases_it(facility, inmate, monkeypatch):
    account = make_account(balance_cents=1000)
    held = lambda: authorize(facility, inmate, account.test_number, cid="late-2")  # noqa: E731
    _after_reading_facts(monkeypatch, "complete_facts_get", held)
    done = complete(facility, inmate, account.test_number, seconds=120, cid="late-2")
    assert done.created
    assert Hold.objects.get(call_id="late-2").released_at is not None


def test_an_authorize_racing_a_record_of_another_number_under_its_call_id_is_a_conflict(facility, inmate, monkeypatch):
    """The record that committed meanwhile is checked like any earlier call with this id."""
    account = make_account(balance_cents=1000)
    other = make_account(balance_cents=1000)
    late = lambda: complete(facility, inmate, other.test_number, seconds=120, cid="late-3")  # noqa: E731
    _after_reading_facts(monkeypatch, "authorize_facts_get", late)
    with pytest.raises(CallConflict):
        authorize(facility, inmate, account.test_number, cid="late-3")
    assert not Hold.objects.filter(call_id="late-3").exists()
