import re

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.alerts import ALERT_THRESHOLD_MAX_CENTS
from accounts.models import CallingAccount
from accounts.security import HardenedFormMixin
from billing.ledger.money import format_cents
from config.forms import AmountField

# "12,50" or "1.250,50": a decimal comma, as Spanish readers write amounts.
DECIMAL_COMMA = re.compile(r"^\$?\s*(\d{1,3}(?:\.\d{3})+|\d+),(\d{1,2})$")


class LocalAmountField(AmountField):
    """An amount as the reader writes it: in Spanish "12,50" is twelve dollars fifty (a comma
    followed by one or two digits is the decimal mark); everything else as AmountField."""

    def clean(self, value):
        if isinstance(value, str) and (get_language() or "en").startswith("es"):
            match = DECIMAL_COMMA.match(value.strip())
            if match:
                value = f"{match.group(1).replace('.', '')}.{match.group(2)}"
        return super().clean(value)


class FundForm(HardenedFormMixin, forms.Form):
    """Step one: which account and how much. The account list holds the holder's open accounts only,
    so another holder's account id is refused with a clear message."""

    account: "forms.ModelChoiceField[CallingAccount]" = forms.ModelChoiceField(
        label=_("Account"),
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of your own open accounts.")},
    )
    amount = LocalAmountField(label=_("Amount"), help_text=_("For example 25.00"))

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["account"].label_from_instance = _account_label


def _account_label(account) -> str:
    if account.status == "closed":
        return _("%(kind)s #%(number)s (closed: pay what it owes)") % {
            "kind": account.get_kind_display(),
            "number": account.pk,
        }
    if account.kind == "direct_bill":
        return _("%(kind)s #%(number)s (pay what you owe)") % {"kind": account.get_kind_display(), "number": account.pk}
    return f"{account.get_kind_display()} #{account.pk}"


class PayForm(FundForm):
    """Step two: the same account and amount plus the SetupIntent the card element confirmed."""

    setup_intent = forms.CharField(max_length=255, required=False, widget=forms.HiddenInput)
    # The total the holder saw on the review page: if the fee changed since, they review again.
    total_cents = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].widget = forms.HiddenInput()
        self.fields["amount"].widget = forms.HiddenInput()


class AlertForm(HardenedFormMixin, forms.Form):
    low_balance_threshold = LocalAmountField(
        label=_("Email me when the balance falls below"),
        help_text=_("One email each time the balance goes below this amount. 0.00 turns the alert off."),
    )

    def clean_low_balance_threshold(self) -> int:
        # Refused, not silently lowered: the holder must know which amount the alert uses.
        value = self.cleaned_data["low_balance_threshold"]
        if value > ALERT_THRESHOLD_MAX_CENTS:
            raise forms.ValidationError(
                _("Choose an amount of at most %(high)s.") % {"high": format_cents(ALERT_THRESHOLD_MAX_CENTS)}
            )
        return value


class AutoReloadForm(HardenedFormMixin, forms.Form):
    """Auto-reload terms; `setup_intent` is the card the browser just confirmed (empty: keep the saved card)."""

    amount = LocalAmountField(label=_("Add this amount"))
    threshold = LocalAmountField(label=_("When the balance falls below"))
    monthly_cap = LocalAmountField(
        label=_("At most this much a month"),
        help_text=_("Counts what your card pays, fees included: reloads stop for the month once they would pass it."),
    )
    setup_intent = forms.CharField(max_length=255, required=False, widget=forms.HiddenInput)
