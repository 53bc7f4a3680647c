from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.security import HardenedFormMixin


class BlockStartForm(HardenedFormMixin, forms.Form):
    number = forms.CharField(
        label=_("Your phone number"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        help_text=_("For example (860) 555-0123."),
    )
    action = forms.ChoiceField(
        label=_("What do you want to do?"),
        choices=[
            ("block", _("Block calls from inmates to this number")),
            ("unblock", _("Unblock calls to this number")),
        ],
        widget=forms.RadioSelect,
        initial="block",
    )
    channel = forms.ChoiceField(
        label=_("How should we send you a code?"),
        choices=[("sms", _("By text message")), ("voice", _("By a phone call that reads it out (for landlines)"))],
        widget=forms.RadioSelect,
        initial="sms",
    )


class BlockCodeForm(HardenedFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
        help_text=_("The 6 digits we sent."),
    )
