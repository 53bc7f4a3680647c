"""The call path's hand-built inserts write every column of their model: the call record's columns
are described once (`charging.RECORD_COLUMNS`) and its values built from that description, and a
decision's upsert names each column of `CallDecision`. A column added to either model fails here
until the call path sets it (a plain insert would skip the model's default)."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

from calls.callpath import authorize, charging
from calls.models import CallDecision, CallRecord
from calls.rating import Price


def _columns(model) -> set[str]:
    return {f.attname for f in model._meta.concrete_fields if not f.primary_key}


def test_the_call_record_description_names_every_column_of_the_model():
    assert set(charging.RECORD_COLUMNS) == _columns(CallRecord)
    assert len(charging.RECORD_COLUMNS) == len(_columns(CallRecord))


def test_a_call_record_is_built_with_a_value_for_each_described_column():
    now = datetime.datetime.now(datetime.UTC)
    call = charging.FinishedCall("c-1", "F", "1", "+18605550100", now, 60, "normal", "api")
    plan = SimpleNamespace(id=1, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635"))
    rated = charging.RatedCall(SimpleNamespace(id=2, code="F"), plan, 3, "+18605550100", 1, Price(21, 1))
    charge = charging.Charge(None, "collect", Price(21, 1), "")
    values = charging.record_values(
        call=call, rated=rated, charge=charge, balance_after_cents=None, entry_id=None, now=now
    )
    assert tuple(values) == charging.RECORD_COLUMNS


def test_the_decision_upsert_names_every_column_of_the_model():
    assert set(authorize.DECISION_COLUMNS) == _columns(CallDecision)
