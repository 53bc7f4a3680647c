import re

from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin
from config.forms import AmountField

from .models import Channel, FeeSchedule, PaymentMethod
from .money import format_cents

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

    account = forms.ModelChoiceField(
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


class AutoReloadForm(HardenedFormMixin, forms.Form):
    """Auto-reload terms; `setup_intent` is the card the browser just confirmed (empty: keep the saved card)."""

    amount = LocalAmountField(label=_("Add this amount"))
    threshold = LocalAmountField(label=_("When the balance falls below"))
    monthly_cap = LocalAmountField(
        label=_("At most this much a month"), help_text=_("Reloads stop for the month once they would pass it.")
    )
    setup_intent = forms.CharField(max_length=255, required=False, widget=forms.HiddenInput)


class OfflinePaymentForm(HardenedFormMixin, forms.Form):
    """Staff record a mail payment (check or money order) or a live-agent phone payment."""

    account = forms.ModelChoiceField(queryset=None, help_text="The calling account to credit.")
    channel = forms.ChoiceField(
        choices=[(Channel.MAIL, Channel.MAIL.label), (Channel.PHONE_AGENT, Channel.PHONE_AGENT.label)]
    )
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    amount = AmountField(
        label="Amount to add", help_text="Mail payments carry no fee; live-agent payments carry the phone_agent fee."
    )
    reference = forms.CharField(
        max_length=100, label="Check / money order number, or card terminal confirmation number"
    )

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts


class FeeScheduleForm(HardenedFormMixin, forms.ModelForm):
    fee = AmountField(label="Fee")

    class Meta:
        model = FeeSchedule
        fields = ["fee"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["fee"] = f"{self.instance.fee_cents / 100:.2f}"

    def clean_fee(self):
        cents = self.cleaned_data["fee"]
        if cents > settings.FEE_CAP_CENTS:
            raise forms.ValidationError(f"No fee may exceed {format_cents(settings.FEE_CAP_CENTS)}.")
        if self.instance.channel == Channel.MAIL and cents:
            raise forms.ValidationError("Mail payments never carry a fee.")
        return cents
