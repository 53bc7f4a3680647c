import csv
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.selectors import number_view_for_holder
from billing.ledger import kernel as ledger
from billing.ledger.money import to_decimal
from billing.statements import history as family_history

from . import prices, selectors
from . import sponsorships as sponsoring
from .forms import HistoryFilterForm, SponsorshipCapForm, SponsorshipForm
from .models import CallRecord, Inmate, InmateDebitSponsorship

CALLS_PER_PAGE = 25


def _own_account(request, pk):
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    if account is None:
        raise Http404("No such account.")
    return account


def _history_filters(request, account, numbers):
    """The filter form and the filters it gives (the numbers this account's calls went to and its own,
    shown by the masking rule, and the inmates who called it)."""
    called = CallRecord.objects.filter(account=account).values_list("dialed_number", flat=True).distinct()
    e164s = {numbers.e164(number) for number in called}
    e164s |= {numbers.e164(phone.number) for phone in account.phone_numbers.all()}
    # The viewer's own numbers first, in order; then the others by their visible digits.
    ordered = sorted(e164s, key=lambda e164: (not numbers.is_own(e164), numbers.text(e164), numbers.key(e164)))
    choices = [(numbers.key(e164), numbers.text(e164), e164) for e164 in ordered]
    inmate_ids = CallRecord.objects.filter(account=account).values_list("inmate_id", flat=True).distinct()
    inmates = Inmate.objects.filter(pk__in=inmate_ids).order_by("last_name", "first_name", "id")
    form = HistoryFilterForm(request.GET or None, numbers=choices, inmates=inmates)
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
    numbers = number_view_for_holder(holder=request.user)
    form, filters = _history_filters(request, account, numbers)
    result = family_history.history_for_account(account=account, filters=filters)
    page = Paginator(result.entries, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    # Links keep valid filters only (a refused value is not carried on, nor repeated).
    query = request.GET.copy() if not form.errors else QueryDict(mutable=True)
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
            "numbers": numbers,
            "query": query.urlencode(),
            "zone": request.user.time_zone,
            "zone_label": request.user.get_time_zone_display(),
            "bars": family_history.monthly_spending(account=account, zone=request.user.time_zone),
            "prices": prices.facility_prices_for_account(account=account, balance_cents=balance),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


# A spreadsheet reads a cell starting with one of these as a formula (OWASP: CSV injection).
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell as a spreadsheet shows it, never as a formula: one starting like a formula gets a
    leading apostrophe. Amounts and counts (numbers FamilyLine writes) pass as they are."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([csv_cell(cell) for cell in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return response


def _csv_filters(request, account, numbers):
    """The history's filters for an export, or the 400 the history page answers for them."""
    form, filters = _history_filters(request, account, numbers)
    if form.is_bound and form.errors:
        lines = [_("These filters cannot be used:")]
        lines += [
            f"{form.fields[name].label if name in form.fields else ''}: {' '.join(errors)}".lstrip(": ")
            for name, errors in form.errors.items()
        ]
        return None, HttpResponseBadRequest("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    return filters, None


def _dollars(cents: int) -> Decimal:
    """An amount cell: a number, so a spreadsheet sums it (and csv_cell leaves it as it is)."""
    return to_decimal(cents)


def _local(moment, filters) -> str:
    return timezone.localtime(moment, ZoneInfo(filters.zone)).strftime("%Y-%m-%d %H:%M")


@login_required
def history_calls_csv(request, pk):
    """The calls of the history page (same filters) and the credits given for them; the Total column
    sums to the page's calls total less its credits total."""
    account = _own_account(request, pk)
    numbers = number_view_for_holder(holder=request.user)
    filters, refused = _csv_filters(request, account, numbers)
    if refused:
        return refused
    rows = [
        [
            _local(call.started_at, filters),
            filters.zone,
            call.facility.name,
            call.inmate.full_name,
            numbers.text(call.dialed_number),
            call.billable_minutes,
            _dollars(call.charge_cents),
            _dollars(call.tax_cents),
            _dollars(call.charge_cents + call.tax_cents),
            "",
        ]
        for call in family_history.calls_for(account=account, filters=filters)
    ]
    rows += [
        [
            _local(credit.decided_at, filters),
            filters.zone,
            credit.call.facility.name,
            credit.call.inmate.full_name,
            numbers.text(credit.call.dialed_number),
            "",
            "",
            "",
            _dollars(-credit.amount_cents),
            family_history.call_credit_words(credit, filters.zone, with_amount=False),
        ]
        for credit in family_history.call_credits_for(account=account, filters=filters)
    ]
    rows.sort(key=lambda row: row[0], reverse=True)
    header = [_("Date and time"), _("Time zone"), _("Facility"), _("Inmate"), _("Number"), _("Minutes")]
    header += [_("Charge"), _("Tax"), _("Total"), _("Note")]
    return _csv_response(f"familyline-{account.pk}-calls.csv", header, rows)


@login_required
def history_payments_csv(request, pk):
    """The payments of the history page; Amount and Fee of paid rows sum to the page's totals."""
    account = _own_account(request, pk)
    filters, refused = _csv_filters(request, account, number_view_for_holder(holder=request.user))
    if refused:
        return refused
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
                sponsorship = sponsoring.sponsorship_start(
                    account=account,
                    facility=data["facility"],
                    inmate_number=data["inmate_number"],
                    actor=request.user,
                    confirmed=data["confirmed_name"],
                    monthly_cap_cents=data["monthly_cap"],
                )
            except sponsoring.SponsorshipError as exc:
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
            sponsoring.sponsorship_cap_set(sponsorship=sponsorship, monthly_cap_cents=form.cleaned_data["monthly_cap"])
        except sponsoring.SponsorshipError as exc:
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
    sponsoring.sponsorship_end(sponsorship=sponsorship, actor=request.user)
    messages.success(
        request, _("This account no longer pays for %(name)s's calls.") % {"name": sponsorship.inmate.full_name}
    )
    return redirect("calls:sponsorships", pk=sponsorship.account_id)
