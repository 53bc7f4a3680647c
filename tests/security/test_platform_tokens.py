"""Platform tokens: limited to facilities, rate limited, alerted on charged completes that no
authorization preceded, revoked within seconds; the API answers bad JSON with a 400 JSON body."""

import datetime
import itertools

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from calls import selectors as call_selectors
from calls.api import throttling
from calls.models import CallRecord, PlatformTokenAlert
from calls.tokens import platform_token_revoke
from config.settings import base as base_settings

from .forms_catalog import token_client

pytestmark = pytest.mark.django_db
AUTHORIZE = reverse("api:calls-authorize")
COMPLETE = reverse("api:calls-complete")
_ids = itertools.count(1)


def fund(account, cents=5000):
    ledger.post(
        idempotency_key=f"security-test-deposit:{account.pk}:{next(_ids)}",
        kind=EntryKind.PAYMENT,
        lines=[(ledger.system_account(SystemAccount.CARD_CLEARING), -cents), (ledger.account_ledger(account), cents)],
    )


def body(facility, inmate, number, **extra):
    return {
        "call_id": f"sec-{next(_ids)}",
        "facility": facility.code,
        "inmate": inmate.inmate_number,
        "dialed_number": number,
        **extra,
    }


def completed(facility, inmate, number, **extra):
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return body(
        facility, inmate, number, started_at=started.isoformat(), duration_seconds=180, disconnect="normal", **extra
    )


def test_a_token_scoped_to_facility_a_is_refused_at_facility_b(two_facilities, token_factory, prepaid):
    (facility_a, inmate_a), (facility_b, inmate_b) = two_facilities
    fund(prepaid)
    _token, raw = token_factory(facilities=[facility_a])
    client = token_client(raw)
    allowed = client.post(AUTHORIZE, body(facility_a, inmate_a, prepaid.test_number), format="json")
    assert allowed.status_code == 200 and allowed.json()["decision"] == "allow"
    for path, payload in (
        (AUTHORIZE, body(facility_b, inmate_b, prepaid.test_number)),
        (COMPLETE, completed(facility_b, inmate_b, prepaid.test_number)),
    ):
        refused = client.post(path, payload, format="json")
        assert refused.status_code == 403
        assert refused["Content-Type"] == "application/json"
        assert refused.json()["reason"] == "facility_not_allowed"
    assert not CallRecord.objects.filter(facility=facility_b).exists()


def test_a_token_without_facilities_acts_everywhere(two_facilities, token_factory, prepaid):
    (facility_a, inmate_a), (facility_b, inmate_b) = two_facilities
    fund(prepaid)
    _token, raw = token_factory()
    client = token_client(raw)
    for facility, inmate in two_facilities:
        assert client.post(AUTHORIZE, body(facility, inmate, prepaid.test_number), format="json").status_code == 200


def test_the_per_token_rate_limit_answers_429_and_can_be_turned_off(
    settings, two_facilities, token_factory, prepaid, monkeypatch
):
    (facility, inmate), _ = two_facilities
    settings.PLATFORM_TOKEN_RATE_PER_SECOND = 3
    # All five requests in one second of the limit's clock, however long they take.
    monkeypatch.setattr(throttling, "_clock", lambda: 1e9 + 0.5)
    _token, raw = token_factory()
    client = token_client(raw)
    with time_machine.travel("2026-10-01 12:00:00", tick=False):
        codes = [
            client.post(AUTHORIZE, body(facility, inmate, prepaid.test_number), format="json").status_code
            for _ in range(5)
        ]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    settings.PLATFORM_TOKEN_RATE_PER_SECOND = 0
    assert client.post(AUTHORIZE, body(facility, inmate, prepaid.test_number), format="json").status_code == 200


def test_the_default_rate_limit_is_well_above_a_states_peak():
    assert base_settings.PLATFORM_TOKEN_RATE_PER_SECOND == 200


def test_charged_completes_without_authorization_raise_an_alert(settings, two_facilities, token_factory, prepaid):
    (facility, inmate), _ = two_facilities
    settings.PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR = 3
    fund(prepaid)
    token, raw = token_factory()
    client = token_client(raw)
    # Authorized first: never counted.
    payload = completed(facility, inmate, prepaid.test_number)
    first = {k: payload[k] for k in ("call_id", "facility", "inmate", "dialed_number")}
    assert client.post(AUTHORIZE, first, format="json").status_code == 200
    assert client.post(COMPLETE, payload, format="json").status_code == 200
    for _ in range(3):
        assert client.post(COMPLETE, completed(facility, inmate, prepaid.test_number), format="json").status_code == 200
    assert not PlatformTokenAlert.objects.exists()
    assert client.post(COMPLETE, completed(facility, inmate, prepaid.test_number), format="json").status_code == 200
    alert = PlatformTokenAlert.objects.get()
    assert alert.token == token and alert.count == 4 and alert.kind == "unauthorized_completes"


def test_the_alert_is_listed_for_staff(admin_client, settings, two_facilities, token_factory, prepaid):
    (facility, inmate), _ = two_facilities
    settings.PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR = 0
    fund(prepaid)
    _token, raw = token_factory()
    token_client(raw).post(COMPLETE, completed(facility, inmate, prepaid.test_number), format="json")
    response = admin_client.get(reverse("admin:calls_platformtokenalert_changelist"))
    assert response.status_code == 200 and b"Completes without an authorization" in response.content


def test_a_revoked_token_is_refused_within_the_cache_time(
    settings, monkeypatch, two_facilities, token_factory, prepaid
):
    (facility, inmate), _ = two_facilities
    settings.PLATFORM_TOKEN_CACHE_SECONDS = 5
    now = [1000.0]
    monkeypatch.setattr(call_selectors, "_clock", lambda: now[0])
    token, raw = token_factory()
    client = token_client(raw)
    assert client.post(AUTHORIZE, body(facility, inmate, prepaid.test_number), format="json").status_code == 200
    platform_token_revoke(token=token)
    now[0] += 6
    response = client.post(AUTHORIZE, body(facility, inmate, prepaid.test_number), format="json")
    assert response.status_code == 401


@pytest.mark.parametrize("path", [AUTHORIZE, COMPLETE])
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"call_id": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"call_id": "x", "facility": "\\u0000"}',
        b'{"call_id": "x"' + b" " * 70000 + b"}",
        b"\xff\xfe{}",
        b"{",
    ],
    ids=["nested", "nested-field", "nul", "oversized", "not-utf8", "truncated"],
)
def test_bad_json_is_a_4xx_json_answer_on_both_endpoints(path, raw, token_factory):
    _token, token = token_factory()
    response = token_client(token).post(path, data=raw, content_type="application/json")
    assert response.status_code == (413 if len(raw) > settings.JSON_MAX_BYTES else 400)
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("field", ["facility", "inmate", "dialed_number"])
def test_control_characters_in_api_fields_are_field_errors(field, two_facilities, token_factory, prepaid):
    (facility, inmate), _ = two_facilities
    _token, raw = token_factory()
    payload = body(facility, inmate, prepaid.test_number)
    payload[field] = payload[field] + "\x1b[2J"
    response = token_client(raw).post(AUTHORIZE, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
