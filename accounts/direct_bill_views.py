from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .direct_bill import services as applications
from .direct_bill_forms import DirectBillApplicationForm


@login_required
def direct_bill_home(request):
    return render(
        request,
        "direct_bill/home.html",
        {
            "applications": applications.application_list_for_holder(holder=request.user),
            "can_apply": applications.application_can_apply(holder=request.user),
            "alaska_limit_cents": settings.ALASKA_PREAPPROVED_LIMIT_CENTS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def direct_bill_apply(request):
    user = request.user
    if not applications.application_can_apply(holder=user):
        messages.info(request, _("You already have a Direct Bill application or account."))
        return redirect("accounts:direct_bill")
    initial = {
        "legal_name": user.get_full_name(),
        "address_line1": user.address_line1,
        "address_line2": user.address_line2,
        "city": user.city,
        "state": user.state,
        "postal_code": user.postal_code,
    }
    form = DirectBillApplicationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            application = applications.application_submit(applicant=user, **form.cleaned_data)
        except applications.ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("accounts:direct_bill_application", pk=application.pk)
    return render(request, "direct_bill/apply.html", {"form": form})


@login_required
def direct_bill_application(request, pk: int):
    application = applications.application_get_for_holder(holder=request.user, pk=pk)
    if application is None:
        raise Http404("No such application.")
    return render(request, "direct_bill/application.html", {"application": application})
