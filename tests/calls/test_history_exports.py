"""What the history and its CSV exports show of call credits, and how they treat what a family did
not write: names that look like spreadsheet formulas, filters that cannot be used."""

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AccountStatus
from billing.payments.selectors import ledger_violations
from billing.statements import call_credits
from calls.models import CallRecord
from calls.views import csv_cell
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import Calls, complete, make_account

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _page_total(html: str, name: str) -> Decimal:
    match = re.search(rf'data-total="{name}">\$([0-9,]+\.[0-9]{{2}})<', html)
    return Decimal(match.group(1).replace(",", ""))


@pytest.fixture
def credited(staff):
    """An account with two charged calls from Maria Lopez, the second one credited by staff."""
    calls = Calls()
    account = make_account(balance_cents=5000)
    maria = InmateFactory(facility=calls.facility, first_name="Maria", last_name="Lopez")
    for day, seconds in ((2, 300), (9, 240)):
        started = datetime.datetime(2026, 3, day, 18, tzinfo=UTC)
        complete(calls.facility, maria, account.test_number, seconds=seconds, started_at=started)
    call = CallRecord.objects.get(account=account, started_at=datetime.datetime(2026, 3, 9, 18, tzinfo=UTC))
    credit = call_credits.call_credit_request(
        call=call, holder=account.holder, reason="dropped", now=datetime.datetime(2026, 3, 10, tzinfo=UTC)
    )
    call_credits.call_credit_approve(credit=credit, actor=staff)
    return {"account": account, "call": call, "credit": credit}


def test_an_approved_call_credit_is_a_line_of_the_history_and_the_call_says_credited(client, credited):
    account, call = credited["account"], credited["call"]
    amount = f"${Decimal(call.total_cents) / 100:.2f}"
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    assert f"Credit for the call from Maria Lopez on Mar 9, 2026 · {amount}" in html
    assert f"Credited {amount}" in html
    assert reverse("billing:call_credit_request", args=[call.pk]) not in html  # no "Ask for a credit" for it
    other = CallRecord.objects.exclude(pk=call.pk).get(account=account)
    assert reverse("billing:call_credit_request", args=[other.pk]) in html  # the other call still offers it
    assert _page_total(html, "credits") == Decimal(call.total_cents) / 100
    # Filtered to the inmate, the credit stays with its call.
    by_inmate = client.get(reverse("calls:history", args=[account.pk]), {"inmate": call.inmate_id}).content.decode()
    assert "Credit for the call from Maria Lopez on Mar 9, 2026" in by_inmate
    assert ledger_violations() == []


def test_the_calls_csv_lists_the_credit_and_sums_to_the_calls_less_the_credits(client, credited):
    account, call = credited["account"], credited["call"]
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    rows = _rows(client.get(reverse("calls:history_calls_csv", args=[account.pk])))
    credit_rows = [row for row in rows if row["Note"]]
    assert len(rows) == 3 and len(credit_rows) == 1
    assert credit_rows[0]["Note"] == "Credit for the call from Maria Lopez on Mar 9, 2026"
    assert Decimal(credit_rows[0]["Total"]) == -Decimal(call.total_cents) / 100
    assert sum(Decimal(row["Total"]) for row in rows) == _page_total(html, "calls") - _page_total(html, "credits")


def test_csv_cells_starting_like_a_formula_are_neutralized(client):
    calls = Calls()
    account = make_account(balance_cents=5000)
    facilities = {}
    for name in ("-2+3+cmd|' /C calc'!A0", "\tTab County Jail", "\rReturn County Jail"):
        facilities[name] = FacilityFactory(name=name)
        RatePlanFactory(facility=facilities[name], rate_per_minute="0.21", effective_from_date="2020-01-01")
    facility = facilities["-2+3+cmd|' /C calc'!A0"]
    for first_name in ('=HYPERLINK("http://evil.example","Click")', "@SUM(1+1)", "+Plus"):
        complete(facility, InmateFactory(facility=facility, first_name=first_name), account.test_number, seconds=60)
    for other in ("\tTab County Jail", "\rReturn County Jail"):
        complete(facilities[other], InmateFactory(facility=facilities[other]), account.test_number, seconds=60)
    complete(calls.facility, calls.inmate, account.test_number, seconds=60)
    client.force_login(account.holder)
    rows = _rows(client.get(reverse("calls:history_calls_csv", args=[account.pk])))
    names = sorted(row["Inmate"].split(" ")[0] for row in rows if row["Facility"] == "'" + facility.name)
    assert names == sorted(['\'=HYPERLINK("http://evil.example","Click")', "'@SUM(1+1)", "'+Plus"])
    assert {row["Facility"] for row in rows} == {
        "'-2+3+cmd|' /C calc'!A0",
        "'\tTab County Jail",
        "'\rReturn County Jail",
        calls.facility.name,
    }
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), row
    payments = client.get(reverse("calls:history_payments_csv", args=[account.pk]))
    assert payments.status_code == 200


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_of_the_owasp_rule_gets_an_apostrophe(start):
    assert csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert csv_cell("Maria Lopez") == "Maria Lopez"
    assert csv_cell(Decimal("-0.96")) == Decimal("-0.96")  # an amount FamilyLine writes stays a number


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-03-10", "date_to": "2026-03-05"},
        {"inmate": "nobody"},
        {"number": "+18605550000"},
        {"date_to": "not a date"},
    ],
)
def test_a_csv_with_a_filter_the_page_refuses_is_a_400_not_the_whole_history(client, credited, query):
    account = credited["account"]
    client.force_login(account.holder)
    assert client.get(reverse("calls:history", args=[account.pk]), query).status_code == 400
    for name in ("calls:history_calls_csv", "calls:history_payments_csv"):
        response = client.get(reverse(name, args=[account.pk]), query)
        assert response.status_code == 400, name
        assert not response["Content-Type"].startswith("text/csv")
        assert "Maria Lopez" not in response.content.decode()


@pytest.mark.parametrize("query", [{"date_to": "9999-12-31"}, {"date_from": "9999-12-31"}, {"date_from": "0001-01-01"}])
def test_a_date_out_of_range_is_a_field_error_on_the_page_and_a_400_for_the_csvs(client, credited, query):
    account = credited["account"]
    client.force_login(account.holder)
    page = client.get(reverse("calls:history", args=[account.pk]), query)
    assert page.status_code == 400
    assert "Choose a date from 1970 to 2999." in page.content.decode()
    for name in ("calls:history_calls_csv", "calls:history_payments_csv"):
        response = client.get(reverse(name, args=[account.pk]), query)
        assert response.status_code == 400, name
        assert "Choose a date from 1970 to 2999." in response.content.decode()
    assert ledger_violations() == []


def test_a_call_familyline_refused_reads_as_not_charged_in_the_history(api, client, facility, inmate):
    from_holder = make_account(balance_cents=1000, status=AccountStatus.PENDING_ACTIVATION)
    body = {"call_id": "refused-history", "facility": facility.code, "inmate": inmate.inmate_number}
    body["dialed_number"] = from_holder.test_number
    assert api.post("/api/v1/calls/authorize", body, format="json").json()["decision"] == "deny"
    report = {"started_at": "2026-01-05T14:00:00-05:00", "duration_seconds": 300, "disconnect": "normal"}
    assert api.post("/api/v1/calls/complete", body | report, format="json").json()["refused_reason"]

    client.force_login(from_holder.holder)
    html = client.get(reverse("calls:history", args=[from_holder.pk])).content.decode()
    assert "not charged: FamilyLine did not allow this call" in html
    assert "· free" not in html and "Ask for a credit" not in html
