"""Staff side of Direct Bill billing: statements (read-only) with a past-due list, mail payments
toward a statement, and manual adjustments with a required reason (posted through the ledger)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.security import HardenedFormMixin
from billing.ledger.money import format_cents
from billing.payments import direct_bill as statement_payments
from billing.payments import selectors, services
from billing.payments.models import PaymentMethod
from billing.statements import call_credits, standing
from billing.statements.adjustments import DESCRIPTION_MAX_LENGTH, AdjustmentError, adjustment_create
from billing.statements.models import Adjustment, CallCreditRequest, CallCreditStatus, Statement, StatementLine
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, local_time, money_column, time_column
from config.forms import AmountField


class StatementLineInline(ReadOnlyInline):
    model = StatementLine
    fields = ["occurred", "kind", "description", "facility", "inmate", "number", "minutes", "amount"]
    amount = money_column("amount_cents", "amount")
    occurred = time_column("occurred_at", "at")


class PastDueFilter(admin.SimpleListFilter):
    """Statements past their due date with something still unpaid: the dunning list."""

    title = "standing"
    parameter_name = "standing"

    def lookups(self, request, model_admin):
        return [("past_due", "Past due, unpaid")]

    def queryset(self, request, queryset):
        if self.value() != "past_due":
            return queryset
        today = timezone.localdate()
        past = queryset.filter(due_date__lt=today).select_related("account")
        unpaid = [s.pk for s in past if standing.statement_standing(statement=s).due_cents > 0]
        return queryset.filter(pk__in=unpaid)


class MailPaymentForm(HardenedFormMixin, forms.Form):
    method = forms.ChoiceField(choices=[(PaymentMethod.CHECK, "Check"), (PaymentMethod.MONEY_ORDER, "Money order")])
    amount = AmountField(label="Amount")
    reference = forms.CharField(label="Check or money order number", max_length=100)
    duplicate_confirmed = forms.BooleanField(
        label="This number was already recorded, and this is a different payment", required=False
    )


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    """Viewing only: an issued statement never changes (the page is still reachable read-only)."""

    list_display = ["__str__", "account", "period_start_date", "closing", "paid", "due", "due_date", "emailed"]
    list_filter = [PastDueFilter, "period_start_date", "due_date"]
    search_fields = ["account__holder__email", "account__id"]
    list_select_related = ["account__holder"]
    ordering = ["-period_start_date", "-id"]
    inlines = [StatementLineInline]
    change_form_template = "statements/admin/statement_change_form.html"
    fields = (
        "account",
        "period_start_date",
        "period_end_date",
        "opening",
        "charges",
        "tax",
        "payments",
        "adjustments",
        "closing",
        "due_date",
        "issued",
        "emailed",
    )
    readonly_fields = fields
    opening = money_column("opening_balance_cents", "opening balance")
    charges = money_column("charges_cents", "call charges")
    tax = money_column("tax_cents", "taxes")
    payments = money_column("payments_cents", "payments")
    adjustments = money_column("adjustments_cents", "adjustments")
    issued = time_column("issued_at", "issued")
    emailed = time_column("emailed_at", "emailed")

    @admin.display(description="closing balance")
    def closing(self, obj):
        return format_cents(obj.closing_balance_cents)

    @admin.display(description="paid since")
    def paid(self, obj):
        return format_cents(standing.statement_standing(statement=obj).paid_cents)

    @admin.display(description="balance due")
    def due(self, obj):
        return format_cents(standing.statement_standing(statement=obj).due_cents)

    def get_urls(self):
        return [
            path(
                "<int:pk>/mail-payment/",
                self.admin_site.admin_view(self.mail_payment_view),
                name="billing_statement_mail_payment",
            ),
            *super().get_urls(),
        ]

    def mail_payment_view(self, request, pk):
        if not (request.user.has_perm("billing.add_payment") and request.user.has_perm("billing.view_statement")):
            raise PermissionDenied
        statement = get_object_or_404(Statement.objects.select_related("account__holder"), pk=pk)
        form = MailPaymentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                payment = statement_payments.direct_bill_mail_payment_record(
                    account=statement.account,
                    method=form.cleaned_data["method"],
                    amount_cents=form.cleaned_data["amount"],
                    reference=form.cleaned_data["reference"],
                    recorded_by=request.user,
                    duplicate_confirmed=form.cleaned_data["duplicate_confirmed"],
                )
            except services.PaymentError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request, f"Recorded {format_cents(payment.amount_cents)} by mail ({payment}).", messages.SUCCESS
                )
                return redirect(reverse("admin:billing_statement_change", args=[statement.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Record a mail payment for {statement}",
            "statement": statement,
            "standing": standing.statement_standing(statement=statement),
            "owed_cents": selectors.account_owed_cents(account=statement.account),
            "form": form,
        }
        return TemplateResponse(request, "statements/admin/mail_payment.html", context)


class AdjustmentForm(forms.ModelForm):
    direction = forms.ChoiceField(
        choices=[("credit", "Credit: reduce what the holder owes"), ("debit", "Debit: add to what the holder owes")]
    )
    amount = AmountField(label="Amount")
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        label="Description for the family",
        required=False,
        help_text='Shown on the statement and history, for example "Credit for a dropped call" '
        '("Account adjustment" when left empty).',
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=settings.REASON_MAX_LENGTH,
        label="Staff note",
        help_text="Why, for staff only: never shown to the family.",
    )

    class Meta:
        model = Adjustment
        fields = ["account", "description", "reason"]

    def clean_amount(self):
        if self.cleaned_data["amount"] is None or self.cleaned_data["amount"] <= 0:
            raise forms.ValidationError("Enter an amount greater than $0.00.")
        return self.cleaned_data["amount"]


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    form = AdjustmentForm
    list_display = ["__str__", "account", "amount", "description", "reason", "created_by", "created"]
    list_select_related = ["account__holder", "created_by"]
    search_fields = ["reason", "description", "account__holder__email"]
    ordering = ["-created_at", "-id"]
    autocomplete_fields = ["account"]
    readonly_fields = ["account", "amount", "description", "reason", "created_by", "entry", "created"]
    created = time_column("created_at", "created")

    @admin.display(description="amount (+ credit, - debit)")
    def amount(self, obj):
        return format_cents(obj.amount_cents)

    def get_fields(self, request, obj=None):
        return ["account", "direction", "amount", "description", "reason"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        sign = 1 if data["direction"] == "credit" else -1
        try:
            created = adjustment_create(
                account=data["account"],
                amount_cents=sign * data["amount"],
                reason=data["reason"],
                description=data["description"],
                actor=request.user,
            )
        except AdjustmentError as exc:  # the form already checks both; kept for a clear message
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.entry, obj.created_at = created.pk, created.entry, created.created_at
        obj.amount_cents = created.amount_cents

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            f"{obj}: {format_cents(obj.amount_cents)} posted ({obj.description}).",
            messages.SUCCESS,
        )
        return redirect(reverse("admin:billing_adjustment_change", args=[obj.pk]))


class DeclineForm(HardenedFormMixin, forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3}), label="Reason (emailed to the holder)"
    )


@admin.register(CallCreditRequest)
class CallCreditRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "created", "account", "call_link", "reason", "amount", "status", "decided_by"]
    list_filter = ["status", "reason"]
    search_fields = ["=id", "=account__id", "account__holder__email", "call__call_id"]
    list_select_related = ["account__holder", "call", "decided_by"]
    ordering = ["created_at", "id"]
    actions = ["approve", "decline"]
    amount = money_column("amount_cents", "amount")
    created = time_column("created_at", "asked")

    @admin.display(description="call")
    def call_link(self, obj):
        call = obj.call
        return f"{local_time(call.started_at)} · {call.billable_minutes} min · {call.get_disconnect_display()}"

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.has_perm("billing.change_callcreditrequest")

    @admin.action(permissions=["change"], description="Approve (credit the call to the account)")
    def approve(self, request, queryset):
        done = 0
        for credit in queryset.filter(status=CallCreditStatus.OPEN).order_by("id"):
            call_credits.call_credit_approve(credit=credit, actor=request.user)
            done += 1
        self.message_user(request, f"Approved {done} request(s); the holders were emailed.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Decline (with a reason)")
    def decline(self, request, queryset):
        form = DeclineForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for credit in queryset.filter(status=CallCreditStatus.OPEN).order_by("id"):
                call_credits.call_credit_decline(credit=credit, actor=request.user, reason=form.cleaned_data["reason"])
                done += 1
            self.message_user(request, f"Declined {done} request(s); the holders were emailed.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/billing/call_credit_decline.html",
            {
                **self.admin_site.each_context(request),
                "title": "Decline call-credit requests",
                "form": form,
                "credits": queryset.order_by("id"),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )
