from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin
from config.forms import AmountField

from .selectors import facility_list_active


class SponsorshipForm(HardenedFormMixin, forms.Form):
    facility = forms.ModelChoiceField(label=_("Facility"), queryset=None, empty_label=_("Choose the facility"))
    inmate_number = forms.CharField(label=_("Inmate number"), max_length=30)
    monthly_cap = AmountField(
        label=_("Monthly limit (optional)"),
        required=False,
        help_text=_("The most this account pays for this inmate's calls in a month. Leave empty for no limit."),
    )
    # Set on the confirmation step, once the holder has seen the inmate's name.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    confirmed_name = forms.BooleanField(
        label=_("Yes, this is the person whose calls I want to pay for"), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facility_list_active()


class SponsorshipCapForm(HardenedFormMixin, forms.Form):
    monthly_cap = AmountField(label=_("Monthly limit"), required=False)
