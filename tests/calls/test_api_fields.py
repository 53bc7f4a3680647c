"""The platform's requests are declared once (calls/callpath/fields.py): the published OpenAPI schema accepts
exactly the bodies the server accepts, and the server answers with the same field-level messages."""

import re

import jsonschema_rs
import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.security import CONTROL_CHARACTERS
from calls.callpath import fields

GOOD = {
    "call_id": "c-1",
    "facility": "CT-HFD",
    "inmate": "412345",
    "dialed_number": "+18605550134",
    "started_at": "2026-01-05T14:00:00-05:00",
    "duration_seconds": 61,
    "disconnect": "normal",
}
AUTHORIZE_FIELDS = ("call_id", "facility", "inmate", "dialed_number")
LONG = "Ensure this field has no more than {} characters."
NUMBER_FORM = "Enter a phone number in E.164 (+18605550123) or US form: digits only, no extension."
CONTROL = "Remove the control characters from this field."
# Each change to a good body, and the errors the server answers (None: accepted).
CASES = [
    ({}, None),
    ({"call_id": ""}, {"call_id": ["This field may not be blank."]}),
    ({"call_id": "  c-1\t"}, None),
    ({"call_id": "has space"}, {"call_id": ["Use visible ASCII characters, no spaces."]}),
    ({"call_id": "ünicode"}, {"call_id": ["Use visible ASCII characters, no spaces."]}),
    ({"call_id": "x" * 100}, None),
    ({"call_id": "x" * 101}, {"call_id": [LONG.format(100)]}),
    ({"call_id": 12}, {"call_id": ["Send a JSON string."]}),
    ({"facility": None}, {"facility": ["This field may not be null."]}),
    ({"facility": "   "}, {"facility": ["This field may not be blank."]}),
    ({"facility": " CT-HFD "}, None),
    ({"facility": "F" * 21}, {"facility": [LONG.format(20)]}),
    ({"facility": " " * 10 + "F" * 20 + " " * 10}, None),
    ({"inmate": "a\u0000b"}, {"inmate": [CONTROL]}),
    ({"inmate": "a\ud800"}, {"inmate": [CONTROL]}),
    ({"inmate": "a\u202eb"}, {"inmate": [CONTROL]}),
    ({"inmate": "41 23 45"}, None),
    ({"facility": "\udfff"}, {"facility": [CONTROL]}),
    ({"inmate": ["x"]}, {"inmate": ["Send a JSON string."]}),
    ({"dialed_number": "++18605550134"}, {"dialed_number": [NUMBER_FORM]}),
    ({"dialed_number": "860-555-0134 x12"}, {"dialed_number": [NUMBER_FORM]}),
    ({"dialed_number": "1-800-FLOWERS"}, {"dialed_number": [NUMBER_FORM]}),
    ({"dialed_number": 18605550134}, {"dialed_number": ["Send a JSON string."]}),
    ({"dialed_number": "(860) 555-0134"}, None),
    ({"dialed_number": "+1 (860) 555-0134"}, None),
    ({"dialed_number": "9" * 33}, {"dialed_number": [LONG.format(32)]}),
    ({"started_at": "yesterday"}, {"started_at": [fields.WRONG_DATETIME]}),
    ({"started_at": "2026-01-05T14:00:00"}, None),
    ({"started_at": " 2026-01-05T14:00:00Z "}, None),
    ({"started_at": 5}, {"started_at": [fields.WRONG_DATETIME]}),
    ({"started_at": "0001-01-01T00:00:00Z"}, {"started_at": [fields.EARLIEST_START_MESSAGE]}),
    ({"started_at": "1969-12-31T23:59:59Z"}, {"started_at": [fields.EARLIEST_START_MESSAGE]}),
    ({"started_at": "1970-01-01T00:00:00Z"}, None),
    ({"duration_seconds": "60"}, {"duration_seconds": ["Send a JSON integer (not a string)."]}),
    ({"duration_seconds": 60.0}, {"duration_seconds": ["Send a JSON integer (not a string)."]}),
    ({"duration_seconds": True}, {"duration_seconds": ["Send a JSON integer (not a string)."]}),
    ({"duration_seconds": -1}, {"duration_seconds": ["Ensure this value is greater than or equal to 0."]}),
    ({"duration_seconds": 86401}, {"duration_seconds": ["Ensure this value is less than or equal to 86400."]}),
    ({"duration_seconds": 86400}, None),
    ({"disconnect": "hung"}, {"disconnect": ['"hung" is not a valid choice.']}),
    ({"disconnect": True}, {"disconnect": ['"True" is not a valid choice.']}),
    ({"disconnect": "dropped"}, None),
    ({"trunk": "7"}, {"trunk": [fields.UNKNOWN_FIELD]}),
]
# Bodies of the right form that the server still refuses, each with its reason: no schema says them.
REFUSED_WITH_A_REASON = [
    ({"dialed_number": "860555013"}, "not_a_phone_number"),  # nine digits
    ({"dialed_number": "+0 860 555 0134"}, "not_a_phone_number"),
    ({"started_at": "9999-12-31T23:59:59-12:00"}, "started_in_future"),  # past year 9999 in UTC
]


def _answer(check, body):
    try:
        check(body)
    except fields.RequestInvalid as exc:
        return exc.errors, exc.reason
    return None, None


@pytest.fixture(scope="module")
def request_schemas():
    """The request schemas exactly as /api/v1/schema publishes them, as a client validates them."""
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]
    return {
        name: jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}", "components": components})
        for name in ("AuthorizeRequest", "CompleteRequest")
    }


def _authorize_body(body: dict) -> dict:
    return {name: value for name, value in body.items() if name not in ("started_at", "duration_seconds", "disconnect")}


