import csv
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing import history as family_history
from billing import ledger
from billing.money import to_decimal

from . import prices, selectors, services
from .forms import HistoryFilterForm, SponsorshipCapForm, SponsorshipForm
from .models import CallRecord, Inmate, InmateDebitSponsorship

CALLS_PER_PAGE = 25


def _own_account(request, pk):
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    if account is None:
        raise Http404("No such account.")
    return account


def _history_filters(request, account):
    """The filter form and the filters it gives (the holder's own numbers and inmates only)."""
    numbers = sorted({call.dialed_number for call in CallRecord.objects.filter(account=account).only("dialed_number")})
    numbers = sorted(set(numbers) | {phone.number for phone in account.phone_numbers.all()}, key=str)
    inmate_ids = CallRecord.objects.filter(account=account).values_list("inmate_id", flat=True).distinct()
    inmates = Inmate.objects.filter(pk__in=inmate_ids).order_by("last_name", "first_name", "id")
    form = HistoryFilterForm(request.GET or None, numbers=numbers, inmates=inmates)
    zone = request.user.time_zone
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = family_history.Filters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            number=data["number"],
            inmate_id=data["inmate"],
            zone=zone,
        )
    else:
        filters = family_history.Filters(zone=zone)
    return form, filters


@login_required
def history(request, pk):
    """Calls and money movements in plain words, newest first, in the holder's time zone."""
    account = _own_account(request, pk)
    form, filters = _history_filters(request, account)
    result = family_history.history_for_account(account=account, filters=filters)
    page = Paginator(result.entries, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    balance = ledger.balance_get(account=account)
    return render(
        request,
        "calls/history.html",
        {
            "account": account,
            "page": page,
            "history": result,
            "form": form,
            "query": query.urlencode(),
            "zone": request.user.time_zone,
            "zone_label": request.user.get_time_zone_display(),
            "bars": family_history.monthly_spending(account=account, zone=request.user.time_zone),
            "prices": prices.facility_prices_for_account(account=account, balance_cents=balance),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _dollars(cents: int) -> str:
    return str(to_decimal(cents))


@login_required
def history_calls_csv(request, pk):
    """The calls of the history page (same filters); the Total column sums to the page's total."""
    account = _own_account(request, pk)
    _form, filters = _history_filters(request, account)
    zone = ZoneInfo(filters.zone)
    rows = (
        [
            timezone.localtime(call.started_at, zone).strftime("%Y-%m-%d %H:%M"),
            filters.zone,
            call.facility.name,
            call.inmate.full_name,
            call.dialed_number.as_national,
            call.billable_minutes,
            _dollars(call.charge_cents),
            _dollars(call.tax_cents),
            _dollars(call.charge_cents + call.tax_cents),
        ]
        for call in family_history.calls_for(account=account, filters=filters)
    )
    header = [_("Date and time"), _("Time zone"), _("Facility"), _("Inmate"), _("Number"), _("Minutes")]
    header += [_("Charge"), _("Tax"), _("Total")]
    return _csv_response(f"familyline-{account.pk}-calls.csv", header, rows)


@login_required
def history_payments_csv(request, pk):
    """The payments of the history page; Amount and Fee of paid rows sum to the page's totals."""
    account = _own_account(request, pk)
    _form, filters = _history_filters(request, account)
    zone = ZoneInfo(filters.zone)
    rows = (
        [
            timezone.localtime(payment.succeeded_at or payment.created_at, zone).strftime("%Y-%m-%d %H:%M"),
            filters.zone,
            _("Automatic reload") if payment.auto_reload else family_history.channel_words(payment.channel),
            _dollars(payment.amount_cents),
            _dollars(payment.fee_cents),
            _dollars(payment.total_cents),
            _("Yes") if payment.status == "succeeded" else _("No"),
            family_history.payment_state_words(payment),
        ]
        for payment in family_history.payments_for(account=account, filters=filters)
    )
    header = [_("Date and time"), _("Time zone"), _("How"), _("Amount"), _("Fee"), _("Total"), _("Charged")]
    header += [_("Status")]
    return _csv_response(f"familyline-{account.pk}-payments.csv", header, rows)


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
