from django import forms

from .selectors import facility_list_active


class SponsorshipForm(forms.Form):
    facility = forms.ModelChoiceField(queryset=None, empty_label="Choose the facility")
    inmate_number = forms.CharField(label="Inmate number", max_length=30)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facility_list_active()
