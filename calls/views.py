from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import SponsorshipCapForm, SponsorshipForm
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
    """Pay for an inmate's calls: the holder names the facility and inmate number, FamilyLine shows
    the inmate's name, and the sponsorship starts only once the holder confirms it."""
    account = _own_account(request, pk)
    form = SponsorshipForm(request.POST or None)
    confirming = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        inmate = selectors.inmate_find(facility=data["facility"], inmate_number=data["inmate_number"])
        if data["confirm"] and inmate is not None:
            try:
                sponsorship = services.sponsorship_start(
                    account=account,
                    facility=data["facility"],
                    inmate_number=data["inmate_number"],
                    actor=request.user,
                    confirmed=data["confirmed_name"],
                    monthly_cap_cents=data["monthly_cap"],
                )
            except services.SponsorshipError as exc:
                form.add_error(None, str(exc))
                confirming = inmate
            else:
                messages.success(
                    request,
                    _("%(name)s's calls are now paid from this account.") % {"name": sponsorship.inmate.full_name},
                )
                return redirect("calls:sponsorships", pk=account.pk)
        elif inmate is None:
            form.add_error(
                "inmate_number",
                _("No inmate with number %(number)s is at %(facility)s.")
                % {"number": data["inmate_number"], "facility": data["facility"].name},
            )
        else:
            confirming = inmate
    return render(
        request,
        "calls/sponsorships.html",
        {
            "account": account,
            "form": form,
            "confirming": confirming,
            "sponsorships": selectors.sponsorship_list_for_account(account=account),
            "paid_calls": selectors.sponsored_calls_for_account(account=account),
            "cap_form": SponsorshipCapForm(),
        },
        status=400 if request.method == "POST" and form.errors else 200,
    )


@login_required
@require_POST
def sponsorship_cap(request, pk):
    sponsorship = get_object_or_404(
        InmateDebitSponsorship.objects.select_related("inmate"), pk=pk, account__holder=request.user, ended_at=None
    )
    form = SponsorshipCapForm(request.POST)
    if form.is_valid():
        try:
            services.sponsorship_cap_set(sponsorship=sponsorship, monthly_cap_cents=form.cleaned_data["monthly_cap"])
        except services.SponsorshipError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("The monthly limit for %(name)s's calls is saved.") % {"name": sponsorship.inmate.full_name}
            )
    else:
        messages.error(request, " ".join(form.errors.get("monthly_cap", [])))
    return redirect("calls:sponsorships", pk=sponsorship.account_id)


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
