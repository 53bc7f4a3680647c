"""The platform API's answers, for the OpenAPI schema. (Its requests are declared in fields.py, which
both checks them and writes their schema.)"""

from rest_framework import serializers

from calls.models import Billing

from ..callpath.errors import DenyReason


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
