from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors

from . import selectors, stripe_gateway
from .forms import FundForm, PayForm
from .models import Channel, PaymentStatus
from .money import to_decimal
from .payments import services, webhooks


def _fundable(request):
    """Accounts the holder can pay into: every open one (AdvanceConnect adds money; Direct Bill pays
    what is owed, at any time) and closed ones that still owe (a call reported after closing)."""
    return account_selectors.account_payable_list_for_holder(holder=request.user)


def _stripe_context() -> dict:
    return {"stripe_js_url": settings.STRIPE_JS_URL, "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY}


def _review(request, *, account, amount_cents: int, error: str = ""):
    """The confirmation step: amount, fee and total before the card is charged, and the card field."""
    accounts = _fundable(request)
    try:
        quote = services.payment_quote(account=account, amount_cents=amount_cents, channel=Channel.WEB)
        setup_id, client_secret = services.card_setup_start(holder=request.user)
    except services.PaymentError as exc:
        form = FundForm(initial={"account": account.pk, "amount": to_decimal(amount_cents)}, accounts=accounts)
        return render(request, "billing/fund.html", {"form": form, "error": exc.message}, status=400)
    pay_form = PayForm(
        initial={"account": account.pk, "amount": to_decimal(amount_cents), "total_cents": quote.total_cents},
        accounts=accounts,
    )
    context = {
        "account": account,
        "quote": quote,
        "form": pay_form,
        "error": error,
        "setup_intent_id": setup_id,
        "client_secret": client_secret,
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
        return render(request, "billing/fund.html", {"form": form}, status=400)
    initial = {"account": request.GET["account"]} if request.GET.get("account", "").isdigit() else {}
    return render(request, "billing/fund.html", {"form": FundForm(initial=initial, accounts=accounts)})


@login_required
@require_POST
def fund_pay(request):
    """Step two: the browser confirmed the card with Stripe; charge it and credit the account."""
    accounts = _fundable(request)
    form = PayForm(request.POST, accounts=accounts)
    if not form.is_valid():
        return render(request, "billing/fund.html", {"form": FundForm(request.POST, accounts=accounts)}, status=400)
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
    messages.error(request, payment.failure_message or _("The payment did not go through. Nothing was charged."))
    return redirect(f"{reverse('billing:fund')}?account={payment.account_id}")


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


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verified on the raw body, stored once per event id, processed by a task. Bad signature: 400."""
    try:
        webhooks.stripe_event_store(payload=request.body, signature_header=request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.SignatureError:
        return HttpResponseBadRequest("invalid signature")
    return HttpResponse("ok")
