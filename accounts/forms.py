from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from calls.models import Facility

from .models import Language, LineType, User
from .security import HardenedFormMixin
from .states import US_STATES


class SignupForm(forms.Form):
    """Extra fields on allauth's sign-up form (ACCOUNT_SIGNUP_FORM_CLASS)."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=Language.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The language the visitor is reading the sign-up page in.
        current = (get_language() or "en")[:2]
        self.fields["preferred_language"].initial = current if current in Language.values else Language.ENGLISH

    def signup(self, request, user):
        user.first_name = self.cleaned_data["first_name"].strip()
        user.last_name = self.cleaned_data["last_name"].strip()
        user.preferred_language = self.cleaned_data["preferred_language"]
        user.save(update_fields=["first_name", "last_name", "preferred_language"])


def _postal_code_clean(value: str) -> str:
    value = value.strip()
    digits = value.replace("-", "")
    if not digits.isdigit() or len(digits) not in (5, 9):
        raise forms.ValidationError(_("Enter a 5-digit ZIP code (or ZIP+4)."))
    return value


class ProfileForm(HardenedFormMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = list(User.PROFILE_FIELDS)
        labels = {
            "preferred_language": _("Preferred language"),
            "address_line1": _("Address"),
            "address_line2": _("Address (line 2)"),
            "city": _("City"),
            "state": _("State"),
            "postal_code": _("ZIP code"),
            "time_zone": _("Time zone"),
        }
        help_texts = {
            "state": _("Your state decides which accounts you can open (Alaska residents are pre-approved)."),
            "time_zone": _("Times on your history and receipts are shown in this zone."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name", "address_line1", "city", "state", "postal_code"):
            self.fields[name].required = True
        self.fields["time_zone"].required = False  # kept as it is when left out

    def clean_postal_code(self):
        return _postal_code_clean(self.cleaned_data["postal_code"])


class PhoneNumberForm(HardenedFormMixin, forms.Form):
    number = PhoneNumberField(
        label=_("Number"),
        region="US",
        help_text=_("A US number like (860) 555-0134, or an international number starting with +."),
        error_messages={"invalid": _("Enter a valid phone number, like (860) 555-0134.")},
    )
    label = forms.CharField(label=_("Label"), max_length=60, required=False, help_text=_("Home, work, Grandma…"))
    line_type = forms.ChoiceField(
        label=_("Kind of line"),
        choices=[("", _("Choose the kind of line")), *LineType.choices],
        help_text=_("Calls to mobile numbers connect only where the facility allows cell phones."),
        error_messages={"required": _("Choose the kind of line: landline, mobile, VoIP or unknown.")},
    )


class PhoneNumberEditForm(HardenedFormMixin, forms.Form):
    label = forms.CharField(label=_("Label"), max_length=60, required=False)
    line_type = forms.ChoiceField(label=_("Kind of line"), choices=LineType.choices)


class AccountOpenForm(HardenedFormMixin, forms.Form):
    """Opening an AdvanceConnect account: optionally, the facility that will call (to show its prices)."""

    facility: "forms.ModelChoiceField[Facility]" = forms.ModelChoiceField(
        label=_("Which facility will call you? (optional)"),
        queryset=None,
        required=False,
        empty_label=_("I don't know yet"),
        help_text=_("We show what its calls cost before you pay anything."),
        error_messages={"invalid_choice": _("Choose a facility from the list, or “I don't know yet”.")},
    )

    def __init__(self, *args, facilities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facility"].queryset = facilities
        self.fields["facility"].label_from_instance = lambda facility: facility.name


class ReasonForm(HardenedFormMixin, forms.Form):
    """Staff give a reason for a suspension, reinstatement or closing; it is kept in the audit trail."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.REASON_MAX_LENGTH)


class CloseAccountForm(HardenedFormMixin, forms.Form):
    """The holder's optional reason for closing (kept in the audit trail) and, when part of the
    refund is a check (`check_refund`), the mailing address it goes to (the profile's to start with)."""

    ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "state", "postal_code")

    reason = forms.CharField(
        label=_("Why are you closing it? (optional)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=settings.REASON_MAX_LENGTH,
        required=False,
    )
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    state = forms.ChoiceField(label=_("State"), choices=[("", "---------"), *US_STATES], required=False)
    postal_code = forms.CharField(label=_("ZIP code"), max_length=10, required=False)

    def __init__(self, *args, check_refund: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_refund = check_refund
        for name in ("address_line1", "city", "state", "postal_code"):
            self.fields[name].required = check_refund
            self.fields[name].error_messages["required"] = _(
                "Enter the mailing address your refund check should be sent to."
            )

    def clean_postal_code(self):
        value = self.cleaned_data["postal_code"]
        return _postal_code_clean(value) if value.strip() or self.check_refund else value
