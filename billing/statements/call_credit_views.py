"""The family's page to ask for a call's charge back (from a call in the call history)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.security import HardenedFormMixin
from billing.statements import call_credits
from billing.statements.models import CallCreditReason
from calls.models import CallRecord


class CallCreditForm(HardenedFormMixin, forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("What went wrong?"), choices=CallCreditReason.choices, widget=forms.RadioSelect
    )
    details = forms.CharField(
        label=gettext_lazy("Anything else we should know (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def call_credit_request(request, pk: int):
    call = (
        CallRecord.objects.select_related("account", "facility", "inmate")
        .filter(pk=pk, account__holder=request.user)
        .first()
    )
    if call is None:
        raise Http404("No such call.")
    existing = getattr(call, "credit_request", None)
    form = CallCreditForm(request.POST or None)
    error = ""
    if request.method == "POST" and existing is None and form.is_valid():
        try:
            call_credits.call_credit_request(
                call=call, holder=request.user, reason=form.cleaned_data["reason"], details=form.cleaned_data["details"]
            )
        except call_credits.CallCreditError as exc:
            error = exc.message
        else:
            messages.success(request, _("Thank you. We will look at this call and email you our answer."))
            return redirect("calls:history", pk=call.account_id)
    context = {
        "call": call,
        "form": form,
        "existing": existing,
        "error": error,
        "eligible": call_credits.call_credit_eligible(call=call),
    }
    return render(request, "calls/call_credit_request.html", context, status=400 if error else 200)
