"""The platform's call requests, declared once. Each field below is one rule that both checks a request
body in plain Python (on the hot path of every authorize and complete, and for every row of a bulk
import) and writes that field's part of the OpenAPI schema: the schema says exactly what the server
accepts, because a text field is checked against the very pattern the schema publishes.

What a schema cannot say is refused with a 400 that carries a `reason` code beside the field's message
(`REFUSALS`): a number of the right form that no numbering plan allows, and, after these checks, a
facility, inmate or payer that does not exist (calls.services)."""

import datetime
import re

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.security import CONTROL_CHARACTERS, CONTROL_CHARACTERS_MESSAGE
from calls.models import Disconnect
from calls.services import CallInputError, normalize_number

MAX_CALL_SECONDS = 24 * 60 * 60
REMEMBERED = 65_536  # accepted values kept per field and process (then forgotten all at once)
EARLIEST_YEAR = 1970
EARLIEST_START_MESSAGE = "A call cannot have started before 1970."
REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_A_STRING = "Send a JSON string."
NOT_AN_INTEGER = "Send a JSON integer (not a string)."
UNKNOWN_FIELD = "Unknown field: this request has no such field."
WRONG_DATETIME = "Datetime has wrong format. Use ISO-8601: 2026-01-05T14:00:00-05:00."
IN_THE_FUTURE = "The call cannot start in the future."

# 400s for what the schema cannot express, by `reason` (the field-level message says the rest).
REFUSALS = {
    "not_a_phone_number": "dialed_number has the form of a phone number but no numbering plan allows it.",
    "unknown_facility": "complete: no facility has this code.",
    "unknown_inmate": "complete: no inmate has this number at this facility.",
    "no_payer": "complete: a paid call to a number no FamilyLine account holds.",
    "started_in_future": "complete: started_at is later than now.",
    "no_rate_plan": "complete: the facility has no rate plan in force on the call's date.",
}


def _escaped(char: str) -> str:
    code = ord(char)
    if 0x21 <= code <= 0x7E:
        return re.escape(char) if char in "\\]^-[" else char
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _class_body(pattern: re.Pattern) -> str:
    """The inside of a one-class pattern such as accounts.security's, written with escapes only."""
    body = pattern.pattern
    assert body.startswith("[") and body.endswith("]"), body
    return "".join(char if char == "-" else _escaped(char) for char in body[1:-1])


# What str.strip() removes (text is trimmed before it is used) and what no text may hold. Lone
# surrogates are control characters too, but a schema pattern cannot name them (they are no
# characters of Unicode text): the server's copy of each pattern adds them.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SURROGATES = r"\ud800-\udfff"
CONTROL = _class_body(CONTROL_CHARACTERS).replace(SURROGATES, "")


_MISSING = object()  # a field the body does not have (each field's clean says "This field is required.")


class RequestInvalid(Exception):
    """`errors` maps each field at fault to its messages, as DRF would: `{"field": ["message"]}`;
    `reason` is set when every fault is one the schema cannot express (REFUSALS)."""

    def __init__(self, errors: dict, reason: str | None = None):
        super().__init__(errors)
        self.errors = errors
        self.reason = reason


class Refused(Exception):
    """A field's value refused: its messages, and the reason code of a refusal no schema can express."""

    def __init__(self, *messages: str, reason: str | None = None):
        super().__init__(messages)
        self.messages = list(messages)
        self.reason = reason


class Field:
    """One field of a request body: `name` in the JSON, `key` in the arguments of the service.
    `clean` returns the value to use or raises Refused; it runs on every call, so it stays lean."""

    def __init__(self, name: str, *, key: str | None = None, description: str = ""):
        self.name = name
        self.key = key or name
        self.description = description

    def clean(self, value):
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError


class Text(Field):
    """A JSON string, trimmed of surrounding whitespace, then 1 to `max_length` characters with no
    control character. `core` is the pattern of the trimmed value (by default: any such text)."""

    shape_message = "Not an accepted value."

    def __init__(self, name: str, *, max_length: int, core: str | None = None, remember: bool = False, **kwargs):
        super().__init__(name, **kwargs)
        self.max_length = max_length
        # Values that repeat from call to call (facility codes, inmate numbers, dialed numbers) are
        # remembered once accepted, so the hot path checks each only once per process.
        self._known: dict[str, str] | None = {} if remember else None
        if core is None:
            edge, inner = f"[^{WHITESPACE}{CONTROL}]", f"[^{CONTROL}]"
            core = f"{edge}(?:{inner}{{0,{max_length - 2}}}{edge})?"
        self.pattern = f"^[{WHITESPACE}]*(?:{core})[{WHITESPACE}]*$"
        # The same pattern, with the lone surrogates no schema can name added to what is refused.
        self.regex = re.compile(self.pattern.replace(CONTROL, CONTROL + SURROGATES))
        self._fullmatch = self.regex.fullmatch

    def clean(self, value):
        if type(value) is str:
            known = self._known
            if known is not None:
                accepted = known.get(value)
                if accepted is not None:
                    return accepted
            if self._fullmatch(value):
                accepted = self.accept(value.strip())
                if known is not None:
                    if len(known) >= REMEMBERED:
                        known.clear()
                    known[value] = accepted
                return accepted
        raise Refused(*self.problems(value))

    def accept(self, value: str) -> str:
        """The value to use, once the pattern matched (trimmed). May raise Refused."""
        return value

    def problems(self, value) -> list[str]:
        """Why a value the pattern refused was refused, in words a platform developer reads."""
        if value is _MISSING:
            return [REQUIRED]
        if not isinstance(value, str):
            return [NOT_A_STRING if value is not None else NULL]
        value = value.strip()
        problems = []
        if not value:
            problems.append(BLANK)
        if len(value) > self.max_length:
            problems.append(f"Ensure this field has no more than {self.max_length} characters.")
        if CONTROL_CHARACTERS.search(value):
            problems.append(str(CONTROL_CHARACTERS_MESSAGE))
        return problems or [self.shape_message]

    def schema(self) -> dict:
        return {
            "type": "string",
            "pattern": self.pattern,
            "description": f"{self.description} At most {self.max_length} characters once surrounding "
            "whitespace is trimmed; no control characters.".lstrip(),
        }


class CallId(Text):
    shape_message = "Use visible ASCII characters, no spaces."

    def __init__(self, name: str, *, max_length: int, **kwargs):
        # Visible ASCII only: a call id becomes part of a ledger key (`call:<call_id>`).
        super().__init__(name, max_length=max_length, core=f"[!-~]{{1,{max_length}}}", **kwargs)


class PhoneNumber(Text):
    """The form calls.services.PHONE_TEXT accepts: digits, at most one leading "+", an optional "("
    after it, then digits and the usual separators. Whether a numbering plan allows the number is
    then a refusal with a reason: no pattern can say it."""

    shape_message = "Enter a phone number in E.164 (+18605550123) or US form: digits only, no extension."

    def __init__(self, name: str, *, max_length: int, **kwargs):
        def shape(prefix: str, prefix_length: int) -> str:
            tail = max_length - prefix_length - 1  # after the first digit
            return f"{prefix}[0-9](?:[0-9 ().\\-]{{0,{tail - 1}}}[0-9().\\-])?"

        core = "|".join((shape("", 0), shape("[+(]", 1), shape("\\+\\(", 2)))
        super().__init__(name, max_length=max_length, core=core, **kwargs)

    def accept(self, value: str) -> str:
        try:
            return normalize_number(value)
        except CallInputError as exc:
            raise Refused(exc.message, reason=exc.reason) from None


class Moment(Field):
    """ISO-8601, 1970 or later as written. A time without an offset is read in TIME_ZONE."""

    pattern = rf"^[{WHITESPACE}]*(?:19[7-9][0-9]|[2-9][0-9]{{3}})"

    def clean(self, value):
        if value is None or value is _MISSING:
            raise Refused(NULL if value is None else REQUIRED)
        try:
            moment = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            raise Refused(WRONG_DATETIME)
        if moment.year < EARLIEST_YEAR:
            # No call is that old, and a time near year 1 cannot even be turned into a facility's local date.
            raise Refused(EARLIEST_START_MESSAGE)
        if moment.tzinfo is None:
            moment = timezone.make_aware(moment)
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError:  # past the end of year 9999 in UTC: later than now, whatever now is
            raise Refused(IN_THE_FUTURE, reason="started_in_future") from None

    def schema(self) -> dict:
        return {
            "type": "string",
            "format": "date-time",
            "pattern": self.pattern,
            "description": f"{self.description} ISO-8601, best with a UTC offset (2026-01-05T14:00:00-05:00); "
            "a time without one is read as US Eastern time. The year as written is 1970 or later.".lstrip(),
        }


