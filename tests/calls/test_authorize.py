import datetime
import inspect
import sys

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, PhoneNumber, SuspensionCode
from billing.ledger.models import Hold
from calls.callpath.errors import DenyReason
from calls.facilities import facility_changed
from calls.models import BlockedNumber, InmateDebitSponsorship
from calls.tasks import expire_call_holds
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory
from tests.helpers import authorize, balance_of, complete, deposit, make_account, next_number

pytestmark = pytest.mark.django_db


def test_one_dollar_at_21_cents_plus_tax_allows_exactly_four_minutes(facility, inmate):
    account = make_account(balance_cents=100)
    result = authorize(facility, inmate, account.test_number)
    assert result.as_dict() == {
        "call_id": result.call_id,
        "decision": "allow",
        "reason": None,
        "max_seconds": 240,
        "billing": "collect",
        "rate_per_minute": "0.21",
        "announcement": (
            f"This is a collect call from John Roe, an inmate at {facility.name}. "
            "It will be charged to your FamilyLine account."
        ),
    }
    hold = Hold.objects.get(call_id=result.call_id)
    assert (hold.amount_cents, hold.account_id, hold.released_at) == (89, account.pk, None)


def test_allowed_call_is_capped_at_the_facility_maximum(facility, inmate):
    account = make_account(balance_cents=5000)
    assert authorize(facility, inmate, account.test_number).max_seconds == 15 * 60


def test_holds_reduce_what_the_next_call_may_spend(facility, inmate):
    account = make_account(balance_cents=100)
    assert authorize(facility, inmate, account.test_number).max_seconds == 240
    second = authorize(facility, inmate, account.test_number)
    assert (second.decision, second.reason) == ("deny", DenyReason.INSUFFICIENT_FUNDS)


def test_expired_holds_do_not_count_even_before_the_task_runs(facility, inmate, settings):
    account = make_account(balance_cents=100)
    start = timezone.now()
    authorize(facility, inmate, account.test_number, now=start)
    later = start + settings.CALL_HOLD_TTL + datetime.timedelta(seconds=1)
    assert authorize(facility, inmate, account.test_number, now=later).max_seconds == 240


def test_hold_expiry_task_releases_only_expired_holds(facility, inmate, settings):
    account = make_account(balance_cents=1000)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        old = authorize(facility, inmate, account.test_number)
        traveller.shift(settings.CALL_HOLD_TTL - datetime.timedelta(minutes=1))
        fresh = authorize(facility, inmate, account.test_number)
        traveller.shift(datetime.timedelta(minutes=2))
        expire_call_holds.delay()
    assert Hold.objects.get(call_id=old.call_id).released_at is not None
    assert Hold.objects.get(call_id=fresh.call_id).released_at is None


def test_repeated_authorization_returns_the_first_answer_and_one_hold(facility, inmate):
    account = make_account(balance_cents=1000)
    first = authorize(facility, inmate, account.test_number, cid="same")
    deposit(account, 4000)
    again = authorize(facility, inmate, account.test_number, cid="same")
    assert again == first
    assert Hold.objects.filter(account=account).count() == 1


def test_retried_authorization_is_not_denied_by_its_own_hold(facility, inmate):
    account = make_account(balance_cents=200)  # $2.00: the first answer holds almost all of it
    first = authorize(facility, inmate, account.test_number, cid="retry")
    assert (first.decision, first.max_seconds) == ("allow", 480)
    assert authorize(facility, inmate, account.test_number, cid="retry") == first
    assert Hold.objects.filter(account=account).count() == 1


# --- every deny reason of docs/api.md, each with the state that causes it -------------------------


def _deny(result, reason):
    assert (result.decision, result.reason, result.max_seconds, result.billing) == ("deny", reason, 0, None)
    assert Hold.objects.filter(call_id=result.call_id).count() == 0


