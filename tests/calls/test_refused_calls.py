"""A call FamilyLine refused costs nothing: every authorize answer is kept per call id (the latest
governs), and a call reported after a deny is recorded with the refusal, charged to no one and listed
for staff. Calls reported with no authorize at all are charged as before."""

import datetime
import json
import re
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus, LineType, SuspensionCode
from accounts.services import account_suspend
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold, JournalEntry
from calls import tasks
from calls.callpath.errors import DenyReason
from calls.models import CallDecision, CallRecord, CallSource
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import authorize, balance_of, complete, deposit, make_account

pytestmark = pytest.mark.django_db

AUTHORIZE = "/api/v1/calls/authorize"
COMPLETE = "/api/v1/calls/complete"
HEADER = "call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect\n"


def _body(facility, inmate, number, call_id, **extra) -> dict:
    return {"call_id": call_id, "facility": facility.code, "inmate": inmate.inmate_number, "dialed_number": number} | (
        extra
    )


def _report(*, seconds: int = 541) -> dict:
    return {"started_at": "2026-01-05T14:00:00-05:00", "duration_seconds": seconds, "disconnect": "normal"}


def _ledger_clean() -> None:
    assert ledger.check() == []
    call_command("ledger_check", stdout=StringIO())  # exits non-zero (CommandError) on any violation


def _refused_by_cell_phone_rule(facility):
    facility.cell_phones_allowed = False
    facility.save(update_fields=["cell_phones_allowed"])
    return make_account(balance_cents=1000, line_type=LineType.MOBILE), DenyReason.CELL_PHONE_NOT_ALLOWED


def _refused_as_pending_activation(facility):
    return make_account(balance_cents=1000, status=AccountStatus.PENDING_ACTIVATION), (
        DenyReason.ACCOUNT_PENDING_ACTIVATION
    )


def _queue(html: str) -> list[tuple[str, str, str]]:
    """(label, link, count) of the work queue's "connected after a refusal" rows."""
    return re.findall(
        r'<tr class="work-connected_after_refusal">\s*<th scope="row"><a href="([^"]*)">([^<]*)</a></th>\s*'
        r'<td class="count"><a href="[^"]*"[^>]*>(\d+)<',
        html,
    )


@pytest.mark.parametrize("refused", [_refused_by_cell_phone_rule, _refused_as_pending_activation])
def test_a_refused_call_reported_complete_costs_nothing_and_waits_for_staff(
    api, admin_client, facility, inmate, refused
):
    account, reason = refused(facility)
    denied = api.post(AUTHORIZE, _body(facility, inmate, account.test_number, "refused-1"), format="json")
    assert (denied.status_code, denied.json()["decision"], denied.json()["reason"]) == (200, "deny", reason)
    entries = JournalEntry.objects.count()

    body = _body(facility, inmate, account.test_number, "refused-1", **_report())
    unknown = api.post(COMPLETE, body | {"facility": "NO-SUCH"}, format="json")
    assert unknown.status_code == 400 and "facility" in unknown.json()  # input is checked first, as before
    assert not CallRecord.objects.exists()
    response = api.post(COMPLETE, body, format="json")

    expected = {
        "call_id": "refused-1",
        "billable_minutes": 10,
        "charge": "0.00",
        "tax": "0.00",
        "total": "0.00",
        "balance_after": "10.00",
        "refused_reason": reason,
    }
    assert (response.status_code, response.json()) == (200, expected)
    again = api.post(COMPLETE, body | {"duration_seconds": 3000}, format="json")
    assert (again.status_code, again.json()) == (200, expected)
    assert balance_of(account) == 1000
    assert JournalEntry.objects.count() == entries  # nothing on the ledger
    assert not JournalEntry.objects.filter(idempotency_key="call:refused-1").exists()
    record = CallRecord.objects.get(call_id="refused-1")
    assert (record.refused_reason, record.total_cents, record.entry_id, record.account_id) == (
        reason,
        0,
        None,
        account.pk,
    )
    html = admin_client.get(reverse("admin:index")).content.decode()
    [(link, label, count)] = _queue(html)
    assert facility.name in label and count == "1"
    listed = admin_client.get(link.replace("&amp;", "&"))
    assert [r.call_id for r in listed.context["cl"].result_list] == ["refused-1"]
    _ledger_clean()


