from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from billing.closing import services as refunds
from billing.payments import autoreload
from billing.payments import selectors as billing_selectors
from billing.payments.models import PaymentStatus
from billing.payments.refunds import MailingAddress
from billing.statements import history as family_history
from calls import prices as call_prices
from calls.selectors import facility_list_active

from . import selectors, services
from .forms import AccountOpenForm, CloseAccountForm, PhoneNumberEditForm, PhoneNumberForm, ProfileForm
from .models import AccountKind, AccountStatus, SuspensionCode


def home(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    return render(request, "home.html")


def _account_context(account) -> dict:
    """What the account's summary shows: state, prices up front and which payment to offer."""
    view = selectors.account_view(account=account)
    prices = call_prices.facility_prices_for_account(account=account, balance_cents=view.balance_cents)
    only_free = call_prices.only_free_facilities(prices)
    staff_suspended = view.status == AccountStatus.SUSPENDED and account.suspension_code == SuspensionCode.STAFF
    can_add_money = account.is_prepaid and view.status != AccountStatus.CLOSED and not staff_suspended
    return {
        "view": view,
        "prices": prices,
        "only_free": only_free,
        # Paying never lifts a staff suspension, and a family whose calls are all free never needs to.
        "offer_add_money": can_add_money and not only_free,
        "auto_reload": autoreload.auto_reload_get(account=account) if account.is_prepaid else None,
        "recent": family_history.history_for_account(
            account=account, filters=family_history.Filters(zone=account.holder.time_zone), limit=8
        ).entries,
        "waiting_payments": [
            p
            for p in billing_selectors.payment_list_for_account(account=account)[:20]
            if p.status == PaymentStatus.REQUIRES_ACTION
        ],
    }


def _dashboard(request, *, open_form=None, status: int = 200):
    views = [
        {
            **_account_context(account),
            "payments": billing_selectors.payment_list_for_account(account=account)[:5],
        }
        for account in selectors.account_list_for_holder(holder=request.user)
    ]
    open_form = open_form or AccountOpenForm(facilities=facility_list_active())
    context = {"accounts": views, "open_form": open_form, **_rules()}
    return render(request, "accounts/dashboard.html", context, status=status)


@login_required
def dashboard(request):
    return _dashboard(request)


def _rules() -> dict:
    return {
        "activation_hours": int(settings.ACTIVATION_DELAY.total_seconds() // 3600),
        "max_deposit_cents": settings.MAX_DEPOSIT_CENTS,
    }


@login_required
@require_http_methods(["GET", "POST"])
def account_open(request):
    """A GET shows the dashboard, where the opening form is; a refused facility opens nothing."""
    if request.method == "GET":
        return _dashboard(request)
    form = AccountOpenForm(request.POST, facilities=facility_list_active())
    if not form.is_valid():
        return _dashboard(request, open_form=form, status=400)
    facility = form.cleaned_data["facility"]
    try:
        account = services.account_open(holder=request.user, kind=AccountKind.ADVANCE_CONNECT)
        if facility is not None:
            services.account_facility_set(account=account, facility_id=facility.pk)
    except services.AccountError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:dashboard")
    messages.success(
        request,
        _("AdvanceConnect account #%(number)s is open. Add the numbers you want to be called on.")
        % {"number": account.pk},
    )
    return redirect("accounts:account_detail", pk=account.pk)


@login_required
@require_http_methods(["GET", "POST"])
def account_detail(request, pk: int):
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    form = PhoneNumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            phone = services.phone_number_add(account=account, actor=request.user, **form.cleaned_data)
        except services.AccountError as exc:
            form.add_error("number", exc.message)
        else:
            messages.success(request, _("%(number)s was added.") % {"number": phone.number.as_national})
            return redirect("accounts:account_detail", pk=account.pk)
    return render(
        request,
        "accounts/account_detail.html",
        {
            **_account_context(account),
            "form": form,
            "payments": billing_selectors.payment_list_for_account(account=account)[:50],
            "refunds": billing_selectors.refund_list_for_account(account=account),
            **_rules(),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_close(request, pk: int):
    """The plan first (balance, which card payments get what back, how much by check and the
    mailing address it goes to); a POST from this page closes the account."""
    account = selectors.account_get_for_holder(holder=request.user, pk=pk)
    on_file = MailingAddress.of_holder(request.user)
    plan = refunds.account_close_plan(account=account, mailing_address=on_file)
    initial = {name: getattr(request.user, name) for name in CloseAccountForm.ADDRESS_FIELDS}
    form = CloseAccountForm(
        request.POST if request.method == "POST" else None, initial=initial, check_refund=plan.check_cents > 0
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        address = MailingAddress(
            name=request.user.get_full_name() or request.user.email,
            line1=data["address_line1"].strip(),
            line2=data["address_line2"].strip(),
            city=data["city"].strip(),
            state=data["state"],
            postal_code=data["postal_code"].strip(),
        )
        try:
            refunds.account_close(
                account=account,
                actor=request.user,
                reason=data["reason"],
                mailing_address=address if address.is_complete else None,
            )
        except refunds.CloseError as exc:
            if exc.field == "mailing_address":
                form.add_error("address_line1", exc.message)
            else:
                error = exc.message
        else:
            messages.success(
                request, _("Account #%(number)s is closed. Your refund is on its way.") % {"number": account.pk}
            )
            return redirect("accounts:account_detail", pk=account.pk)
        plan = refunds.account_close_plan(account=account, mailing_address=on_file)
    elif request.method == "POST":
        error = " ".join(str(message) for message in form.errors.get("reason", []))
    return render(
        request,
        "accounts/account_close.html",
        {"account": account, "plan": plan, "error": error, "form": form},
        status=400 if error or form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def number_edit(request, pk: int):
    phone = selectors.phone_number_get_for_holder(holder=request.user, pk=pk)
    form = PhoneNumberEditForm(request.POST or None, initial={"label": phone.label, "line_type": phone.line_type})
    if request.method == "POST" and form.is_valid():
        try:
            services.phone_number_update(phone=phone, actor=request.user, **form.cleaned_data)
        except services.AccountError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(number)s was updated.") % {"number": phone.number.as_national})
            return redirect("accounts:account_detail", pk=phone.account_id)
    return render(request, "accounts/number_edit.html", {"phone": phone, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def number_remove(request, pk: int):
    """A GET asks to confirm; the POST from that page removes the number."""
    phone = selectors.phone_number_get_for_holder(holder=request.user, pk=pk)
    if request.method == "GET":
        return render(request, "accounts/number_remove.html", {"phone": phone})
    services.phone_number_remove(phone=phone, actor=request.user)
    messages.success(
        request,
        _("%(number)s was removed from account #%(account)s.")
        % {
            "number": phone.number.as_national,
            "account": phone.account_id,
        },
    )
    return redirect("accounts:account_detail", pk=phone.account_id)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:dashboard")
    return render(request, "accounts/profile.html", {"form": form})
