"""A malformed-input sweep across the family forms, the staff forms, the Stripe webhook and the
platform API: every input is answered without a 5xx and changes no state. Prints its figures
(run with -s to see them)."""

import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from calls.tokens import platform_token_create
from tests.factories import FacilityFactory

from .forms_catalog import build_world, form_cases, login_as, state_snapshot

pytestmark = pytest.mark.django_db

TEXT_INPUTS = {
    "nul": "a\x00b",
    "control": "\x07\x1b[2J\x7f",
    "bidi": "abc\u202edef",
    "c1": "x\x85y",
    "oversized": "x" * 20000,
    "markup": '<img src="/etc/hostname"/><b>x</b><script>alert(1)</script>',
    "lone-surrogate-escape": "\\ud800",
    "sql": "'; DROP TABLE accounts_user; --",
    "format": "%(limit)s {0} %s %n",
    "empty": "",
}


VALID_TEXT = {"markup", "sql", "format", "empty", "lone-surrogate-escape"}


def _signed(payload: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        settings.STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def _webhook_inputs() -> list[tuple[bytes, str]]:
    nested = b'{"id": "evt_n", "type": "x", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    nul = b'{"id": "evt_z", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_\\u0000"}}}'
    big = json.dumps({"id": "evt_b", "type": "x", "pad": "x" * (settings.STRIPE_WEBHOOK_MAX_BYTES + 10)}).encode()
    future = b'{"id": "evt_f", "type": "x"}'
    inputs = [
        (nested, _signed(nested)),
        (nul, _signed(nul)),
        (big, _signed(big)),
        (future, _signed(future, int(time.time()) + 3600)),
        (future, _signed(future, int(time.time()) - 3600)),
        (b"not json", _signed(b"not json")),
        (b"\xff\xfe\x00", _signed(b"\xff\xfe\x00")),
        (b"[]", _signed(b"[]")),
        (b'{"id": "evt_x"}', "t=abc,v1=deadbeef"),
        (b'{"id": "evt_x"}', ""),
        (b'{"id": "evt_x"}', "\x00"),
    ]
    return inputs


def _api_inputs(facility_b, inmate_b) -> list[tuple[str, bytes, dict]]:
    bodies = [
        b"[" * 2000 + b"]" * 2000,
        b'{"call_id": ' + b"{" * 3000 + b"}" * 3000 + b"}",
        b'{"call_id": "a\\u0000", "facility": "b", "inmate": "c", "dialed_number": "d"}',
        b'{"call_id": "x"' + b" " * 70000 + b"}",
        b"\xff\xfe",
        b"{",
        b"null",
        b"[]",
        b'"string"',
        json.dumps({"call_id": 5, "facility": [], "inmate": {}, "dialed_number": None}).encode(),
        json.dumps({"call_id": "x" * 500, "facility": "x" * 500, "inmate": "x", "dialed_number": "+1" * 100}).encode(),
        json.dumps(
            {"call_id": "c1", "facility": "F\x1b", "inmate": "1\x00", "dialed_number": "+18605550100\u202e"}
        ).encode(),
        json.dumps(
            {
                "call_id": "c2",
                "facility": "F",
                "inmate": "1",
                "dialed_number": "+18605550100",
                "started_at": "yesterday",
                "duration_seconds": 10**30,
                "disconnect": "\x00",
            }
        ).encode(),
        json.dumps(
            {
                "call_id": "scope-1",
                "facility": facility_b.code,
                "inmate": inmate_b.inmate_number,
                "dialed_number": "+18605559001",
                "started_at": "2026-10-01T12:00:00+00:00",
                "duration_seconds": 60,
                "disconnect": "normal",
            }
        ).encode(),
    ]
    headers = [{}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_AUTHORIZATION": "Bearer \u00e9t\u00e9"}]
    return bodies, headers


def _sweep_forms(world, record) -> None:
    for case in form_cases(world):
        area = "staff forms" if case.actor == "staff" or case.name == "staff login" else "family forms"
        client = Client(raise_request_exception=False)
        login_as(client, case, world)
        for field in case.text_fields:
            for name, value in TEXT_INPUTS.items():
                if name in VALID_TEXT:
                    continue  # valid text: it may be saved, so it belongs to the rendering tests
                before = state_snapshot()
                record(area, client.post(case.url, {**case.data, field: value}), before, f"{case.name}.{field}={name}")
            # A field sent twice (Django reads the last value).
            before = state_snapshot()
            record(area, client.post(case.url, {**case.data, field: ["x", TEXT_INPUTS["nul"]]}), before, case.name)
        if case.name != "close an account":  # its one field is optional: an empty body closes it
            before = state_snapshot()
            record(area, client.post(case.url, {}), before, f"{case.name} (empty body)")


def _sweep_webhook(record) -> None:
    client = Client(raise_request_exception=False)
    for payload, signature in _webhook_inputs():
        before = state_snapshot()
        response = client.post(
            reverse("billing:stripe_webhook"),
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": signature} if "\x00" not in signature else {},
        )
        record("webhook", response, before, payload[:40])


def _sweep_api(world, record) -> None:
    client = Client(raise_request_exception=False)
    facility, inmate = world["facility"], world["inmate"]
    # A token limited to another facility: every body naming this one is refused.
    scoped, raw = platform_token_create(name="Sweep", actor=None)
    scoped.facilities.set([FacilityFactory()])
    bodies, bad_headers = _api_inputs(facility, inmate)
    for path in (reverse("api:calls-authorize"), reverse("api:calls-complete")):
        for body in bodies:
            for extra in [{"HTTP_AUTHORIZATION": f"Bearer {raw}"}, *bad_headers]:
                before = state_snapshot()
                response = client.post(path, data=body, content_type="application/json", **extra)
                record("API", response, before, f"{path} {body[:30]!r}")


def test_malformed_input_sweep(capsys):
    world = build_world()
    figures = {"family forms": [0, 0, 0], "staff forms": [0, 0, 0], "webhook": [0, 0, 0], "API": [0, 0, 0]}
    failures = []

    def record(area, response, before, label):
        figures[area][0] += 1
        if response.status_code >= 500:
            figures[area][1] += 1
            failures.append((area, label, response.status_code))
        if state_snapshot() != before:
            figures[area][2] += 1
            failures.append((area, label, "state changed"))

    _sweep_forms(world, record)
    _sweep_webhook(record)
    _sweep_api(world, record)

    with capsys.disabled():
        print("\nmalformed-input sweep: area, inputs tried, 5xx, state changes")
        for area, (tried, errors, changes) in figures.items():
            print(f"  {area:13} {tried:5} {errors:3} {changes:3}")
        total = [sum(v[i] for v in figures.values()) for i in range(3)]
        print(f"  {'total':13} {total[0]:5} {total[1]:3} {total[2]:3}")
    assert failures == [], "\n".join(map(str, failures))
