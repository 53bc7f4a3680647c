"""Adding money by card: the amount, the review with the fee, the charge, 3-D Secure, the receipt."""

import contextlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from accounts.models import AccountKind, AccountStatus
from billing.ledger.money import MoneyError, parse_amount, to_decimal
from billing.payments import pending, selectors, services
from billing.payments.card_errors import plain_card_error
from billing.payments.forms import FundForm, PayForm
from billing.payments.models import Channel, PaymentStatus


def _fundable(request):
    """Accounts the holder can pay into: every open one (AdvanceConnect adds money; Direct Bill pays
    what is owed, at any time) and closed ones that still owe (a call reported after closing)."""
    return account_selectors.account_payable_list_for_holder(holder=request.user)


def stripe_context() -> dict:
    return {"stripe_js_url": settings.STRIPE_JS_URL, "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}


def limits_context() -> dict:
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
        **limits_context(),
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
        **stripe_context(),
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
        {"payment": payment, "client_secret": client_secret, **stripe_context()},
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
