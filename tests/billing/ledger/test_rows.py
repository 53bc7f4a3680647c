"""billing/ledger/rows.py: single rows written by plain statements, and statements sent together."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.ledger.models import Hold
from billing.ledger.rows import pipelined, row_insert
from tests.helpers import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(inmate):
    account = make_account()
    account.test_inmate = inmate
    return account


def _hold_values(account, call_id: str) -> dict:
    now = timezone.now()
    return {
        "call_id": call_id,
        "account_id": account.pk,
        "facility_id": account.test_inmate.facility_id,
        "inmate_id": account.test_inmate.pk,
        "dialed_number": "+18605550134",
        "billing": "collect",
        "amount_cents": 123,
        "max_seconds": 600,
        "response": {"decision": "allow", "max_seconds": 600},
        "created_at": now,
        "expires_at": now + datetime.timedelta(hours=1),
    }


def test_a_row_is_stored_as_the_orm_would_store_it(account):
    values = _hold_values(account, "rows-1")
    pk = row_insert(Hold, values, as_is=frozenset({"dialed_number"}))
    hold = Hold.objects.get(pk=pk)
    assert (hold.call_id, hold.account_id, hold.amount_cents, hold.max_seconds) == ("rows-1", account.pk, 123, 600)
    assert hold.dialed_number.as_e164 == "+18605550134"
    assert hold.response == {"decision": "allow", "max_seconds": 600}
    assert hold.expires_at == values["expires_at"] and hold.released_at is None


def test_a_taken_unique_value_is_skipped_or_raised(account):
    assert row_insert(Hold, _hold_values(account, "rows-2"), on_conflict_skip="call_id") is not None
    again = {**_hold_values(account, "rows-2"), "amount_cents": 999}
    assert row_insert(Hold, again, on_conflict_skip="call_id") is None
    assert Hold.objects.get(call_id="rows-2").amount_cents == 123
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(Hold, again)


def test_statements_sent_together_are_read_after_the_block(account):
    row_insert(Hold, _hold_values(account, "rows-3"))
    with transaction.atomic(), connection.cursor() as first, connection.cursor() as second:
        with pipelined():
            first.execute("SELECT amount_cents FROM calls_callhold WHERE call_id = %s", ["rows-3"])
            second.execute(
                "UPDATE calls_callhold SET amount_cents = 124 WHERE call_id = %s RETURNING amount_cents", ["rows-3"]
            )
        # The server ran them in order: the read saw the row before the update.
        assert first.fetchone() == (123,)
        assert second.fetchone() == (124,)


def test_an_error_in_a_block_is_raised_when_it_ends_and_undoes_the_transaction(account):
    row_insert(Hold, _hold_values(account, "rows-4"))
    with pytest.raises(IntegrityError), transaction.atomic(), pipelined():
        row_insert(Hold, _hold_values(account, "rows-5"), returning=False)
        row_insert(Hold, _hold_values(account, "rows-4"), returning=False)  # taken
    assert not Hold.objects.filter(call_id="rows-5").exists()


def test_a_value_for_no_column_is_refused(account):
    values = {**_hold_values(account, "rows-6"), "account": account.pk}  # `account_id` is the column
    with pytest.raises(ValueError, match="no column for account"):
        row_insert(Hold, values)
    assert not Hold.objects.filter(call_id="rows-6").exists()


def test_a_column_the_model_defaults_cannot_be_left_out(account):
    values = _hold_values(account, "rows-7")
    del values["created_at"]  # auto_now_add: the ORM sets it, a plain insert would not
    with pytest.raises(ValueError, match="no value for created_at"):
        row_insert(Hold, values)
    assert not Hold.objects.filter(call_id="rows-7").exists()


def test_a_column_gaining_a_default_must_be_set_by_every_plain_insert(account, monkeypatch):
    monkeypatch.setattr(Hold._meta.get_field("billing"), "default", "collect")  # as if added with a default
    values = _hold_values(account, "rows-8")
    del values["billing"]
    with pytest.raises(ValueError, match="no value for billing"):
        row_insert(Hold, values)