class Integer(Field):
    """A JSON integer only: not "60", not 60.0, not true."""

    def __init__(self, name: str, *, minimum: int, maximum: int, **kwargs):
        super().__init__(name, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def clean(self, value):
        if type(value) is not int:
            raise Refused(NOT_AN_INTEGER if value is not _MISSING else REQUIRED)
        if value < self.minimum:
            raise Refused(f"Ensure this value is greater than or equal to {self.minimum}.")
        if value > self.maximum:
            raise Refused(f"Ensure this value is less than or equal to {self.maximum}.")
        return value

    def schema(self) -> dict:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum, "description": self.description}


class Choice(Field):
    def __init__(self, name: str, *, choices: list[str], **kwargs):
        super().__init__(name, **kwargs)
        self.choices = frozenset(choices)
        self.ordered = list(choices)

    def clean(self, value):
        if type(value) is str and value in self.choices:
            return value
        if value is _MISSING:
            raise Refused(REQUIRED)
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise Refused(str(CONTROL_CHARACTERS_MESSAGE))  # not echoed: it may not even encode
        raise Refused(f'"{value}" is not a valid choice.')

    def schema(self) -> dict:
        return {"type": "string", "enum": self.ordered, "description": self.description}


class Body:
    """A request body: a JSON object with exactly these fields, all required."""

    def __init__(self, name: str, fields: list[Field], *, example: dict):
        self.name = name
        self.fields = fields
        self.names = frozenset(field.name for field in fields)
        self._plan = [(field.name, field.key, field.clean) for field in fields]
        self.example = example

    def check(self, data) -> dict:
        """The arguments of the service, by key. Raises RequestInvalid."""
        if not isinstance(data, dict):
            raise RequestInvalid({"non_field_errors": [f"Send a JSON object, not {type(data).__name__}."]})
        values = {}
        refused = None
        for name, key, clean in self._plan:
            try:
                values[key] = clean(data.get(name, _MISSING))
            except Refused as exc:
                refused = refused or {}
                refused[name] = exc
        if refused is not None or len(data) > len(values):
            self._refuse(data, refused or {})
        return values

    def _refuse(self, data: dict, refused: dict):
        errors = {name: exc.messages for name, exc in refused.items()}
        errors |= {name: [UNKNOWN_FIELD] for name in data.keys() - self.names}
        reasons = {exc.reason for exc in refused.values()}
        # A reason only when every fault is one the schema cannot express.
        reason = reasons.pop() if len(reasons) == 1 and None not in reasons and len(errors) == len(refused) else None
        if errors:
            raise RequestInvalid(errors, reason)

    def schema(self) -> dict:
        return {
            "type": "object",
            "properties": {field.name: field.schema() for field in self.fields},
            "required": [field.name for field in self.fields],
            "additionalProperties": False,
            "example": self.example,
        }


_CALL: list[Field] = [
    CallId("call_id", max_length=100, description="The platform's id of the call; repeats are idempotent."),
    Text("facility", key="facility_code", max_length=20, remember=True, description="The facility code."),
    Text(
        "inmate", key="inmate_number", max_length=30, remember=True, description="The inmate number at that facility."
    ),
    PhoneNumber(
        "dialed_number",
        max_length=32,
        remember=True,
        description="E.164 (+18605550123) or US national form: digits, at most one leading +, an optional "
        "( after it, and the separators space ( ) . -; no extension or letters. It must also be a possible "
        "number in its numbering plan (else a 400 with reason not_a_phone_number).",
    ),
]
_CALL_EXAMPLE = {"call_id": "c-1", "facility": "CT-HFD", "inmate": "412345", "dialed_number": "+18605550134"}

AUTHORIZE = Body("AuthorizeRequest", _CALL, example=_CALL_EXAMPLE)
COMPLETE = Body(
    "CompleteRequest",
    [
        *_CALL,
        Moment("started_at"),
        Integer(
            "duration_seconds",
            minimum=0,
            maximum=MAX_CALL_SECONDS,
            description='A JSON integer written without a fraction: 60, not 60.0 or "60".',
        ),
        Choice("disconnect", choices=list(Disconnect.values)),
    ],
    example=_CALL_EXAMPLE | {"started_at": "2026-01-05T14:00:00-05:00", "duration_seconds": 61, "disconnect": "normal"},
)


def authorize_request(data) -> dict:
    """The arguments of `call_authorize` from a request body. Raises RequestInvalid."""
    return AUTHORIZE.check(data)


def complete_request(data) -> dict:
    """The arguments of `call_complete` from a request body (or an imported row). Raises RequestInvalid."""
    return COMPLETE.check(data)
