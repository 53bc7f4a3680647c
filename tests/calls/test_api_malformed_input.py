"""The platform API under malformed and hostile input, each case pinned: nested and oversized JSON, strict
types, phone numbers that are not phone numbers, a call id reused for another call, an overloaded
database, and JSON for every error."""

import json
import threading

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from billing.ledger.models import Hold, JournalEntry
from calls.models import CallRecord, Facility
from calls.selectors import facility_cache_clear
from calls.tokens import platform_token_create
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import balance_of, make_account

AUTHORIZE = "/api/v1/calls/authorize"
COMPLETE = "/api/v1/calls/complete"
STARTED = "2026-01-05T14:00:00-05:00"


def _body(facility, inmate, number, call_id="f-1", **extra):
    return {"call_id": call_id, "facility": facility.code, "inmate": inmate.inmate_number, "dialed_number": number} | (
        extra
    )


def _done(facility, inmate, number, call_id="f-1", **extra):
    fields = {"started_at": STARTED, "duration_seconds": 61, "disconnect": "normal"} | extra
    return _body(facility, inmate, number, call_id, **fields)


def _is_json(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()


# --- nested and oversized JSON ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [AUTHORIZE, COMPLETE])
@pytest.mark.parametrize("nested", ["[" * 2000 + "]" * 2000, '{"a":' * 2000 + "1" + "}" * 2000])
def test_json_nested_two_thousand_levels_is_a_json_400(api, path, nested):
    response = api.post(path, nested, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in _is_json(response)["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [AUTHORIZE, COMPLETE])
def test_oversized_json_is_a_json_413(api, path, facility, inmate):
    body = json.dumps(_body(facility, inmate, "+18605550100") | {"padding": "x" * 70_000})
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 413
    assert "larger" in _is_json(response)["detail"]


# --- strict types and phone numbers -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("duration", ["60", 60.0, True, "1e2"])
def test_duration_that_is_not_a_json_integer_is_400_and_charges_nothing(api, facility, inmate, duration):
    account = make_account(balance_cents=1000)
    response = api.post(
        COMPLETE, _done(facility, inmate, account.test_number, duration_seconds=duration), format="json"
    )
    assert response.status_code == 400
    assert list(_is_json(response)) == ["duration_seconds"]
    assert not CallRecord.objects.exists()
    assert balance_of(account) == 1000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "number",
    [
        "++18605550134",
        "+1+8605550134",
        "+1 860 555 0134 ext. 12",
        "860-555-0134 x12",
        "860-555-0134;ext=12",
        "1-800-FLOWERS",
        "860555013A",
        "+1\u0668\u0666\u0660",
    ],
)
def test_dialed_number_that_is_not_a_phone_number_is_400(api, facility, inmate, number):
    account = make_account(balance_cents=1000, number="+18605550134")
    for path, body in ((AUTHORIZE, _body(facility, inmate, number)), (COMPLETE, _done(facility, inmate, number))):
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, number)
        assert list(_is_json(response)) == ["dialed_number"]
    assert not Hold.objects.exists() and not CallRecord.objects.exists()
    assert balance_of(account) == 1000


@pytest.mark.django_db
def test_string_fields_take_json_strings_only(api, facility, inmate):
    response = api.post(AUTHORIZE, _body(facility, inmate, 18605550134), format="json")
    assert response.status_code == 400
    assert list(_is_json(response)) == ["dialed_number"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [(path, field) for path in (AUTHORIZE, COMPLETE) for field in ("facility", "inmate", "call_id")]
    + [(COMPLETE, "disconnect")],  # a refused choice is echoed in its message
)
def test_a_lone_surrogate_in_a_text_field_is_400_not_500(api, facility, inmate, path, field):
    """JSON's "\\ud800" decodes to a character no UTF-8 text holds: the database could not take it."""
    account = make_account(balance_cents=1000)
    body = _done(facility, inmate, account.test_number)
    text = json.dumps(body).replace(json.dumps(body[field]), '"x\\ud800"', 1)
    response = api.post(path, text, content_type="application/json")
    assert response.status_code == 400
    assert field in _is_json(response)
    assert not Hold.objects.exists() and not CallRecord.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("started_at", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_start_before_1970_is_400_and_charges_nothing(api, facility, inmate, started_at):
    """Year 1 could not even be turned into the facility's local date (it was a 500)."""
    account = make_account(balance_cents=1000)
    response = api.post(COMPLETE, _done(facility, inmate, account.test_number, started_at=started_at), format="json")
    assert response.status_code == 400
    assert list(_is_json(response)) == ["started_at"]
    assert not CallRecord.objects.exists()
    assert balance_of(account) == 1000


# --- a call id names one call -------------------------------------------------------------------------


@pytest.mark.django_db
def test_repeated_call_id_for_another_facility_inmate_or_number_is_409_and_holds_nothing(api, facility, inmate):
    account = make_account(balance_cents=1000)
    other = make_account(balance_cents=1000)
    elsewhere = FacilityFactory()
    RatePlanFactory(facility=elsewhere)
    other_inmate = InmateFactory(facility=facility)
    first = api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
    assert first.json()["decision"] == "allow"
    changes = {
        "facility": {"facility": elsewhere.code},
        "inmate": {"inmate": other_inmate.inmate_number},
        "dialed_number": {"dialed_number": other.test_number},
    }
    for field, change in changes.items():
        response = api.post(AUTHORIZE, _body(facility, inmate, account.test_number) | change, format="json")
        assert response.status_code == 409, field
        assert _is_json(response) | {"detail": ""} == {"detail": "", "reason": "call_id_conflict", "field": field}
    assert Hold.objects.count() == 1
    assert api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json").json() == first.json()


@pytest.mark.django_db
def test_a_call_id_sent_again_after_its_inmate_was_released_or_facility_closed_is_the_same_call(api, facility, inmate):
    """Not a 409: the call path looks up only active inmates and facilities, the check of a repeat
    compares with them whatever their status."""
    account = make_account(balance_cents=1000)
    first = api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
    done = api.post(COMPLETE, _done(facility, inmate, account.test_number), format="json")
    assert first.json()["decision"] == "allow" and done.status_code == 200
    inmate.is_active = False
    inmate.save(update_fields=["is_active"])
    assert api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json").json() == first.json()
    Facility.objects.filter(pk=facility.pk).update(is_active=False)
    facility_cache_clear(codes=[facility.code])
    again = api.post(COMPLETE, _done(facility, inmate, account.test_number), format="json")
    assert again.status_code == 200 and again.json() == done.json()
    assert CallRecord.objects.count() == 1


@pytest.mark.django_db
def test_repeated_call_id_on_complete_for_another_call_is_409_and_charges_nothing(api, facility, inmate):
    account = make_account(balance_cents=1000)
    other = make_account(balance_cents=1000)
    api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
    # The hold says which call this id is: a report of another number is refused before any charge.
    response = api.post(COMPLETE, _done(facility, inmate, other.test_number), format="json")
    assert (response.status_code, _is_json(response)["field"]) == (409, "dialed_number")
    assert not JournalEntry.objects.filter(idempotency_key="call:f-1").exists()
    assert (balance_of(account), balance_of(other)) == (1000, 1000)
    done = api.post(COMPLETE, _done(facility, inmate, account.test_number), format="json")
    assert done.status_code == 200
    # Once recorded, the same id for another inmate is a conflict too, and charges nothing more.
    other_inmate = InmateFactory(facility=facility)
    body = _done(facility, inmate, account.test_number) | {"inmate": other_inmate.inmate_number}
    again = api.post(COMPLETE, body, format="json")
    assert (again.status_code, again.json()["field"]) == (409, "inmate")
    assert balance_of(account) == 1000 - int(done.json()["total"].replace(".", ""))
    assert CallRecord.objects.count() == 1


# --- every error is JSON ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_api_error_body_is_json(api):
    assert _is_json(api.get("/api/v1/calls/nope"))["reason"] == "not_found"
    assert api.get("/api/v1/calls/nope").status_code == 404
    assert api.get(AUTHORIZE).status_code == 405
    _is_json(api.get(AUTHORIZE))
    _is_json(api.post(AUTHORIZE, "a=b", content_type="application/x-www-form-urlencoded"))
    _is_json(APIClient().post(COMPLETE, {}, format="json"))
    assert api.get("/api/v1/ping").json() == {"ok": True}


# --- an overloaded database -------------------------------------------------------------------------------


@pytest.fixture
def one_connection_pool(transactional_db):
    """Every thread's connection comes from one psycopg pool of a single connection, which gives up
    after half a second, as production's pool does under a burst (DB_POOL_MAX_SIZE, DB_POOL_TIMEOUT)."""
    settings_dict = connection.settings_dict
    saved = (dict(settings_dict["OPTIONS"]), settings_dict["CONN_MAX_AGE"])
    connections.close_all()
    settings_dict["OPTIONS"] = {**saved[0], "pool": {"min_size": 1, "max_size": 1, "timeout": 0.5}}
    settings_dict["CONN_MAX_AGE"] = 0
    try:
        yield
    finally:
        connections.close_all()
        connection.close_pool()
        settings_dict["OPTIONS"], settings_dict["CONN_MAX_AGE"] = saved


def test_overloaded_database_is_a_json_503_then_recovers_by_itself(one_connection_pool, facility, inmate):
    account = make_account(balance_cents=1000)
    _, raw = platform_token_create(name="Platform", actor=None)
    connections.close_all()  # back to the pool
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    taken, release = threading.Event(), threading.Event()

    def busy():
        # Another request holding the only connection (a long transaction).
        with transaction.atomic():
            Facility.objects.count()
            taken.set()
            release.wait(10)
        connections.close_all()

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        assert taken.wait(10)
        response = client.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
        assert response.status_code == 503
        assert _is_json(response)["reason"] == "overloaded"
        assert response["Retry-After"] == "1"
    finally:
        release.set()
        worker.join()
    # Nothing to restart: the next request gets the connection back from the pool.
    response = client.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
    assert (response.status_code, response.json()["decision"]) == (200, "allow")
    assert Hold.objects.count() == 1
