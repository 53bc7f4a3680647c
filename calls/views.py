from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import SponsorshipForm
from .models import InmateDebitSponsorship

CALLS_PER_PAGE = 25


def _own_account(request, pk):
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    if account is None:
        raise Http404("No such account.")
    return account


@login_required
def history(request, pk):
    account = _own_account(request, pk)
    page = Paginator(selectors.call_history_for_account(account=account), CALLS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "calls/history.html", {"account": account, "page": page})


@login_required
def sponsorships(request, pk):
    account = _own_account(request, pk)
    form = SponsorshipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sponsorship = services.sponsorship_start(
                account=account,
                facility=form.cleaned_data["facility"],
                inmate_number=form.cleaned_data["inmate_number"],
                actor=request.user,
            )
        except services.SponsorshipError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("%(name)s's calls are now paid from this account.") % {"name": sponsorship.inmate.full_name}
            )
            return redirect("calls:sponsorships", pk=account.pk)
    return render(
        request,
        "calls/sponsorships.html",
        {"account": account, "form": form, "sponsorships": selectors.sponsorship_list_for_account(account=account)},
    )


@login_required
@require_POST
def sponsorship_end(request, pk):
    sponsorship = get_object_or_404(
        InmateDebitSponsorship.objects.select_related("inmate", "account"), pk=pk, account__holder=request.user
    )
    services.sponsorship_end(sponsorship=sponsorship, actor=request.user)
    messages.success(
        request, _("This account no longer pays for %(name)s's calls.") % {"name": sponsorship.inmate.full_name}
    )
    return redirect("calls:sponsorships", pk=sponsorship.account_id)
