"""The low-balance alert and auto-reload page of a prepaid account."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import alerts
from accounts import selectors as account_selectors
from billing.ledger.money import to_decimal
from billing.payments import autoreload
from billing.payments.forms import AlertForm, AutoReloadForm
from billing.payments.views import limits_context, stripe_context


def _alerts_page(request, account, *, alert_form=None, reload_form=None, error: str = "", status: int = 200):
    config = autoreload.auto_reload_get(account=account)
    if reload_form is None:
        initial: dict[str, object] = {"amount": "20.00", "threshold": "5.00", "monthly_cap": "100.00"}
        if config is not None:
            initial = {
                "amount": to_decimal(config.amount_cents),
                "threshold": to_decimal(config.threshold_cents),
                "monthly_cap": to_decimal(config.monthly_cap_cents),
            }
        reload_form = AutoReloadForm(initial=initial)
    alert_form = alert_form or AlertForm(
        initial={"low_balance_threshold": to_decimal(account.low_balance_threshold_cents)}
    )
    context = {
        "account": account,
        "config": config,
        "alert_form": alert_form,
        "reload_form": reload_form,
        "error": error,
        "reloaded_this_month_cents": autoreload.reloads_this_month_cents(account=account),
        **limits_context(),
        **stripe_context(),
    }
    return render(request, "billing/alerts.html", context, status=status)


def _alerts_post(request, account):
    action = request.POST.get("action", "")
    if action == "alert":
        form = AlertForm(request.POST)
        if not form.is_valid():
            return _alerts_page(request, account, alert_form=form, status=400)
        alerts.low_balance_threshold_set(account=account, threshold_cents=form.cleaned_data["low_balance_threshold"])
        messages.success(request, _("Your low-balance alert is saved."))
    elif action in ("off", "remove"):
        try:
            if action == "off":
                autoreload.auto_reload_turn_off(account=account)
            else:
                autoreload.saved_card_remove(account=account)
        except autoreload.AutoReloadError as exc:
            return _alerts_page(request, account, error=exc.message, status=400)
        messages.success(request, _("Auto-reload is off.") if action == "off" else _("Your saved card was removed."))
    elif action == "reload":
        return _auto_reload_post(request, account)
    else:
        # Only the page's own forms are acted on: anything else changes nothing.
        return _alerts_page(
            request, account, error=_("That request was not understood. Nothing was changed."), status=400
        )
    return redirect("billing:alerts", pk=account.pk)


def _auto_reload_post(request, account):
    form = AutoReloadForm(request.POST)
    if not form.is_valid():
        return _alerts_page(request, account, reload_form=form, status=400)
    data = form.cleaned_data
    terms = autoreload.ReloadTerms(
        amount_cents=data["amount"], threshold_cents=data["threshold"], monthly_cap_cents=data["monthly_cap"]
    )
    try:
        autoreload.auto_reload_save(
            account=account, holder=request.user, terms=terms, setup_intent_id=data["setup_intent"]
        )
    except autoreload.AutoReloadError as exc:
        if exc.field:
            form.add_error(exc.field, exc.message)
            return _alerts_page(request, account, reload_form=form, status=400)
        return _alerts_page(request, account, reload_form=form, error=exc.message, status=400)
    messages.success(request, _("Auto-reload is on."))
    return redirect("billing:alerts", pk=account.pk)


@login_required
@require_http_methods(["GET", "POST"])
def alerts_page(request, pk: int):
    """The low-balance alert and auto-reload from a saved card, for one prepaid account."""
    account = account_selectors.account_get_for_holder(holder=request.user, pk=pk)
    if not account.is_prepaid:
        return redirect("accounts:account_detail", pk=account.pk)
    if request.method == "POST":
        return _alerts_post(request, account)
    return _alerts_page(request, account)