def test_a_deny_then_an_allow_after_the_family_added_money_is_charged(api, facility, inmate):
    account = make_account(balance_cents=0)
    first = api.post(AUTHORIZE, _body(facility, inmate, account.test_number, "paid-later"), format="json")
    assert first.json()["reason"] == DenyReason.INSUFFICIENT_FUNDS
    assert CallDecision.objects.get(call_id="paid-later").reason == DenyReason.INSUFFICIENT_FUNDS
    deposit(account, 1000)
    second = api.post(AUTHORIZE, _body(facility, inmate, account.test_number, "paid-later"), format="json")
    assert second.json()["decision"] == "allow"  # decided afresh: the deny is not replayed
    assert (CallDecision.objects.get(call_id="paid-later").decision, CallDecision.objects.count()) == ("allow", 1)

    body = _body(facility, inmate, account.test_number, "paid-later", **_report())
    response = api.post(COMPLETE, body, format="json")

    assert response.status_code == 200
    assert response.json() | {"balance_after": None} == {
        "call_id": "paid-later",
        "billable_minutes": 10,
        "charge": "2.10",
        "tax": "0.13",
        "total": "2.23",
        "balance_after": None,
        "refused_reason": None,
    }
    assert balance_of(account) == 1000 - 223
    assert CallRecord.objects.get(call_id="paid-later").refused_reason == ""
    assert Hold.objects.get(call_id="paid-later").released_at is not None
    _ledger_clean()


def test_an_allow_then_a_deny_then_the_report_costs_nothing(admin_client, connecticut):
    """A free call allowed (no hold), then refused when asked again after staff suspended the account:
    the latest answer governs."""
    inmate = InmateFactory(facility=connecticut)
    account = make_account(balance_cents=500)
    assert authorize(connecticut, inmate, account.test_number, cid="free-then-no").decision == "allow"
    account_suspend(account=account, actor=None, reason="Fraud check", code=SuspensionCode.STAFF)
    denied = authorize(connecticut, inmate, account.test_number, cid="free-then-no")
    assert (denied.decision, denied.reason) == ("deny", DenyReason.ACCOUNT_SUSPENDED)

    done = complete(connecticut, inmate, account.test_number, seconds=300, cid="free-then-no")

    assert done.as_dict() == {
        "call_id": "free-then-no",
        "billable_minutes": 5,
        "charge": "0.00",
        "tax": "0.00",
        "total": "0.00",
        "balance_after": "5.00",
        "refused_reason": DenyReason.ACCOUNT_SUSPENDED,
    }
    assert balance_of(account) == 500
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert [(label.split(": ")[-1], count) for _, label, count in _queue(html)] == [(connecticut.name, "1")]
    _ledger_clean()


def test_a_refused_call_to_a_number_no_account_holds_is_answered_with_no_payer(api, facility, inmate):
    body = _body(facility, inmate, "+18605550999", "nobody-1")
    assert api.post(AUTHORIZE, body, format="json").json()["reason"] == DenyReason.NUMBER_NOT_REGISTERED

    response = api.post(COMPLETE, body | _report(seconds=60), format="json")

    assert response.status_code == 200
    assert response.json()["balance_after"] is None
    assert (response.json()["total"], response.json()["refused_reason"]) == ("0.00", DenyReason.NUMBER_NOT_REGISTERED)
    assert CallRecord.objects.get(call_id="nobody-1").account_id is None
    _ledger_clean()


def test_a_call_reported_without_any_authorize_is_charged_as_before(api, facility, inmate):
    account = make_account(balance_cents=1000)
    body = _body(facility, inmate, account.test_number, "late-record", **_report())
    response = api.post(COMPLETE, body, format="json")
    assert (response.status_code, response.json()["total"], response.json()["refused_reason"]) == (200, "2.23", None)
    assert response.json()["balance_after"] == "7.77"
    assert balance_of(account) == 1000 - 223
    assert not CallDecision.objects.exists()
    _ledger_clean()


def test_a_report_under_a_refused_call_id_for_another_number_is_a_conflict_and_charges_no_one(api, facility, inmate):
    """A call id names one call: a report for another number under the id FamilyLine refused is a 409,
    as it is under an allowed id, and nobody pays for it."""
    refused, _ = _refused_as_pending_activation(facility)
    paying = make_account(balance_cents=1000)
    body = _body(facility, inmate, refused.test_number, "reused-id")
    assert api.post(AUTHORIZE, body, format="json").json()["decision"] == "deny"
    entries = JournalEntry.objects.count()

    response = api.post(COMPLETE, body | {"dialed_number": paying.test_number} | _report(seconds=60), format="json")

    assert response.status_code == 409
    assert (response.json()["reason"], response.json()["field"]) == ("call_id_conflict", "dialed_number")
    other_inmate = InmateFactory(facility=facility)
    response = api.post(COMPLETE, body | {"inmate": other_inmate.inmate_number} | _report(seconds=60), format="json")
    assert (response.status_code, response.json()["field"]) == (409, "inmate")
    assert balance_of(paying) == 1000 and balance_of(refused) == 1000
    assert JournalEntry.objects.count() == entries
    assert not CallRecord.objects.exists()
    _ledger_clean()


