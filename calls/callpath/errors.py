"""What the call path answers with when it cannot go on: the reason codes of a deny, and the
errors of a call report that cannot be charged as sent."""

import functools
import re

import phonenumbers


class DenyReason:
    """The reason codes of a deny (docs/calls.md; other systems are written against these strings)."""

    UNKNOWN_FACILITY = "unknown_facility"
    UNKNOWN_INMATE = "unknown_inmate"
    NUMBER_NOT_REGISTERED = "number_not_registered"
    ACCOUNT_PENDING_ACTIVATION = "account_pending_activation"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_CLOSED = "account_closed"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NEGATIVE_BALANCE = "negative_balance"
    CREDIT_LIMIT_REACHED = "credit_limit_reached"
    STATEMENT_PAST_DUE = "statement_past_due"
    CELL_PHONE_NOT_ALLOWED = "cell_phone_not_allowed"
    NUMBER_BLOCKED = "number_blocked"

    ALL = (
        UNKNOWN_FACILITY,
        UNKNOWN_INMATE,
        NUMBER_NOT_REGISTERED,
        ACCOUNT_PENDING_ACTIVATION,
        ACCOUNT_SUSPENDED,
        ACCOUNT_CLOSED,
        INSUFFICIENT_FUNDS,
        NEGATIVE_BALANCE,
        CREDIT_LIMIT_REACHED,
        STATEMENT_PAST_DUE,
        CELL_PHONE_NOT_ALLOWED,
        NUMBER_BLOCKED,
    )


class CallInputError(Exception):
    """A call report that cannot be charged as sent. `field` names the request field at fault; `reason`
    is the code of a refusal no request schema can express (unknown facility, no payer...)."""

    def __init__(self, field: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


class CallConflict(Exception):
    """A call id already used for another call: `field` names what differs (facility, inmate or
    dialed_number). Nothing is held or charged."""

    def __init__(self, field: str):
        super().__init__(f"This call_id was already used for a call with another {field}.")
        self.field = field
        self.message = str(self)


# A phone number as a platform sends it: digits, at most one leading "+", and the usual separators.
# No letters (vanity numbers), no extension, no "++".
PHONE_TEXT = re.compile(r"\+?\(?[0-9][0-9 ().\-]*", re.ASCII)


@functools.lru_cache(maxsize=65_536)
def normalize_number(text: str) -> str:
    """E.164 for a number given in E.164 or US national form. Raises CallInputError otherwise.
    Remembered per text in this process (a pure function, asked twice per call and per imported row;
    a refusal is not remembered)."""
    if not isinstance(text, str) or not PHONE_TEXT.fullmatch(text.strip()):
        raise CallInputError(
            "dialed_number", "Enter a phone number in E.164 (+18605550123) or US form: digits only, no extension."
        )
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise CallInputError(
            "dialed_number", "Enter a phone number in E.164 (+18605550123) or US form.", "not_a_phone_number"
        ) from None
    if not phonenumbers.is_possible_number(parsed):
        raise CallInputError("dialed_number", "This is not a possible phone number.", "not_a_phone_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
