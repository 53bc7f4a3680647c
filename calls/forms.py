from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin

from .selectors import facility_list_active


class SponsorshipForm(HardenedFormMixin, forms.Form):
    facility = forms.ModelChoiceField(label=_("Facility"), queryset=None, empty_label=_("Choose the facility"))
    inmate_number = forms.CharField(label=_("Inmate number"), max_length=30)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facility_list_active()
