"""Real threads on PostgreSQL: concurrent reports of calls must neither lose nor double a charge,
and concurrent authorizations must not spend the same dollars."""

import datetime
import random
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import AccountStatus
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold
from calls.models import CallDecision, CallRecord
from calls.rating import price
from tests.helpers import authorize, balance_of, complete, make_account, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def _run_threads(targets, workers=None):
    """Every target on its own connection, released at once; none may raise."""
    results = run_at_once(targets, workers=workers)
    assert [r for r in results if isinstance(r, Exception)] == []
    return results


def test_fifty_concurrent_completes_with_five_repeats_each_charge_each_call_once(facility, inmate):
    account = make_account(balance_cents=5000)
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    durations = {f"conc-{i}": 30 + i * 17 for i in range(50)}  # 1 to 15 minutes
    targets = [
        lambda cid=cid, seconds=seconds: complete(
            facility, inmate, account.test_number, seconds=seconds, cid=cid, started_at=started
        )
        for cid, seconds in durations.items()
        for _ in range(6)  # the report and five repeats
    ]
    random.Random(7).shuffle(targets)  # repeats race the first report and other calls
    results = _run_threads(targets, workers=50)

    plan = facility.rate_plans.get()
    expected = {
        cid: price(minutes=-(-s // 60), rate_per_minute=plan.rate_per_minute, tax_rate=plan.tax_rate).total_cents
        for cid, s in durations.items()
    }
    assert CallRecord.objects.count() == 50
    assert balance_of(account) == 5000 - sum(expected.values())
    assert balance_of(account) < 0  # the calls ran past the funds: a negative balance, owed
    for result in results:
        assert result.charge_cents + result.tax_cents == expected[result.call_id]
    by_call = {}
    for result in results:
        by_call.setdefault(result.call_id, set()).add(result)
    assert all(len(answers) == 1 for answers in by_call.values())  # every repeat got the same body
    assert ledger.check() == []
    call_command("ledger_check", stdout=StringIO())  # exits non-zero (CommandError) on any violation


def test_two_concurrent_authorizations_cannot_both_spend_the_same_dollar(facility, inmate):
    account = make_account(balance_cents=100)
    results = _run_threads([lambda: authorize(facility, inmate, account.test_number) for _ in range(2)])
    decisions = sorted((r.decision, r.max_seconds, r.reason) for r in results)
    assert decisions == [("allow", 240, None), ("deny", 0, "insufficient_funds")]
    assert Hold.objects.filter(account=account, released_at__isnull=True).count() == 1


def test_concurrent_authorizations_never_hold_more_than_the_balance(facility, inmate):
    account = make_account(balance_cents=500)
    results = _run_threads([lambda: authorize(facility, inmate, account.test_number) for _ in range(8)])
    held = sum(h.amount_cents for h in Hold.objects.filter(account=account))
    assert held <= 500
    assert sum(r.decision == "allow" for r in results) == Hold.objects.filter(account=account).count() >= 2


def test_an_authorize_and_a_complete_of_one_call_at_once_leave_no_hold_open(facility, inmate):
    """A late record arriving with its own authorization: whichever commits first, the call is charged
    once and no hold outlives it (the two take the call id's lock in turn, after the payer's row)."""
    account = make_account(balance_cents=100_000)
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    call_ids = [f"pair-{i}" for i in range(30)]
    targets = []
    for cid in call_ids:
        targets.append(lambda cid=cid: authorize(facility, inmate, account.test_number, cid=cid))
        targets.append(
            lambda cid=cid: complete(facility, inmate, account.test_number, seconds=120, cid=cid, started_at=started)
        )
    random.Random(11).shuffle(targets)
    results = _run_threads(targets, workers=20)
    assert all(r.decision == "allow" for r in results if hasattr(r, "decision"))
    assert CallRecord.objects.filter(call_id__in=call_ids).count() == 30
    assert not Hold.objects.filter(call_id__in=call_ids, released_at__isnull=True).exists()
    charged = sum(r.charge_cents + r.tax_cents for r in CallRecord.objects.filter(call_id__in=call_ids))
    assert charged > 0 and balance_of(account) == 100_000 - charged
    call_command("ledger_check", stdout=StringIO())  # exits non-zero (CommandError) on any violation


def test_concurrent_reports_of_refused_and_allowed_calls_charge_only_the_allowed_ones_once(facility, inmate):
    """Authorizations (with retries) of two accounts' calls at once, one account pending activation,
    then their reports (with repeats) at once: every allowed call is charged once, every refused one
    is recorded with its refusal and charged to no one, and no hold stays open."""
    paying = make_account(balance_cents=100_000)
    pending = make_account(balance_cents=1000, status=AccountStatus.PENDING_ACTIVATION)
    calls = {f"mix-{i}": (paying if i % 2 else pending) for i in range(20)}
    asks = [
        lambda cid=cid, account=account: authorize(facility, inmate, account.test_number, cid=cid)
        for cid, account in calls.items()
        for _ in range(2)
    ]
    random.Random(5).shuffle(asks)
    answers = _run_threads(asks, workers=10)
    assert {(r.call_id, r.decision) for r in answers} == {
        (cid, "allow" if account is paying else "deny") for cid, account in calls.items()
    }
    assert CallDecision.objects.filter(decision="deny").count() == 10 == CallDecision.objects.count() - 10
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    reports = [
        lambda cid=cid, account=account: complete(
            facility, inmate, account.test_number, seconds=150, cid=cid, started_at=started
        )
        for cid, account in calls.items()
        for _ in range(3)
    ]
    random.Random(6).shuffle(reports)
    done = _run_threads(reports, workers=15)

    assert {(r.call_id, r.refused_reason, r.charge_cents + r.tax_cents) for r in done} == {
        (cid, "", 67) if account is paying else (cid, "account_pending_activation", 0) for cid, account in calls.items()
    }
    assert CallRecord.objects.count() == 20
    assert balance_of(paying) == 100_000 - 10 * 67 and balance_of(pending) == 1000
    assert not Hold.objects.filter(released_at__isnull=True).exists()
    assert ledger.check() == []
    call_command("ledger_check", stdout=StringIO())  # exits non-zero (CommandError) on any violation
