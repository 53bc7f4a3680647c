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

from accounts.models import CallingAccount
from accounts.security import HardenedFormMixin
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline
from config.forms import AmountField

from . import selectors
from .adjustments import AdjustmentError, adjustment_create
from .models import Adjustment, PaymentMethod, Statement, StatementLine
from .money import format_cents
from .payments import direct_bill as statement_payments
from .payments import services
from .statements import standing


class StatementLineInline(ReadOnlyInline):
    model = StatementLine
    fields = ["occurred_at", "kind", "description", "facility", "inmate", "number", "minutes", "amount"]

    @admin.display(description="amount")
    def amount(self, obj):
        return format_cents(obj.amount_cents)


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


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    """Viewing only: an issued statement never changes (the page is still reachable read-only)."""

    list_display = ["__str__", "account", "period_start_date", "closing", "paid", "due", "due_date", "emailed_at"]
    list_filter = [PastDueFilter, "period_start_date", "due_date"]
    search_fields = ["account__holder__email", "account__id"]
    list_select_related = ["account__holder"]
    ordering = ["-period_start_date", "-id"]
    inlines = [StatementLineInline]
    change_form_template = "statements/admin/statement_change_form.html"
    fields = [
        "account",
        "period_start_date",
        "period_end_date",
        "opening_balance_cents",
        "charges_cents",
        "tax_cents",
        "payments_cents",
        "adjustments_cents",
        "closing_balance_cents",
        "due_date",
        "issued_at",
        "emailed_at",
    ]
    readonly_fields = fields

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
        if not request.user.has_perm("billing.add_payment"):
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
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=settings.REASON_MAX_LENGTH)

    class Meta:
        model = Adjustment
        fields = ["account", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = CallingAccount.objects.select_related("holder").order_by("-id")

    def clean_amount(self):
        if self.cleaned_data["amount"] is None or self.cleaned_data["amount"] <= 0:
            raise forms.ValidationError("Enter an amount greater than $0.00.")
        return self.cleaned_data["amount"]


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    form = AdjustmentForm
    list_display = ["__str__", "account", "amount", "reason", "created_by", "created_at"]
    list_select_related = ["account__holder", "created_by"]
    search_fields = ["reason", "account__holder__email"]
    ordering = ["-created_at", "-id"]
    readonly_fields = ["account", "amount", "reason", "created_by", "entry", "created_at"]

    @admin.display(description="amount (+ credit, - debit)")
    def amount(self, obj):
        return format_cents(obj.amount_cents)

    def get_fields(self, request, obj=None):
        return ["account", "direction", "amount", "reason"] if obj is None else self.readonly_fields

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
                account=data["account"], amount_cents=sign * data["amount"], reason=data["reason"], actor=request.user
            )
        except AdjustmentError as exc:  # the form already checks both; kept for a clear message
            raise PermissionDenied(exc.message) from exc
        obj.pk, obj.entry, obj.created_at = created.pk, created.entry, created.created_at