def test_unknown_facility(inmate):
    account = make_account(balance_cents=1000)
    facility = FacilityFactory.build(code="NOPE")
    _deny(authorize(facility, inmate, account.test_number), DenyReason.UNKNOWN_FACILITY)


def test_inactive_facility_or_one_without_a_plan_in_force_is_unknown(facility, inmate):
    account = make_account(balance_cents=1000)
    closed = FacilityFactory(is_active=False)
    RatePlanFactory(facility=closed)
    _deny(authorize(closed, InmateFactory(facility=closed), account.test_number), DenyReason.UNKNOWN_FACILITY)
    no_plan = FacilityFactory()
    _deny(authorize(no_plan, InmateFactory(facility=no_plan), account.test_number), DenyReason.UNKNOWN_FACILITY)


def test_unknown_inmate(facility, inmate):
    account = make_account(balance_cents=1000)
    other_facility_inmate = InmateFactory()
    _deny(authorize(facility, other_facility_inmate, account.test_number), DenyReason.UNKNOWN_INMATE)
    released = InmateFactory(facility=facility, is_active=False)
    _deny(authorize(facility, released, account.test_number), DenyReason.UNKNOWN_INMATE)


def test_number_not_registered(facility, inmate):
    _deny(authorize(facility, inmate, next_number()), DenyReason.NUMBER_NOT_REGISTERED)
    account = make_account(balance_cents=1000)
    PhoneNumber.objects.filter(account=account).update(is_active=False)
    _deny(authorize(facility, inmate, account.test_number), DenyReason.NUMBER_NOT_REGISTERED)


@pytest.mark.parametrize("status", [AccountStatus.PENDING_FUNDING, AccountStatus.PENDING_ACTIVATION])
def test_account_pending_activation(facility, inmate, status):
    account = make_account(balance_cents=1000, status=status)
    _deny(authorize(facility, inmate, account.test_number), DenyReason.ACCOUNT_PENDING_ACTIVATION)


def test_account_whose_activation_time_passed_counts_as_active(facility, inmate):
    account = make_account(balance_cents=1000, status=AccountStatus.PENDING_ACTIVATION)
    account.activates_at = timezone.now() + datetime.timedelta(hours=24)
    account.save(update_fields=["activates_at"])
    _deny(authorize(facility, inmate, account.test_number), DenyReason.ACCOUNT_PENDING_ACTIVATION)
    with time_machine.travel(account.activates_at + datetime.timedelta(seconds=1)):
        assert authorize(facility, inmate, account.test_number).decision == "allow"


def test_account_suspended(facility, inmate):
    account = make_account(balance_cents=1000, status=AccountStatus.SUSPENDED)
    account.suspension_code = SuspensionCode.STAFF
    account.save(update_fields=["suspension_code"])
    _deny(authorize(facility, inmate, account.test_number), DenyReason.ACCOUNT_SUSPENDED)


def test_account_closed(facility, inmate):
    account = make_account(balance_cents=1000, status=AccountStatus.CLOSED)
    _deny(authorize(facility, inmate, account.test_number), DenyReason.ACCOUNT_CLOSED)


def test_insufficient_funds(facility, inmate):
    account = make_account(balance_cents=22)  # one minute costs 21 + 1 tax = 22
    assert authorize(facility, inmate, account.test_number).max_seconds == 60
    _deny(authorize(facility, inmate, account.test_number), DenyReason.INSUFFICIENT_FUNDS)
    empty = make_account(balance_cents=0)
    _deny(authorize(facility, inmate, empty.test_number), DenyReason.INSUFFICIENT_FUNDS)


def test_negative_balance_after_a_late_twenty_minute_call(facility, inmate):
    facility.max_call_minutes = 30
    facility.save(update_fields=["max_call_minutes"])
    account = make_account(balance_cents=200)
    done = complete(facility, inmate, account.test_number, seconds=20 * 60, cid="late-unknown-call")
    assert (done.billable_minutes, done.charge_cents, done.tax_cents) == (20, 420, 27)
    assert balance_of(account) == 200 - 447 == done.balance_after_cents
    _deny(authorize(facility, inmate, account.test_number), DenyReason.NEGATIVE_BALANCE)


