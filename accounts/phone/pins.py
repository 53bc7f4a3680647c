"""The holder's phone PIN page: set or change the PIN (which also lifts any lock) and see and lift
the locks wrong PINs put on numbers calling the phone menu."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts import phone_access, selectors
from accounts.models import User
from accounts.security import HardenedFormMixin


def _pin_widget() -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off", "maxlength": 8})


class PhonePinForm(HardenedFormMixin, forms.Form):
    pin = forms.CharField(
        label=gettext_lazy("New phone PIN (4 to 8 digits)"), max_length=8, strip=True, widget=_pin_widget()
    )
    pin_again = forms.CharField(
        label=gettext_lazy("The same PIN again"), max_length=8, strip=True, widget=_pin_widget()
    )

    def clean(self):
        data = super().clean()
        if data.get("pin") and data.get("pin_again") and data["pin"] != data["pin_again"]:
            self.add_error("pin_again", _("The two PINs are not the same."))
        return data


class AuthenticatedHttpRequest(HttpRequest):
    """A request past `login_required`: its user is a holder, never anonymous."""

    user: User


@login_required
@require_http_methods(["GET", "POST"])
def phone_pin(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    form = PhonePinForm(request.POST if request.POST.get("action") == "set" else None)
    if request.method == "POST" and request.POST.get("action") == "unlock":
        if phone_access.phone_unlock(account=account, actor=request.user):
            messages.success(request, _("Phone access is unlocked."))
        return redirect("phone:pin", pk=account.pk)
    if form.is_bound and form.is_valid():
        try:
            phone_access.phone_pin_set(account=account, pin=form.cleaned_data["pin"], actor=request.user)
        except phone_access.PhoneAccessError as exc:
            form.add_error("pin", exc.message)
        else:
            messages.success(request, _("Your phone PIN is saved. Keep it to yourself."))
            return redirect("accounts:account_detail", pk=account.pk)
    return render(
        request,
        "phone/pin.html",
        {
            "account": account,
            "form": form,
            "pin_set": phone_access.phone_pin_is_set(account=account),
            "locks": phone_access.phone_locks_active(account=account),
        },
        status=400 if form.errors else 200,
    )