@pytest.mark.parametrize(("change", "errors"), CASES)
def test_the_server_answers_each_field_as_declared(change, errors):
    assert _answer(fields.complete_request, GOOD | change) == (errors, None)
    authorize_errors = {name: messages for name, messages in (errors or {}).items() if name in AUTHORIZE_FIELDS}
    if "trunk" in change:
        authorize_errors = errors
    assert _answer(fields.authorize_request, _authorize_body(GOOD | change)) == (authorize_errors or None, None)


@pytest.mark.parametrize(("change", "errors"), CASES)
def test_the_schema_accepts_exactly_what_the_server_accepts(change, errors, request_schemas):
    body = GOOD | change
    if any(isinstance(value, str) and re.search("[\ud800-\udfff]", value) for value in change.values()):
        pytest.skip("no JSON Schema validator holds a lone surrogate: the server refuses it (above)")
    if change == {"duration_seconds": 60.0}:
        # JSON Schema counts 60.0 as an integer (the same number); the server wants it written 60.
        assert request_schemas["CompleteRequest"].is_valid(body) and errors is not None
        return
    assert request_schemas["CompleteRequest"].is_valid(body) == (errors is None), change
    authorize_ok = errors is None or ("trunk" not in change and not set(errors) & set(AUTHORIZE_FIELDS))
    assert request_schemas["AuthorizeRequest"].is_valid(_authorize_body(body)) == authorize_ok, change


@pytest.mark.parametrize(("change", "reason"), REFUSED_WITH_A_REASON)
def test_a_refusal_no_schema_can_express_carries_its_reason(change, reason, request_schemas):
    body = GOOD | change
    assert request_schemas["CompleteRequest"].is_valid(body)
    errors, given_reason = _answer(fields.complete_request, body)
    assert list(errors) == list(change) and given_reason == reason
    assert reason in fields.REFUSALS


def test_a_reason_is_given_only_when_every_fault_has_one():
    body = GOOD | {"dialed_number": "860555013", "call_id": "has space"}
    errors, reason = _answer(fields.complete_request, body)
    assert set(errors) == {"dialed_number", "call_id"} and reason is None


@pytest.mark.parametrize("missing", list(GOOD))
def test_a_missing_field_is_required_in_both(missing, request_schemas):
    body = {k: v for k, v in GOOD.items() if k != missing}
    assert _answer(fields.complete_request, body) == ({missing: ["This field is required."]}, None)
    assert not request_schemas["CompleteRequest"].is_valid(body)


def test_every_request_schema_refuses_other_properties(request_schemas):
    for name, body in (("AuthorizeRequest", _authorize_body(GOOD)), ("CompleteRequest", GOOD)):
        assert request_schemas[name].is_valid(body)
        assert not request_schemas[name].is_valid(body | {"extra": 1})


# --- the published patterns and the server, character by character -----------------------------------
# Edge characters: every kind of whitespace str.strip() removes, control characters, visible ASCII, the
# phone number's characters, and letters beyond ASCII (no lone surrogates: see above).
EDGE = (
    "\t\n\x0b\x0c\r\x1c\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
    "\x00\x01\x08\x0e\x7f\x9f\u202a\u202e\u2066\u2069"
    "aZ!~+-().0189xé\U0001f600"
)


def _today_text_rule(value: str, max_length: int) -> bool:
    """How text fields were checked before the declaration: trimmed, then 1 to max_length characters
    without a control character."""
    value = value.strip()
    return bool(value) and len(value) <= max_length and not CONTROL_CHARACTERS.search(value)


TODAY = {
    "call_id": lambda v: _today_text_rule(v, 100) and re.fullmatch(r"[\x21-\x7e]+", v.strip()) is not None,
    "facility": lambda v: _today_text_rule(v, 20),
    "inmate": lambda v: _today_text_rule(v, 30),
    "dialed_number": lambda v: (
        _today_text_rule(v, 32) and re.fullmatch(r"\+?\(?[0-9][0-9 ().\-]*", v.strip(), re.ASCII) is not None
    ),
}


def _text_field(name):
    return next(field for field in fields.COMPLETE.fields if field.name == name)


@pytest.mark.parametrize("name", list(TODAY))
@settings(max_examples=400, deadline=None)
@given(value=st.text(alphabet=EDGE, max_size=40) | st.text(alphabet=EDGE, min_size=95, max_size=110))
def test_each_text_pattern_is_the_servers_rule_and_reads_the_same_in_a_clients_engine(name, value):
    field = _text_field(name)
    # The server's copy of the pattern is the rule the server had (its form; possibility comes after).
    assert (field.regex.fullmatch(value) is not None) == TODAY[name](value)
    # The published pattern reads the same in a JSON Schema validator's regex engine.
    client = jsonschema_rs.validator_for({"type": "string", "pattern": field.pattern})
    assert client.is_valid(value) == (field.regex.fullmatch(value) is not None)


def test_the_whitespace_class_is_what_strip_removes():
    spaces = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert spaces == {chr(code) for code in range(0x110000) if re.fullmatch(f"[{fields.WHITESPACE}]", chr(code))}


def test_every_answer_the_api_gives_is_documented_with_its_reasons():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in ("/api/v1/calls/authorize", "/api/v1/calls/complete"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "400", "401", "403", "409", "413", "415", "429", "503"} <= set(responses)
        refused = responses["400"]["content"]["application/json"]["schema"]
        assert set(refused["properties"]["reason"]["enum"]) == {"parse_error", *fields.REFUSALS}
        assert "no_payer" in responses["400"]["description"]
        too_large = responses["413"]["content"]["application/json"]["schema"]
        assert too_large["properties"]["reason"]["enum"] == ["request_too_large"]
