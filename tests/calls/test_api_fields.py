"""The plain-Python checks of the platform's requests (calls/api/fields.py) and the serializers that
document them in the OpenAPI schema accept and refuse the same bodies, field by field."""

import pytest

from calls.api import fields
from calls.api.serializers import AuthorizeRequestSerializer, CompleteRequestSerializer

GOOD = {
    "call_id": "c-1",
    "facility": "CT-HFD",
    "inmate": "412345",
    "dialed_number": "+18605550134",
    "started_at": "2026-01-05T14:00:00-05:00",
    "duration_seconds": 61,
    "disconnect": "normal",
}
CHANGES = [
    {},
    {"call_id": ""},
    {"call_id": "has space"},
    {"call_id": "x" * 101},
    {"call_id": 12},
    {"facility": None},
    {"facility": "F" * 21},
    {"inmate": "a\u0000b"},
    {"inmate": "a\ud800"},
    {"facility": "\udfff"},
    {"inmate": ["x"]},
    {"dialed_number": "++18605550134"},
    {"dialed_number": "860-555-0134 x12"},
    {"dialed_number": "1-800-FLOWERS"},
    {"dialed_number": 18605550134},
    {"dialed_number": "(860) 555-0134"},
    {"started_at": "yesterday"},
    {"started_at": "2026-01-05T14:00:00"},
    {"started_at": 5},
    {"started_at": "0001-01-01T00:00:00Z"},
    {"started_at": "1969-12-31T23:59:59Z"},
    {"started_at": "1970-01-01T00:00:00Z"},
    {"duration_seconds": "60"},
    {"duration_seconds": 60.0},
    {"duration_seconds": True},
    {"duration_seconds": -1},
    {"duration_seconds": 86401},
    {"duration_seconds": 86400},
    {"disconnect": "hung"},
    {"disconnect": True},
    {"disconnect": "dropped"},
]


def _errors(check, data):
    try:
        check(data)
    except fields.RequestInvalid as exc:
        return set(exc.errors)
    return set()


@pytest.mark.parametrize("change", CHANGES)
def test_fields_and_serializers_agree(change, settings):
    for serializer_class, check in (
        (AuthorizeRequestSerializer, fields.authorize_request),
        (CompleteRequestSerializer, fields.complete_request),
    ):
        serializer = serializer_class(data=GOOD | change)
        serializer.is_valid()
        assert _errors(check, GOOD | change) == set(serializer.errors), (serializer_class.__name__, change)


@pytest.mark.parametrize("missing", list(GOOD))
def test_a_missing_field_is_required_in_both(missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    serializer = CompleteRequestSerializer(data=body)
    serializer.is_valid()
    assert _errors(fields.complete_request, body) == set(serializer.errors) == {missing}