def test_authorize_of_a_refused_call_already_reported_answers_its_refusal_and_holds_nothing(facility, inmate):
    account, reason = _refused_as_pending_activation(facility)
    authorize(facility, inmate, account.test_number, cid="over")
    complete(facility, inmate, account.test_number, seconds=60, cid="over")
    account.status = AccountStatus.ACTIVE
    account.save(update_fields=["status"])
    answer = authorize(facility, inmate, account.test_number, cid="over")
    assert (answer.decision, answer.reason, answer.max_seconds) == ("deny", reason, 0)
    assert not Hold.objects.exists()
    assert CallDecision.objects.get(call_id="over").reason == reason  # the call is over: nothing new decided
    _ledger_clean()


def test_every_answer_is_recorded_with_the_call_it_names(facility, inmate):
    account = make_account(balance_cents=1000)
    now = timezone.now()
    authorize(facility, inmate, account.test_number, cid="ok-1", now=now)
    authorize(facility, inmate, "+18605550998", cid="no-1", now=now)
    decisions = {d.call_id: d for d in CallDecision.objects.all()}
    assert (decisions["ok-1"].decision, decisions["ok-1"].reason) == ("allow", "")
    assert (decisions["no-1"].decision, decisions["no-1"].reason) == ("deny", DenyReason.NUMBER_NOT_REGISTERED)
    assert (decisions["ok-1"].facility_code, decisions["ok-1"].inmate_number) == (facility.code, inmate.inmate_number)
    assert (decisions["ok-1"].dialed_number, decisions["ok-1"].decided_at) == (account.test_number, now)


@pytest.mark.parametrize("number", ["+4915111111111111", "+8111111111111111111"])
def test_a_deny_for_a_number_longer_than_fifteen_digits_is_answered_and_recorded(api, facility, inmate, number):
    """Numbers the platform may send (possible in their country, up to 19 digits in E.164) are recorded
    with their deny like any other, not refused by the database as a busy server."""
    body = _body(facility, inmate, number, "long-number")
    response = api.post(AUTHORIZE, body, format="json")
    assert (response.status_code, response.json()["reason"]) == (200, DenyReason.NUMBER_NOT_REGISTERED)
    decision = CallDecision.objects.get(call_id="long-number")
    assert (decision.reason, decision.dialed_number) == (DenyReason.NUMBER_NOT_REGISTERED, number)

    done = api.post(COMPLETE, body | _report(seconds=60), format="json")
    assert (done.status_code, done.json()["total"], done.json()["refused_reason"]) == (
        200,
        "0.00",
        DenyReason.NUMBER_NOT_REGISTERED,
    )
    _ledger_clean()


# --- the import path ------------------------------------------------------------------------------------


def _import(tmp_path, rows: list[str]) -> str:
    path = tmp_path / "calls.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    out = StringIO()
    call_command("import_calls", str(path), stdout=out)
    return out.getvalue()


def test_an_imported_call_follows_the_latest_answer_like_the_api(tmp_path, admin_client, facility, inmate):
    refused, reason = _refused_as_pending_activation(facility)
    paying = make_account(balance_cents=0)
    nobody = "+18605550997"
    authorize(facility, inmate, refused.test_number, cid="imp-refused")
    authorize(facility, inmate, nobody, cid="imp-nobody")
    assert authorize(facility, inmate, paying.test_number, cid="imp-later").reason == DenyReason.INSUFFICIENT_FUNDS
    deposit(paying, 1000)
    assert authorize(facility, inmate, paying.test_number, cid="imp-later").decision == "allow"
    f, i, started = facility.code, inmate.inmate_number, "2026-01-05T14:00:00-05:00"
    rows = [
        f"imp-refused,{f},{i},{refused.test_number},{started},541,normal",
        f"imp-nobody,{f},{i},{nobody},{started},60,normal",
        f"imp-later,{f},{i},{paying.test_number},{started},541,normal",
        f"imp-unasked,{f},{i},{paying.test_number},{started},60,normal",
    ]

    assert _import(tmp_path, rows).startswith("posted: 4, duplicate: 0, rejected: 0")

    records = {r.call_id: r for r in CallRecord.objects.all()}
    assert all(r.source == CallSource.IMPORT for r in records.values())
    assert (records["imp-refused"].refused_reason, records["imp-refused"].total_cents) == (reason, 0)
    assert (records["imp-refused"].balance_after_cents, records["imp-refused"].billable_minutes) == (1000, 10)
    assert (records["imp-nobody"].refused_reason, records["imp-nobody"].account_id) == (
        DenyReason.NUMBER_NOT_REGISTERED,
        None,
    )
    assert (records["imp-later"].refused_reason, records["imp-later"].total_cents) == ("", 223)
    assert (records["imp-unasked"].refused_reason, records["imp-unasked"].total_cents) == ("", 22)
    assert balance_of(refused) == 1000 and balance_of(paying) == 1000 - 223 - 22
    assert not JournalEntry.objects.filter(idempotency_key__in=["call:imp-refused", "call:imp-nobody"]).exists()
    assert not Hold.objects.filter(released_at__isnull=True).exists()
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert [count for _, _, count in _queue(html)] == ["2"]
    # The same file again is a duplicate, refusals included.
    assert _import(tmp_path, rows).startswith("posted: 0, duplicate: 4")
    _ledger_clean()


