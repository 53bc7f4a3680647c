"""The platform API at its edges: a body of any size is a JSON answer that changes nothing, and wrong
bearer tokens are throttled per client address while valid tokens are not."""

import json

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from billing.ledger.models import Hold, JournalEntry
from calls.api import authentication
from calls.models import CallRecord
from tests.helpers import add_number, deposit, make_account

AUTHORIZE = "/api/v1/calls/authorize"
COMPLETE = "/api/v1/calls/complete"


def _call(facility, inmate, number, call_id="e-1"):
    return {"call_id": call_id, "facility": facility.code, "inmate": inmate.inmate_number, "dialed_number": number}


def _done(facility, inmate, number, call_id="e-1"):
    finished = {"started_at": "2026-01-05T14:00:00-05:00", "duration_seconds": 61, "disconnect": "normal"}
    return _call(facility, inmate, number, call_id) | finished


@pytest.fixture
def funded_number(facility, inmate):
    account = make_account()
    number = add_number(account)
    deposit(account, 5000)
    return number


@pytest.mark.django_db
@pytest.mark.parametrize("path", [AUTHORIZE, COMPLETE])
@pytest.mark.parametrize("size", [1_000_000, 3_000_000])
def test_a_body_of_megabytes_is_a_json_413_and_changes_nothing(api, path, size, facility, inmate, funded_number):
    entries = JournalEntry.objects.count()
    call = _call(facility, inmate, funded_number) if path == AUTHORIZE else _done(facility, inmate, funded_number)
    body = json.dumps(call) + " " * size  # valid JSON, only too long
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 413, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["reason"] == "request_too_large"
    assert not CallRecord.objects.exists() and not Hold.objects.exists()
    assert JournalEntry.objects.count() == entries


@pytest.mark.django_db
def test_a_body_just_under_the_limit_is_still_read(api, facility, inmate, funded_number):
    body = json.dumps(_call(facility, inmate, funded_number))
    body += " " * (settings.JSON_MAX_BYTES - len(body))
    assert len(body) == settings.JSON_MAX_BYTES
    assert api.post(AUTHORIZE, body, content_type="application/json").status_code == 200


def _client(token: str, address: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def failure_window(settings, monkeypatch):
    """Five wrong tokens per address per minute, all sent within one minute of the window's clock."""
    settings.PLATFORM_TOKEN_FAILURES_PER_WINDOW = 5
    settings.TRUSTED_PROXY_COUNT = 0
    monkeypatch.setattr(authentication, "_clock", lambda: 1_800_000_000.0 + 12)
    yield
    authentication.FailedTokenAttempts._blocked.clear()


@pytest.mark.django_db
def test_wrong_tokens_from_one_address_get_429_with_retry_after(failure_window, facility, inmate, funded_number):
    guesser = _client("flp_wrong")
    body = _call(facility, inmate, funded_number)
    codes = [guesser.post(AUTHORIZE, body, format="json").status_code for _ in range(8)]
    assert codes == [401] * 5 + [429] * 3
    refused = guesser.post(AUTHORIZE, body, format="json")
    assert refused.status_code == 429
    assert refused.json()["reason"] == "throttled"
    assert refused["Retry-After"] == "48"  # the rest of the minute
    assert not Hold.objects.exists()


@pytest.mark.django_db
def test_a_blocked_address_is_refused_even_with_a_real_token_and_others_are_not(
    failure_window, platform_token, facility, inmate, funded_number
):
    body = _call(facility, inmate, funded_number)
    for _ in range(6):
        _client("flp_wrong").post(AUTHORIZE, body, format="json")
    assert _client(platform_token).post(AUTHORIZE, body, format="json").status_code == 429
    # Another address, with its valid token, is served as usual.
    assert _client(platform_token, address="198.51.100.4").post(AUTHORIZE, body, format="json").status_code == 200
    # A malformed header is a failure too.
    assert _client("a b", address="198.51.100.9").post(AUTHORIZE, body, format="json").status_code == 401


@pytest.mark.django_db
def test_valid_tokens_are_never_counted_however_many(failure_window, platform_token, facility, inmate, funded_number):
    client = _client(platform_token)
    body = _call(facility, inmate, funded_number)
    codes = {client.post(AUTHORIZE, body, format="json").status_code for _ in range(30)}
    assert codes == {200}
    assert not authentication.FailedTokenAttempts._blocked


@pytest.mark.django_db
def test_the_block_ends_with_its_window(failure_window, monkeypatch, platform_token, facility, inmate, funded_number):
    body = _call(facility, inmate, funded_number)
    for _ in range(6):
        _client("flp_wrong").post(AUTHORIZE, body, format="json")
    assert _client(platform_token).post(AUTHORIZE, body, format="json").status_code == 429
    monkeypatch.setattr(authentication, "_clock", lambda: 1_800_000_000.0 + 61)
    assert _client(platform_token).post(AUTHORIZE, body, format="json").status_code == 200
    assert _client("flp_wrong").post(AUTHORIZE, body, format="json").status_code == 401
