from django import forms
from django.utils.translation import gettext_lazy as _

from config.forms import AmountField, ConsentField

from .security import HardenedFormMixin
from .states import US_STATES


class DirectBillApplicationForm(HardenedFormMixin, forms.Form):
    legal_name = forms.CharField(label=_("Full legal name"), max_length=200)
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("You must be 18 or older."),
    )
    address_line1 = forms.CharField(label=_("Address"), max_length=200)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100)
    state = forms.ChoiceField(label=_("State"), choices=[("", _("Choose a state"))] + list(US_STATES))
    postal_code = forms.RegexField(label=_("ZIP code"), regex=r"^[0-9]{5}(-[0-9]{4})?$", max_length=10)
    ssn = forms.CharField(
        label=_("Social Security number (optional)"),
        required=False,
        max_length=11,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_("Sent to the credit check only. We keep the last four digits and nothing more."),
    )
    consent = ConsentField(
        label=_("I agree that FamilyLine may check my credit to decide on this application."),
        error_messages={"required": _("Tick the box to agree to the credit check, or we cannot decide on it.")},
    )


class ApplicationApproveForm(HardenedFormMixin, forms.Form):
    credit_limit = AmountField(label="Credit limit", help_text="In dollars, for example 100.00.")
    confirm = forms.BooleanField(
        label="I confirm this credit limit", required=False, help_text="Needed for a limit above the review threshold."
    )

    def clean_credit_limit(self) -> int:
        if self.cleaned_data["credit_limit"] <= 0:
            raise forms.ValidationError("Approve with a credit limit of more than $0.00.")
        return self.cleaned_data["credit_limit"]


class ApplicationDeclineForm(HardenedFormMixin, forms.Form):
    reason = forms.CharField(
        label="Reason (shown to the applicant)", widget=forms.Textarea(attrs={"rows": 3}), max_length=1000
    )


class CreditLimitChangeForm(HardenedFormMixin, forms.Form):
    credit_limit = AmountField(label="New credit limit", help_text="In dollars; 0.00 stops new calls.")
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    confirm = forms.BooleanField(
        label="I confirm this credit limit", required=False, help_text="Needed for a limit above the review threshold."
    )
