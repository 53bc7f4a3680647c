import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin
from billing.payments.forms import LocalAmountField as AmountField

from .models import Facility
from .selectors import facility_list_active


class SponsorshipForm(HardenedFormMixin, forms.Form):
    facility: "forms.ModelChoiceField[Facility]" = forms.ModelChoiceField(
        label=_("Facility"), queryset=None, empty_label=_("Choose the facility")
    )
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


# The dates a history filter accepts: any day a call could have, and none whose next day overflows.
HISTORY_FIRST_DATE = datetime.date(1970, 1, 1)
HISTORY_LAST_DATE = datetime.date(2999, 12, 31)


class HistoryFilterForm(HardenedFormMixin, forms.Form):
    """Narrow the history to a date range, one number or one inmate (all optional). `numbers` are
    (key, label, E.164) triples: the option's value and text follow the masking rule, and the
    cleaned `number` is the E.164 number."""

    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    # The refusal does not repeat the value: it may be someone else's number typed in full.
    number = forms.ChoiceField(
        label=_("Number"), required=False, error_messages={"invalid_choice": _("Choose a number from the list.")}
    )
    inmate = forms.TypedChoiceField(label=_("Inmate"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, numbers, inmates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].choices = [("", _("All numbers"))] + [(key, label) for key, label, _e164 in numbers]
        self._numbers = {key: e164 for key, _label, e164 in numbers}
        self.fields["inmate"].choices = [("", _("Everyone"))] + [(i.pk, i.full_name) for i in inmates]

    def _clean_date(self, name):
        day = self.cleaned_data.get(name)
        if day is not None and not HISTORY_FIRST_DATE <= day <= HISTORY_LAST_DATE:
            raise forms.ValidationError(
                _("Choose a date from %(first)s to %(last)s.")
                % {"first": HISTORY_FIRST_DATE.year, "last": HISTORY_LAST_DATE.year}
            )
        return day

    def clean_date_from(self):
        return self._clean_date("date_from")

    def clean_date_to(self):
        return self._clean_date("date_to")

    def clean_number(self):
        return self._numbers.get(self.cleaned_data.get("number") or "", "")

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
