import datetime
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from calls.callpath.errors import DenyReason
from calls.models import CallRecord, PlatformToken
from calls.tokens import platform_token_create, platform_token_revoke
from tests.helpers import balance_of, make_account

pytestmark = pytest.mark.django_db

AUTHORIZE = "/api/v1/calls/authorize"
COMPLETE = "/api/v1/calls/complete"


def _body(facility, inmate, number, **extra):
    return {"call_id": "api-1", "facility": facility.code, "inmate": inmate.inmate_number, "dialed_number": number} | (
        extra
    )


def test_authorize_and_complete_over_http(api, facility, inmate):
    account = make_account(balance_cents=1245 + 223)
    response = api.post(AUTHORIZE, _body(facility, inmate, account.test_number), format="json")
    assert response.status_code == 200
    assert response.json()["decision"] == "allow"
    assert response.json()["max_seconds"] == 900
    body = _body(
        facility,
        inmate,
        account.test_number,
        started_at="2026-01-05T14:00:00-05:00",
        duration_seconds=541,
        disconnect="normal",
    )
    response = api.post(COMPLETE, body, format="json")
    assert response.status_code == 200
    # 10 started minutes at $0.21 = $2.10; tax 6.35% of 210 = 13.335 -> 13 cents
    expected = {
        "call_id": "api-1",
        "billable_minutes": 10,
        "charge": "2.10",
        "tax": "0.13",
        "total": "2.23",
        "balance_after": "12.45",
        "refused_reason": None,
    }
    assert response.json() == expected
    again = api.post(COMPLETE, body | {"duration_seconds": 3000}, format="json")
    assert (again.status_code, again.json()) == (200, expected)
    assert balance_of(account) == 1245
    record = CallRecord.objects.get(call_id="api-1")
    assert record.dialed_number == account.test_number
    assert record.entry.idempotency_key == "call:api-1"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Token abc", "Bearer", "Bearer a b", "Bearer \u00e9t\u00e9"])
def test_without_a_valid_token_is_401(db, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    for path in (AUTHORIZE, COMPLETE):
        response = client.post(path, {}, format="json")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused_and_only_a_hash_is_stored(db):
    token, raw = platform_token_create(name="Platform", actor=None)
    stored = PlatformToken.objects.get(pk=token.pk)
    assert raw not in (stored.token_hash, stored.token_prefix) and len(stored.token_hash) == 64
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post(AUTHORIZE, {}, format="json").status_code == 400
    platform_token_revoke(token=token)
    assert client.post(AUTHORIZE, {}, format="json").status_code == 401


def test_field_level_errors(api, facility, inmate):
    response = api.post(AUTHORIZE, {"facility": facility.code, "dialed_number": "hello"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"call_id", "inmate", "dialed_number"}
    response = api.post(
        COMPLETE,
        _body(facility, inmate, "+18605550100", started_at="yesterday", duration_seconds=-1, disconnect="hung"),
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"started_at", "duration_seconds", "disconnect"}


def test_complete_for_unknown_facility_inmate_or_payer_is_a_field_error(api, facility, inmate):
    account = make_account(balance_cents=500)
    base = {"started_at": "2026-01-05T14:00:00Z", "duration_seconds": 60, "disconnect": "normal"}
    cases = [
        ({"facility": "NOPE"}, "facility", "unknown_facility"),
        ({"inmate": "000"}, "inmate", "unknown_inmate"),
        ({"dialed_number": "+18605559999"}, "dialed_number", "no_payer"),
        ({"started_at": "2999-01-01T00:00:00Z"}, "started_at", "started_in_future"),
        ({"started_at": "2001-01-01T00:00:00Z"}, "started_at", "no_rate_plan"),
    ]
    for change, field, reason in cases:
        body = _body(facility, inmate, account.test_number, **base) | change
        response = api.post(COMPLETE, body, format="json")
        assert (response.status_code, list(response.json())) == (400, [field, "reason"]), change
        assert response.json()["reason"] == reason, change
    assert not CallRecord.objects.exists()
    assert balance_of(account) == 500


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        123,
        {"call_id": ["x"], "facility": {"a": 1}, "inmate": None, "dialed_number": 18605550100},
        {"call_id": "x" * 5000, "facility": "F" * 5000, "inmate": "1" * 5000, "dialed_number": "9" * 5000},
        {"call_id": "ok", "facility": "\u0000", "inmate": "\ud7ff", "dialed_number": "+1\u0660\u0661"},
        {"call_id": "ok", "facility": "x", "inmate": "x", "dialed_number": "+1860555", "duration_seconds": 10**40},
    ],
)
def test_bad_input_is_400_never_500(api, payload):
    for path in (AUTHORIZE, COMPLETE):
        response = api.post(path, json.dumps(payload), content_type="application/json")
        assert response.status_code == 400, (path, response.content)


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": "9999-12-31T23:59:59-12:00"},
        {"started_at": "0001-01-01T00:00:00+14:00"},
        {"duration_seconds": 1.5},
        {"duration_seconds": "12abc"},
        {"duration_seconds": 86401},
        {"disconnect": True},
        {"call_id": "has space"},
        {"call_id": "ünicode"},
    ],
)
def test_bad_complete_fields_are_400(api, facility, inmate, change):
    body = _body(facility, inmate, "+18605550100", started_at="2026-01-05T14:00:00Z", duration_seconds=60)
    body = body | {"disconnect": "normal"} | change
    response = api.post(COMPLETE, body, format="json")
    assert response.status_code == 400
    assert [name for name in response.json() if name != "reason"] == list(change)


def test_malformed_json_and_wrong_content_type(api):
    assert api.post(AUTHORIZE, "{not json", content_type="application/json").status_code == 400
    assert api.post(COMPLETE, '{"duration_seconds": Infinity}', content_type="application/json").status_code == 400
    assert api.post(AUTHORIZE, "a=b", content_type="application/x-www-form-urlencoded").status_code == 415


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(
            ["call_id", "facility", "inmate", "dialed_number", "started_at", "duration_seconds", "disconnect"]
        ),
        st.one_of(
            st.text(max_size=40),
            st.integers(),
            st.none(),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
    )
)
def test_fuzzed_bodies_never_500(api, body):
    for path in (AUTHORIZE, COMPLETE):
        response = api.post(path, body, format="json")
        assert response.status_code in (200, 400), (path, body, response.content)


def test_openapi_schema_documents_both_endpoints(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert {"/api/v1/calls/authorize", "/api/v1/calls/complete"} <= set(schema["paths"])
    authorize = schema["paths"]["/api/v1/calls/authorize"]["post"]
    assert {"200", "400", "401"} <= set(authorize["responses"])
    assert schema["components"]["securitySchemes"]["platformToken"]["scheme"] == "bearer"
    assert set(schema["components"]["schemas"]["ReasonEnum"]["enum"]) == set(DenyReason.ALL)


def test_started_at_without_offset_is_accepted(api, facility, inmate):
    account = make_account(balance_cents=500)
    started = (datetime.datetime.now() - datetime.timedelta(hours=1)).replace(microsecond=0).isoformat()
    body = _body(facility, inmate, account.test_number, started_at=started, duration_seconds=59, disconnect="dropped")
    response = api.post(COMPLETE, body, format="json")
    assert response.status_code == 200
    assert response.json()["billable_minutes"] == 0
    assert response.json()["total"] == "0.00"