def test_credit_limit_reached(facility, inmate):
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=300)
    assert authorize(facility, inmate, account.test_number, cid="first").billing == "direct_bill"
    complete(facility, inmate, account.test_number, seconds=13 * 60, cid="first")  # 273 + 17 tax owed
    assert balance_of(account) == -290
    assert Hold.objects.get(call_id="first").released_at is not None
    _deny(authorize(facility, inmate, account.test_number), DenyReason.CREDIT_LIMIT_REACHED)


def test_direct_bill_minutes_come_from_the_credit_left(facility, inmate):
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=100)
    assert authorize(facility, inmate, account.test_number).max_seconds == 240


def test_statement_past_due(facility, inmate):
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=5000, status=AccountStatus.SUSPENDED)
    account.suspension_code = SuspensionCode.STATEMENT_PAST_DUE
    account.save(update_fields=["suspension_code"])
    _deny(authorize(facility, inmate, account.test_number), DenyReason.STATEMENT_PAST_DUE)


def test_cell_phone_not_allowed(inmate):
    facility = inmate.facility
    account = make_account(balance_cents=1000, line_type="mobile")
    assert authorize(facility, inmate, account.test_number).decision == "allow"
    facility.cell_phones_allowed = False
    facility.save(update_fields=["cell_phones_allowed"])
    facility_changed(facility=facility)
    _deny(authorize(facility, inmate, account.test_number), DenyReason.CELL_PHONE_NOT_ALLOWED)
    landline = make_account(balance_cents=1000, line_type="landline")
    assert authorize(facility, inmate, landline.test_number).decision == "allow"


def test_number_blocked_at_one_facility_or_everywhere(facility, inmate):
    account = make_account(balance_cents=1000)
    elsewhere = FacilityFactory()
    RatePlanFactory(facility=elsewhere)
    other_inmate = InmateFactory(facility=elsewhere)
    BlockedNumber.objects.create(number=account.test_number, facility=facility, reason="victim request")
    _deny(authorize(facility, inmate, account.test_number), DenyReason.NUMBER_BLOCKED)
    assert authorize(elsewhere, other_inmate, account.test_number).decision == "allow"
    BlockedNumber.objects.create(number=account.test_number, facility=None, reason="court order")
    _deny(authorize(elsewhere, other_inmate, account.test_number), DenyReason.NUMBER_BLOCKED)


def test_every_deny_reason_is_tested_here():
    source = inspect.getsource(sys.modules[__name__])
    for reason in DenyReason.ALL:
        assert f"DenyReason.{reason.upper()}" in source, reason


# --- payer resolution, inmate debit, announcements ----------------------------------------------


def test_inmate_debit_charges_the_sponsor_for_any_registered_number(facility, inmate):
    sponsor = make_account(balance_cents=1000, language="es")
    callee = make_account(balance_cents=0, language="en")  # no money on the number's own account
    InmateDebitSponsorship.objects.create(inmate=inmate, account=sponsor, started_by=sponsor.holder)
    result = authorize(facility, inmate, callee.test_number)
    assert (result.decision, result.billing) == ("allow", "inmate_debit")
    assert result.announcement == f"This is a prepaid call from John Roe, an inmate at {facility.name}."
    assert Hold.objects.get(call_id=result.call_id).account_id == sponsor.pk
    done = complete(facility, inmate, callee.test_number, seconds=61, cid=result.call_id)
    assert (balance_of(sponsor), balance_of(callee)) == (1000 - done.charge_cents - done.tax_cents, 0)


