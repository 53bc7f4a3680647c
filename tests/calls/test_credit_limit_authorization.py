import pytest

from accounts.direct_bill.services import credit_limit_change
from billing.ledger.models import Hold
from billing.statements.adjustments import adjustment_create
from calls.callpath import authorize as calls_services
from tests.helpers import add_number, open_direct_bill

pytestmark = pytest.mark.django_db


def _used(account, cents, staff):
    """Unbilled charges of `cents` on the account (a debit through the ledger)."""
    adjustment_create(account=account, amount_cents=-cents, reason="Charges carried over", actor=staff)


def test_45_dollars_used_of_a_50_dollar_limit_allows_exactly_the_minutes_the_credit_covers(calls, staff):
    account = open_direct_bill(state="AK")
    number = add_number(account)
    _used(account, 4500, staff)
    # $5.00 left at $0.21/min + 6.35 % tax: 22 min = 462 + 29 = 491 <= 500; 23 min = 483 + 31 = 514 > 500.
    answer = calls.authorize(number=number)
    assert (answer.decision, answer.billing, answer.max_seconds) == ("allow", "direct_bill", 22 * 60)
    assert Hold.objects.get(call_id=answer.call_id).amount_cents == 491


@pytest.mark.parametrize(
    ("used_cents", "minutes"),
    [(4486, 23), (4487, 22), (4951, 2), (4978, 1)],
)
def test_the_boundary_is_exact_to_the_cent(calls, staff, used_cents, minutes):
    account = open_direct_bill(state="AK")
    number = add_number(account)
    _used(account, used_cents, staff)
    assert calls.authorize(number=number).max_seconds == minutes * 60


def test_no_credit_left_is_credit_limit_reached_and_a_raise_reopens(calls, staff):
    account = open_direct_bill(state="AK")
    number = add_number(account)
    _used(account, 4979, staff)  # 21 cents left: one minute costs 21 + 1 tax
    denied = calls.authorize(number=number)
    assert (denied.decision, denied.reason) == ("deny", "credit_limit_reached")
    credit_limit_change(account=account, credit_limit_cents=10000, actor=staff, reason="Good history")
    assert calls.authorize(number=number).max_seconds == 30 * 60  # now capped by the facility


def test_a_call_in_progress_holds_its_credit(calls, staff):
    account = open_direct_bill(state="AK")
    number = add_number(account)
    _used(account, 4500, staff)
    first = calls.authorize(number=number)
    assert first.max_seconds == 22 * 60
    second = calls.authorize(number=number)  # the first call's hold leaves 9 cents
    assert (second.decision, second.reason) == ("deny", "credit_limit_reached")


def test_a_limit_lowered_while_the_call_waited_for_the_lock_is_the_one_in_force(calls, staff, monkeypatch):
    """The facts were read with a $50.00 limit, which staff lowered to $5.00 before the call took the
    ledger-row lock: the hold is decided on the $5.00 read under the lock."""
    account = open_direct_bill(state="AK")
    number = add_number(account)
    real = calls_services.authorize_facts_get

    def read_then_lowered(**kwargs):
        facts = real(**kwargs)
        credit_limit_change(account=account, credit_limit_cents=500, actor=staff, reason="Lowered meanwhile")
        return facts

    monkeypatch.setattr(calls_services, "authorize_facts_get", read_then_lowered)
    answer = calls.authorize(number=number)
    assert (answer.decision, answer.max_seconds) == ("allow", 22 * 60)  # what $5.00 covers, not $50.00
    assert Hold.objects.get(call_id=answer.call_id).amount_cents == 491
