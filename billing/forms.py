from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin
from config.forms import AmountField

from .models import Channel, FeeSchedule, PaymentMethod
from .money import format_cents


class FundForm(HardenedFormMixin, forms.Form):
    """Step one: which account and how much. The account list holds the holder's open accounts only,
    so another holder's account id is refused with a clear message."""

    account = forms.ModelChoiceField(
        label=_("Account"),
        queryset=None,
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of your own open accounts.")},
    )
    amount = AmountField(label=_("Amount"), help_text=_("For example 25.00"))

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
