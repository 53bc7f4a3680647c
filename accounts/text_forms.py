from django import forms
from django.utils.translation import gettext_lazy as _

from .security import HardenedFormMixin


class CodeForm(HardenedFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        help_text=_("The 6 digits we sent."),
    )
