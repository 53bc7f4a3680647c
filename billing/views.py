import contextlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import alerts
from accounts import selectors as account_selectors
from accounts.models import AccountKind, AccountStatus

from . import selectors, stripe_gateway
from .forms import AlertForm, AutoReloadForm, FundForm, PayForm
from .models import Channel, PaymentStatus
from .money import MoneyError, parse_amount, to_decimal
from .payments import autoreload, pending, services, webhooks
from .payments.card_errors import plain_card_error


def _fundable(request):
    """Accounts the holder can pay into: every open one (AdvanceConnect adds money; Direct Bill pays
    what is owed, at any time) and closed ones that still owe (a call reported after closing)."""
    return account_selectors.account_payable_list_for_holder(holder=request.user)


def _stripe_context() -> dict:
    return {"stripe_js_url": settings.STRIPE_JS_URL, "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}


def _limits_context() -> dict:
    """The limits and the fee, shown on the first step, before any review."""
    return {
        "min_deposit_cents": settings.MIN_DEPOSIT_CENTS,
        "max_deposit_cents": settings.MAX_DEPOSIT_CENTS,
        "web_fee_cents": services.fee_for_channel(channel=Channel.WEB),
    }


def _pays_what_is_owed(account) -> bool:
    """A Direct Bill account, or a closed one, takes payments toward what it owes; only an open
    AdvanceConnect account has money added to a balance."""
    return account.kind == AccountKind.DIRECT_BILL or account.status == AccountStatus.CLOSED


def _chosen_account(form):
    """The account the page is about: the one chosen (or posted), else the holder's only one."""
    accounts = form.fields["account"].queryset
    value = str(form["account"].value() or "")
    if value.isdigit():
        return accounts.filter(pk=int(value)).first()
    return accounts.first() if accounts.count() == 1 else None


def _fund_page(request, form, *, error: str = "", status: int = 200):
    accounts = form.fields["account"].queryset
    chosen = _chosen_account(form)
    context = {
        "form": form,
        "error": error,
        "chosen": chosen,
        "owed_cents": selectors.account_owed_cents(account=chosen) if chosen is not None else 0,
        # The page speaks of paying what is owed when that is all the chosen (or every) account takes.
        "pays_what_is_owed": _pays_what_is_owed(chosen)
        if chosen is not None
        else bool(accounts) and all(_pays_what_is_owed(a) for a in accounts),
        "has_owing_kind": any(_pays_what_is_owed(a) for a in accounts),
        **_limits_context(),
    }
    return render(request, "billing/fund.html", context, status=status)


def _review(request, *, account, amount_cents: int, error: str = ""):
    """The confirmation step: amount, fee and total before the card is charged, and the card field."""
    accounts = _fundable(request)
    try:
        quote = services.payment_quote(account=account, amount_cents=amount_cents, channel=Channel.WEB)
    except services.PaymentError as exc:
        form = FundForm(initial={"account": account.pk, "amount": to_decimal(amount_cents)}, accounts=accounts)
        return _fund_page(request, form, error=exc.message, status=400)
    pay_form = PayForm(
        initial={"account": account.pk, "amount": to_decimal(amount_cents), "total_cents": quote.total_cents},
        accounts=accounts,
    )
    context = {
        "account": account,
        "pays_what_is_owed": _pays_what_is_owed(account),
        "quote": quote,
        "form": pay_form,
        "error": plain_card_error(error) if error else "",
        **_stripe_context(),
    }
    return render(request, "billing/fund_review.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def fund(request):
    """Step one (choose account and amount); a valid POST shows the review step."""
    accounts = _fundable(request)
    if request.method == "POST":
        form = FundForm(request.POST, accounts=accounts)
        if form.is_valid():
            return _review(request, account=form.cleaned_data["account"], amount_cents=form.cleaned_data["amount"])
        return _fund_page(request, form, status=400)
    initial = {"account": request.GET["account"]} if request.GET.get("account", "").isdigit() else {}
    # Back from a payment the bank did not confirm: the amount stays as the holder chose it.
    with contextlib.suppress(KeyError, MoneyError):
        initial["amount"] = to_decimal(parse_amount(request.GET["amount"]))
    return _fund_page(request, FundForm(initial=initial, accounts=accounts))


# What a card is being confirmed for: a payment now, or saving it for auto-reload.
SETUP_PURPOSES = {"payment": False, "auto_reload": True}


@login_required
@require_POST
def card_setup(request):
    """The card field asks for a SetupIntent when the holder submits a card, so showing a page (or
    refusing a request) never creates a Stripe object. The one offered last in this session is offered
    again while it is still open. Answers JSON: {client_secret} or {error} (400 or 503)."""
    purpose = request.POST.get("purpose", "")
    if purpose not in SETUP_PURPOSES:
        return JsonResponse({"error": _("That request was not understood. Nothing was changed.")}, status=400)
    if not _fundable(request).exists():
        # Nothing to pay into, nothing to reload: no Stripe customer for it either.
        return JsonResponse({"error": _("Choose one of your own open accounts.")}, status=400)
    session_key = f"card_setup:{purpose}"
    try:
        setup_id, client_secret = services.card_setup_start(
            holder=request.user,
            off_session=SETUP_PURPOSES[purpose],
            reuse_setup_intent_id=str(request.session.get(session_key, "")),
        )
    except services.PaymentError as exc:
        return JsonResponse({"error": exc.message}, status=503)
    request.session[session_key] = setup_id
    return JsonResponse({"client_secret": client_secret})


@login_required
@require_POST
def fund_pay(request):
    """Step two: the browser confirmed the card with Stripe; charge it and credit the account."""
    accounts = _fundable(request)
    form = PayForm(request.POST, accounts=accounts)
    if not form.is_valid():
        return _fund_page(request, FundForm(request.POST, accounts=accounts), status=400)
    account, amount = form.cleaned_data["account"], form.cleaned_data["amount"]
    try:
        payment = services.card_payment_create(
            holder=request.user,
            account=account,
            amount_cents=amount,
            setup_intent_id=form.cleaned_data["setup_intent"],
            expected_total_cents=form.cleaned_data["total_cents"],
        )
    except services.PaymentError as exc:
        return _review(request, account=account, amount_cents=amount, error=exc.message)
    return _after_charge(request, payment)


def _after_charge(request, payment):
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(request, _("Thank you. Your payment went through."))
        return redirect("billing:receipt", pk=payment.pk)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return redirect("billing:authenticate", pk=payment.pk)
    if payment.status in (PaymentStatus.PROCESSING, PaymentStatus.CREATED):
        messages.info(request, _("Your bank is still processing this payment. We will email your receipt."))
        return redirect("billing:receipt", pk=payment.pk)
    messages.error(request, plain_card_error(payment.failure_message))
    query = urlencode({"account": payment.account_id, "amount": to_decimal(payment.amount_cents)})
    return redirect(f"{reverse('billing:fund')}?{query}")


@login_required
@require_http_methods(["GET", "POST"])
def authenticate(request, pk: int):
    """3-D Secure: the browser completes the bank's check, then posts here and we ask Stripe."""
    payment = selectors.payment_get_for_holder(holder=request.user, pk=pk)
    if request.method == "POST" or payment.status != PaymentStatus.REQUIRES_ACTION:
        try:
            payment = services.card_payment_refresh(payment=payment)
        except services.PaymentError as exc:
            messages.error(request, exc.message)
            return redirect("accounts:account_detail", pk=payment.account_id)
        return _after_charge(request, payment)
    try:
        client_secret = services.payment_client_secret(payment=payment)
    except services.PaymentError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:account_detail", pk=payment.account_id)
    return render(
        request,
        "billing/authenticate.html",
        {"payment": payment, "client_secret": client_secret, **_stripe_context()},
    )


@login_required
def receipt(request, pk: int):
    payment = selectors.payment_get_for_holder(holder=request.user, pk=pk)
    return render(request, "billing/receipt.html", {"payment": payment, "account": payment.account})


@login_required
@require_POST
def payment_cancel(request, pk: int):
    """Give up a payment waiting for the bank's confirmation (nothing was charged)."""
    payment = selectors.payment_get_for_holder(holder=request.user, pk=pk)
    try:
        payment = pending.card_payment_cancel(payment=payment)
    except services.PaymentError as exc:
        messages.error(request, exc.message)
    else:
        if payment.status == PaymentStatus.SUCCEEDED:
            messages.success(request, _("Your bank had already confirmed this payment: it went through."))
        else:
            messages.success(request, _("The payment was canceled. Nothing was charged."))
    return redirect("accounts:account_detail", pk=payment.account_id)


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
        **_limits_context(),
        **_stripe_context(),
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


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verified on the raw body, stored once per event id, processed by a task. Bad signature: 400; a
    body over STRIPE_WEBHOOK_MAX_BYTES (no Stripe event is that large): 413, unread past Django's limit."""
    try:
        payload = request.body
    except RequestDataTooBig:
        payload = None
    if payload is None or len(payload) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        return HttpResponse("payload too large", status=413, content_type="text/plain")
    try:
        webhooks.stripe_event_store(payload=payload, signature_header=request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.SignatureError:
        return HttpResponseBadRequest("invalid signature")
    return HttpResponse("ok")