def test_an_imported_call_under_a_refused_call_id_for_another_number_is_rejected(tmp_path, facility, inmate):
    refused, _ = _refused_as_pending_activation(facility)
    paying = make_account(balance_cents=1000)
    authorize(facility, inmate, refused.test_number, cid="imp-reused")
    row = f"imp-reused,{facility.code},{inmate.inmate_number},{paying.test_number},2026-01-05T14:00:00-05:00,60,normal"

    out = _import(tmp_path, [row])

    assert out.startswith("posted: 0, duplicate: 0, rejected: 1")
    assert "This call_id was already used for a call with another dialed_number." in out
    assert balance_of(paying) == 1000
    assert not CallRecord.objects.exists()
    _ledger_clean()


# --- the work queue -------------------------------------------------------------------------------------


def test_the_work_queue_groups_refused_calls_per_facility(admin_client, facility, inmate):
    other = FacilityFactory(name="Zeta County Jail", facility_type="jail", size_tier="small")
    RatePlanFactory(facility=other)
    other_inmate = InmateFactory(facility=other)
    empty = _queue(admin_client.get(reverse("admin:index")).content.decode())
    assert [count for _, _, count in empty] == ["0"]
    for n, (where, who) in enumerate([(facility, inmate), (facility, inmate), (other, other_inmate)]):
        account, _ = _refused_as_pending_activation(where)
        authorize(where, who, account.test_number, cid=f"grouped-{n}")
        complete(where, who, account.test_number, seconds=60, cid=f"grouped-{n}")
    long_ago = timezone.now() - datetime.timedelta(days=settings.REFUSED_CALLS_QUEUE_DAYS + 1)
    CallRecord.objects.filter(call_id="grouped-2").update(completed_at=long_ago)
    account, _ = _refused_as_pending_activation(other)
    authorize(other, other_inmate, account.test_number, cid="grouped-3")
    complete(other, other_inmate, account.test_number, seconds=60, cid="grouped-3")

    rows = _queue(admin_client.get(reverse("admin:index")).content.decode())

    assert [(label.split(": ")[-1], count) for _, label, count in rows] == [(facility.name, "2"), (other.name, "1")]
    listed = admin_client.get(rows[1][0].replace("&amp;", "&"))
    assert [r.call_id for r in listed.context["cl"].result_list] == ["grouped-3"]
    _ledger_clean()


# --- keeping decisions ----------------------------------------------------------------------------------


def test_the_purge_drops_decisions_older_than_two_years_only(facility, inmate):
    account = make_account(balance_cents=1000)
    now = timezone.now()
    two_years_ago = now.replace(year=now.year - 2) if not (now.month == 2 and now.day == 29) else None
    assert two_years_ago is not None
    ages = {
        "too-old": two_years_ago - datetime.timedelta(days=1),
        "just-kept": two_years_ago + datetime.timedelta(days=1),
        "recent": now - datetime.timedelta(days=30),
    }
    for call_id, decided_at in ages.items():
        authorize(facility, inmate, account.test_number, cid=call_id, now=decided_at)
    assert CallDecision.objects.count() == 3

    assert tasks.call_decisions_purge() == 1

    assert sorted(CallDecision.objects.values_list("call_id", flat=True)) == ["just-kept", "recent"]
    assert settings.CELERY_BEAT_SCHEDULE["calls-decisions-purge-daily"]["task"] == "calls.tasks.call_decisions_purge"


def test_the_schema_documents_refused_reason_on_every_complete_answer(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)["components"]["schemas"]
    complete_answer = schema["CompleteResponse"]
    assert "refused_reason" in complete_answer["required"]
    refs = {option["$ref"] for option in complete_answer["properties"]["refused_reason"]["oneOf"]}
    assert refs == {"#/components/schemas/ReasonEnum", "#/components/schemas/NullEnum"}
    assert set(schema["ReasonEnum"]["enum"]) == set(DenyReason.ALL)
