"""The platform's call requests checked field by field in plain Python: the rules the serializers in
`serializers.py` document in the OpenAPI schema (same limits, same strict JSON types, same messages
where a platform may read them), at a fraction of their cost, since every authorize and complete and
every row of a bulk import goes through here. `tests/calls/test_api_fields.py` holds the two to one
another."""

import datetime
import re

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.security import CONTROL_CHARACTERS_MESSAGE, has_control_characters
from calls.models import Disconnect
from calls.services import CallInputError, normalize_number

from .serializers import CALL_ID_PATTERN, EARLIEST_START, EARLIEST_START_MESSAGE, MAX_CALL_SECONDS

CALL_ID = re.compile(CALL_ID_PATTERN)
REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_A_STRING = "Send a JSON string."
NOT_AN_INTEGER = "Send a JSON integer (not a string)."
DISCONNECTS = frozenset(Disconnect.values)


class RequestInvalid(Exception):
    """`errors` maps each field at fault to its messages, as DRF would: `{"field": ["message"]}`."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def _text(data: dict, name: str, max_length: int, errors: dict) -> str | None:
    if name not in data:
        errors[name] = [REQUIRED]
        return None
    value = data[name]
    if not isinstance(value, str):
        errors[name] = [NOT_A_STRING if value is not None else "This field may not be null."]
        return None
    value = value.strip()
    problems = []
    if not value:
        problems.append(BLANK)
    if len(value) > max_length:
        problems.append(f"Ensure this field has no more than {max_length} characters.")
    if has_control_characters(value):
        problems.append(str(CONTROL_CHARACTERS_MESSAGE))
    if problems:
        errors[name] = problems
        return None
    return value


def _call_fields(data: dict, errors: dict) -> dict:
    values = {
        "call_id": _text(data, "call_id", 100, errors),
        "facility_code": _text(data, "facility", 20, errors),
        "inmate_number": _text(data, "inmate", 30, errors),
        "dialed_number": _text(data, "dialed_number", 32, errors),
    }
    if values["call_id"] is not None and not CALL_ID.fullmatch(values["call_id"]):
        errors["call_id"] = ["Use visible ASCII characters, no spaces."]
    if values["dialed_number"] is not None:
        try:
            values["dialed_number"] = normalize_number(values["dialed_number"])
        except CallInputError as exc:
            errors["dialed_number"] = [exc.message]
    return values


def _started_at(data: dict, errors: dict) -> datetime.datetime | None:
    value = data.get("started_at")
    if value is None:
        errors["started_at"] = [REQUIRED if "started_at" not in data else "This field may not be null."]
        return None
    try:
        moment = parse_datetime(value.strip()) if isinstance(value, str) else None
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            moment = moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        errors["started_at"] = ["Datetime has wrong format. Use ISO-8601: 2026-01-05T14:00:00-05:00."]
    elif moment < EARLIEST_START:
        # No call is that old, and a time near year 1 cannot even be turned into a facility's local date.
        errors["started_at"] = [EARLIEST_START_MESSAGE]
        moment = None
    return moment


def _duration(data: dict, errors: dict) -> int | None:
    value = data.get("duration_seconds")
    if "duration_seconds" not in data:
        errors["duration_seconds"] = [REQUIRED]
    elif isinstance(value, bool) or not isinstance(value, int):
        errors["duration_seconds"] = [NOT_AN_INTEGER]
    elif value < 0:
        errors["duration_seconds"] = ["Ensure this value is greater than or equal to 0."]
    elif value > MAX_CALL_SECONDS:
        errors["duration_seconds"] = [f"Ensure this value is less than or equal to {MAX_CALL_SECONDS}."]
    else:
        return value
    return None


def authorize_request(data) -> dict:
    """The arguments of `call_authorize` from a request body. Raises RequestInvalid."""
    if not isinstance(data, dict):
        raise RequestInvalid({"non_field_errors": [f"Send a JSON object, not {type(data).__name__}."]})
    errors: dict = {}
    values = _call_fields(data, errors)
    if errors:
        raise RequestInvalid(errors)
    return values


def complete_request(data) -> dict:
    """The arguments of `call_complete` from a request body (or an imported row). Raises RequestInvalid."""
    if not isinstance(data, dict):
        raise RequestInvalid({"non_field_errors": [f"Send a JSON object, not {type(data).__name__}."]})
    errors: dict = {}
    values = _call_fields(data, errors)
    values["started_at"] = _started_at(data, errors)
    values["duration_seconds"] = _duration(data, errors)
    disconnect = data.get("disconnect")
    if not isinstance(disconnect, str) or disconnect not in DISCONNECTS:
        if "disconnect" not in data:
            errors["disconnect"] = [REQUIRED]
        elif isinstance(disconnect, str) and has_control_characters(disconnect):
            errors["disconnect"] = [str(CONTROL_CHARACTERS_MESSAGE)]  # not echoed: it may not even encode
        else:
            errors["disconnect"] = [f'"{disconnect}" is not a valid choice.']
    values["disconnect"] = disconnect
    if errors:
        raise RequestInvalid(errors)
    return values
