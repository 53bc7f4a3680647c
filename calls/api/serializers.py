import datetime

from rest_framework import serializers

from accounts.security import reject_control_characters
from calls.models import Billing, Disconnect
from calls.services import CallInputError, DenyReason, normalize_number

# Visible ASCII only: a call id becomes part of a ledger key (`call:<call_id>`).
CALL_ID_PATTERN = r"^[\x21-\x7e]+$"
MAX_CALL_SECONDS = 24 * 60 * 60
EARLIEST_START = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
EARLIEST_START_MESSAGE = "A call cannot have started before 1970."


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would also take a number and make it text."""

    default_error_messages = {"invalid": "Send a JSON string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only (DESIGN.md §7): not "60", not 60.0, not true."""

    default_error_messages = {"invalid": "Send a JSON integer (not a string)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CallRequestSerializer(serializers.Serializer):
    call_id = StrictRegexField(
        CALL_ID_PATTERN, max_length=100, error_messages={"invalid": "Use visible ASCII characters, no spaces."}
    )
    facility = StrictCharField(max_length=20, help_text="The facility code.", validators=[reject_control_characters])
    inmate = StrictCharField(
        max_length=30, help_text="The inmate number at that facility.", validators=[reject_control_characters]
    )
    dialed_number = StrictCharField(
        max_length=32,
        help_text="E.164 (+18605550123) or US national form: digits, one leading + at most, no extension or letters.",
        validators=[reject_control_characters],
    )

    def validate_dialed_number(self, value: str) -> str:
        try:
            return normalize_number(value)
        except CallInputError as exc:
            raise serializers.ValidationError(exc.message) from None


class AuthorizeRequestSerializer(CallRequestSerializer):
    pass


class CompleteRequestSerializer(CallRequestSerializer):
    started_at = serializers.DateTimeField(help_text="ISO-8601 with a UTC offset, 1970 or later.")
    duration_seconds = StrictIntegerField(min_value=0, max_value=MAX_CALL_SECONDS, help_text="A JSON integer.")
    disconnect = serializers.ChoiceField(choices=Disconnect.choices)

    def validate_started_at(self, value):
        if value < EARLIEST_START:
            raise serializers.ValidationError(EARLIEST_START_MESSAGE)
        return value


class SingleCallOfferSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="FamilyLine's phone number (E.164): transfer the called person there.")
    code = serializers.RegexField(
        r"^[0-9]{6}$", help_text="The one-time code to send as DTMF (or read to the called person)."
    )
    expires_at = serializers.DateTimeField(help_text="Until when the code can be paid and the call then allowed.")


class AuthorizeResponseSerializer(serializers.Serializer):
    call_id = serializers.CharField()
    decision = serializers.ChoiceField(choices=[("allow", "allow"), ("deny", "deny")])
    reason = serializers.ChoiceField(choices=[(r, r) for r in DenyReason.ALL], allow_null=True)
    max_seconds = serializers.IntegerField()
    billing = serializers.ChoiceField(choices=Billing.choices, allow_null=True)
    rate_per_minute = serializers.DecimalField(max_digits=6, decimal_places=4, coerce_to_string=True)
    announcement = serializers.CharField(allow_blank=True)
    single_call = SingleCallOfferSerializer(
        required=False,
        help_text="Only on a `number_not_registered` deny, when one paid call can be offered: transfer the called "
        "person to `phone` with `code`. Once they have paid, authorize the same call_id again (before `expires_at`): "
        "it is allowed, billed `single_call`, for the minutes paid.",
    )


class CompleteResponseSerializer(serializers.Serializer):
    call_id = serializers.CharField()
    billable_minutes = serializers.IntegerField()
    charge = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    balance_after = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Null for a free call to no account, or a refused call no account would have paid for.",
    )
    refused_reason = serializers.ChoiceField(
        choices=[(r, r) for r in DenyReason.ALL],
        allow_null=True,
        help_text="Null, unless the call id's latest authorize answer was a deny: then that deny's reason, and the "
        "call is charged to no one (charge, tax and total 0.00, balance_after unchanged).",
    )
