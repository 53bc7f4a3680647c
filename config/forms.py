"""Form fields shared by every interface (family pages and the staff admin)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.ledger.money import MoneyError, parse_amount


class AmountField(forms.CharField):
    """Dollars and cents as typed ("25", "$25.00", "$1,250.00"); cleans to integer cents, or None when
    an optional field is left empty. Parsing and its messages are `billing.ledger.money.parse_amount`'s."""

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"required": _("Enter an amount.")})
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(max_length=20, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        if text in self.empty_values:
            return None
        try:
            return parse_amount(text)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from exc


class _RawCheckboxInput(forms.CheckboxInput):
    # Django's checkbox turns any non-empty value into True before a field sees it ("\x00" included).
    def value_from_datadict(self, data, files, name):
        return data.get(name)


class ConsentField(forms.BooleanField):
    """A box that must be ticked: only what a browser sends for a ticked box ("on", or "true"/"1")
    counts as yes; anything else is the field's "required" error (control characters theirs)."""

    widget = _RawCheckboxInput
    TICKED = frozenset({"on", "true", "1"})

    def to_python(self, value):
        if value is True:
            return True
        return isinstance(value, str) and value.strip().lower() in self.TICKED
