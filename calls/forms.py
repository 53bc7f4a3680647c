from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin
from billing.forms import LocalAmountField as AmountField

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


class HistoryFilterForm(HardenedFormMixin, forms.Form):
    """Narrow the history to a date range, one number or one inmate (all optional)."""

    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    number = forms.ChoiceField(label=_("Number"), required=False)
    inmate = forms.TypedChoiceField(label=_("Inmate"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, numbers, inmates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].choices = [("", _("All numbers"))] + [(n.as_e164, n.as_national) for n in numbers]
        self.fields["inmate"].choices = [("", _("Everyone"))] + [(i.pk, i.full_name) for i in inmates]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
