from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.security import HardenedFormMixin
from accounts.selectors import number_view_for_holder
from billing.ledger.money import format_cents, to_decimal
from billing.payments import direct_bill as statement_payments
from billing.payments import selectors, services
from billing.payments.models import PaymentStatus
from billing.statements import pdf as statement_pdfs
from billing.statements import selectors as statement_selectors
from billing.statements import standing
from config.forms import AmountField


def _own_statement(request, pk: int, *, holder_only: bool = False):
    """The holder's own statement. Staff may view and download another holder's statement only with
    the permission to view statements (a 403 otherwise); only the holder pays."""
    statement = statement_selectors.statement_get_for_viewer(user=request.user, pk=pk)
    if statement is None or (holder_only and statement.account.holder_id != request.user.pk):
        raise Http404("No such statement.")
    if statement.account.holder_id != request.user.pk and not request.user.has_perm("billing.view_statement"):
        raise PermissionDenied
    return statement


@login_required
def statement_list(request):
    rows = [
        (statement, standing.statement_standing(statement=statement))
        for statement in statement_selectors.statement_list_for_holder(holder=request.user)
    ]
    return render(request, "statements/list.html", {"rows": rows})


@login_required
def statement_detail(request, pk: int):
    statement = _own_statement(request, pk)
    context = {
        "statement": statement,
        "account": statement.account,
        "standing": standing.statement_standing(statement=statement),
        "owed_cents": selectors.account_owed_cents(account=statement.account),
        "summary": statement_pdfs.statement_summary_rows(statement),
        "lines": statement_selectors.statement_lines(statement=statement),
        # The holder's document: numbers read as the holder may read them, whoever opens it.
        "numbers": number_view_for_holder(holder=statement.account.holder),
        "mailing_address": settings.PAYMENT_MAILING_ADDRESS,
    }
    return render(request, "statements/detail.html", context)


@login_required
def statement_pdf(request, pk: int):
    statement = _own_statement(request, pk)
    response = HttpResponse(statement_pdfs.statement_pdf(statement=statement), content_type="application/pdf")
    filename = f"familyline-statement-{statement.account_id}-{statement.period_start_date:%Y-%m}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class StatementPayForm(HardenedFormMixin, forms.Form):
    amount = AmountField(
        label=gettext_lazy("Amount to pay"), help_text=gettext_lazy("Pay all of it or part of it, for example 25.00.")
    )


class StatementCardForm(StatementPayForm):
    """The review step posts the amount back with the SetupIntent the card element confirmed."""

    amount = AmountField(widget=forms.HiddenInput)
    setup_intent = forms.CharField(max_length=255, required=False, widget=forms.HiddenInput)
    # The total the holder saw on the review page: if the fee changed since, they review again.
    total_cents = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)


def _pay_context(statement) -> dict:
    return {
        "statement": statement,
        "account": statement.account,
        "standing": standing.statement_standing(statement=statement),
        "owed_cents": selectors.account_owed_cents(account=statement.account),
    }


def _pay_review(request, statement, *, amount_cents: int, error: str = ""):
    context = _pay_context(statement)
    try:
        quote = statement_payments.direct_bill_payment_quote(account=statement.account, amount_cents=amount_cents)
    except services.PaymentError as exc:
        form = StatementPayForm(initial={"amount": to_decimal(amount_cents)})
        return render(request, "statements/pay.html", {**context, "form": form, "error": exc.message}, status=400)
    context.update(
        form=StatementCardForm(initial={"amount": to_decimal(amount_cents), "total_cents": quote.total_cents}),
        quote=quote,
        error=error,
        stripe_js_url=settings.STRIPE_JS_URL,
        stripe_publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
    )
    return render(request, "statements/pay_review.html", context, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def statement_pay(request, pk: int):
    """Step one: how much to pay (all or part of what is owed); a valid POST shows the review step."""
    statement = _own_statement(request, pk, holder_only=True)
    context = _pay_context(statement)
    if request.method == "POST":
        form = StatementPayForm(request.POST)
        if form.is_valid():
            return _pay_review(request, statement, amount_cents=form.cleaned_data["amount"])
        return render(request, "statements/pay.html", {**context, "form": form}, status=400)
    suggested = context["standing"].due_cents or context["owed_cents"]
    form = StatementPayForm(initial={"amount": to_decimal(suggested)} if suggested else None)
    return render(request, "statements/pay.html", {**context, "form": form})


@login_required
@require_POST
def statement_pay_confirm(request, pk: int):
    """Step two: the browser confirmed the card with Stripe; charge it and credit the account."""
    statement = _own_statement(request, pk, holder_only=True)
    form = StatementCardForm(request.POST)
    if not form.is_valid():
        return redirect("billing:statement_pay", pk=statement.pk)
    amount = form.cleaned_data["amount"]
    try:
        payment = statement_payments.direct_bill_card_payment_create(
            holder=request.user,
            account=statement.account,
            amount_cents=amount,
            setup_intent_id=form.cleaned_data["setup_intent"],
            expected_total_cents=form.cleaned_data["total_cents"],
        )
    except services.PaymentError as exc:
        return _pay_review(request, statement, amount_cents=amount, error=exc.message)
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(
            request,
            _("Thank you. Your payment of %(amount)s went through.") % {"amount": format_cents(payment.amount_cents)},
        )
        return redirect("billing:statement_detail", pk=statement.pk)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return redirect("billing:authenticate", pk=payment.pk)
    messages.info(request, _("Your bank is still processing this payment. We will email your receipt."))
    return redirect("billing:statement_detail", pk=statement.pk)