def test_inmate_debit_still_needs_a_registered_number(facility, inmate):
    sponsor = make_account(balance_cents=1000)
    InmateDebitSponsorship.objects.create(inmate=inmate, account=sponsor, started_by=sponsor.holder)
    _deny(authorize(facility, inmate, next_number()), DenyReason.NUMBER_NOT_REGISTERED)
    closed = make_account(status=AccountStatus.CLOSED)
    _deny(authorize(facility, inmate, closed.test_number), DenyReason.ACCOUNT_CLOSED)


def test_announcement_in_spanish_for_a_spanish_speaking_holder(facility, inmate):
    account = make_account(balance_cents=1000, language="es")
    result = authorize(facility, inmate, account.test_number)
    assert result.announcement == (
        f"Esta es una llamada por cobrar de John Roe, una persona recluida en {facility.name}. "
        "Se cargará a su cuenta de FamilyLine."
    )


def test_dialed_number_in_us_national_form_is_found(facility, inmate):
    make_account(balance_cents=1000, number="+18605550147")
    assert authorize(facility, inmate, "(860) 555-0147").decision == "allow"
    assert authorize(facility, inmate, "860.555.0147").decision == "allow"


# --- free Connecticut calls -----------------------------------------------------------------------


def test_free_connecticut_facility_allows_a_zero_balance_and_charges_nothing(connecticut):
    inmate = InmateFactory(facility=connecticut, first_name="Ana", last_name="Diaz")
    account = make_account(balance_cents=0, status=AccountStatus.PENDING_FUNDING)
    result = authorize(connecticut, inmate, account.test_number)
    assert (result.decision, result.billing, result.max_seconds, result.rate_per_minute) == (
        "allow",
        "free",
        900,
        "0.00",
    )
    assert result.announcement == "This is a free call from Ana Diaz, an inmate at Hartford Correctional Center."
    assert not Hold.objects.exists()
    done = complete(connecticut, inmate, account.test_number, seconds=14 * 60 + 5, cid=result.call_id)
    assert (done.billable_minutes, done.charge_cents, done.tax_cents, done.balance_after_cents) == (15, 0, 0, 0)
    assert done.as_dict()["total"] == "0.00"


def test_free_call_still_respects_closed_and_suspended_accounts(connecticut):
    inmate = InmateFactory(facility=connecticut)
    closed = make_account(status=AccountStatus.CLOSED)
    _deny(authorize(connecticut, inmate, closed.test_number), DenyReason.ACCOUNT_CLOSED)
    suspended = make_account(status=AccountStatus.SUSPENDED)
    suspended.suspension_code = SuspensionCode.STAFF
    suspended.save(update_fields=["suspension_code"])
    _deny(authorize(connecticut, inmate, suspended.test_number), DenyReason.ACCOUNT_SUSPENDED)


def _statements(captured) -> list[str]:
    """The SQL statements a request sent, without transaction control (BEGIN, COMMIT, savepoints)."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return [q["sql"].split()[0] for q in captured if not q["sql"].lstrip().upper().startswith(control)]


def test_call_path_query_budget(facility, inmate, settings):
    """With the in-process caches warm (facility and plans; the token in the API), an allowed
    authorize is 7 statements in 4 round trips and its complete 7 (a charge that leaves a prepaid
    balance under the largest alert threshold reads the thresholds too: accounts.alerts)."""
    settings.FACILITY_CACHE_SECONDS = 60
    account = make_account(balance_cents=10_000)
    warm = authorize(facility, inmate, account.test_number)  # fills the facility cache
    complete(facility, inmate, account.test_number, seconds=60, cid=warm.call_id)  # creates system accounts
    with CaptureQueriesContext(connection) as captured:
        result = authorize(facility, inmate, account.test_number)
    # the one read; the ledger-row lock; the open holds with the account's status again, under the
    # lock (a close or suspension that committed meanwhile is seen); the call id's lock and the
    # record looked for again (a completion that committed meanwhile is seen) and the decision's upsert,
    # sent together; the hold's insert
    assert _statements(captured) == ["SELECT", "SELECT", "SELECT", "SELECT", "SELECT", "INSERT", "INSERT"], [
        q["sql"] for q in captured
    ]
    inserts = [q["sql"] for q in captured if q["sql"].lstrip().startswith("INSERT")]
    assert "calls_calldecision" in inserts[0] and "ON CONFLICT" in inserts[0] and "calls_callhold" in inserts[1]
    with CaptureQueriesContext(connection) as captured:
        complete(facility, inmate, account.test_number, seconds=125, cid=result.call_id)
    # the one read; the balance (lock order step 1); entry; postings; call record; the call id's
    # lock; the call's hold released
    assert _statements(captured) == ["SELECT", "UPDATE", "INSERT", "INSERT", "INSERT", "SELECT", "UPDATE"], [
        q["sql"] for q in captured
    ]


def test_a_hold_outlives_the_longest_call_it_allows(inmate, settings):
    """A 180-minute facility and $50: 2h05 into the first call, its hold still counts, so a second
    call cannot be promised the same dollars."""
    facility = inmate.facility
    facility.max_call_minutes = 180
    facility.save(update_fields=["max_call_minutes"])
    account = make_account(balance_cents=5000)
    start = timezone.now()
    first = authorize(facility, inmate, account.test_number, now=start)
    assert first.max_seconds == 180 * 60  # 180 min x $0.21 + tax = $40.20
    hold = Hold.objects.get(call_id=first.call_id)
    assert hold.expires_at >= start + datetime.timedelta(minutes=180) + settings.CALL_HOLD_MARGIN
    later = start + datetime.timedelta(hours=2, minutes=5)
    second = authorize(facility, inmate, account.test_number, now=later)
    assert second.max_seconds <= (5000 - hold.amount_cents) // 22 * 60
    held = Hold.objects.filter(account=account).aggregate(total=Sum("amount_cents"))["total"]
    assert held <= 5000


def test_authorize_after_its_complete_answers_from_the_record_and_places_no_hold(facility, inmate):
    account = make_account(balance_cents=1000)
    done = complete(facility, inmate, account.test_number, seconds=125, cid="late-first")
    answer = authorize(facility, inmate, account.test_number, cid="late-first")
    assert (answer.decision, answer.max_seconds, answer.billing) == ("allow", 3 * 60, "collect")
    assert answer.rate_per_minute == "0.21"
    assert not Hold.objects.exists()
    # The next call may use every dollar left: no stray hold denies it.
    after = balance_of(account)
    assert after == 1000 - done.charge_cents - done.tax_cents
    assert authorize(facility, inmate, account.test_number).max_seconds == 15 * 60


def test_authorize_retried_after_its_complete_gives_the_first_answer_and_no_new_hold(facility, inmate):
    account = make_account(balance_cents=1000)
    first = authorize(facility, inmate, account.test_number, cid="done-call")
    complete(facility, inmate, account.test_number, seconds=61, cid="done-call")
    assert authorize(facility, inmate, account.test_number, cid="done-call") == first
    assert Hold.objects.filter(account=account).count() == 1
    assert Hold.objects.get().released_at is not None


def test_sponsor_language_does_not_change_the_callee_announcement(facility, inmate):
    sponsor = make_account(balance_cents=1000, holder=UserFactory(preferred_language="en"))
    callee = make_account(language="es")
    InmateDebitSponsorship.objects.create(inmate=inmate, account=sponsor, started_by=sponsor.holder)
    result = authorize(facility, inmate, callee.test_number)
    assert result.announcement.startswith("Esta es una llamada prepagada de John Roe")


def test_calls_still_connect_when_redis_is_down(facility, inmate, settings):
    """The call path's caches live in the process: nothing in it waits on Redis."""
    account = make_account(balance_cents=1000)
    settings.FACILITY_CACHE_SECONDS = 60
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    assert authorize(facility, inmate, account.test_number).max_seconds == 900
    assert authorize(facility, inmate, account.test_number).decision == "allow"
