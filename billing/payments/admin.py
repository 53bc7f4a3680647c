"""Staff pages of the payments workflow: payments (and recording one received offline), the fee per
channel, Stripe's events, card disputes, and refunds (approving, sending and recording them)."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import AccountStatus, CallingAccount
from accounts.security import HardenedFormMixin
from billing.ledger.money import format_cents
from billing.payments import disputes, refunds, selectors, services, single_call, webhooks
from billing.payments.models import (
    FEE_CAPS_CENTS,
    Channel,
    Dispute,
    DisputeStatus,
    FeeSchedule,
    Payment,
    PaymentMethod,
    Refund,
    RefundMethod,
    RefundReduction,
    RefundStatus,
    StripeEvent,
)
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, money_column, time_column
from config.forms import AmountField


class OfflinePaymentAdminForm(HardenedFormMixin, forms.Form):
    """Staff record a mail payment (check or money order) or a live-agent phone payment. Nothing is
    preselected: staff choose how the money came in."""

    CHOOSE = [("", "Choose…")]
    account = forms.IntegerField(min_value=1, label="Account number", help_text="The calling account to credit.")
    channel = forms.ChoiceField(
        choices=CHOOSE + [(Channel.MAIL, Channel.MAIL.label), (Channel.PHONE_AGENT, Channel.PHONE_AGENT.label)]
    )
    method = forms.ChoiceField(
        choices=CHOOSE
        + [
            (PaymentMethod.CHECK, "Check (by mail)"),
            (PaymentMethod.MONEY_ORDER, "Money order (by mail)"),
            (PaymentMethod.CARD, "Card on the agent's terminal (live agent)"),
        ]
    )
    amount = AmountField(
        label="Amount to add", help_text="Mail payments carry no fee; live-agent payments carry the live-agent fee."
    )
    reference = forms.CharField(
        max_length=100, label="Check or money order number, or the card terminal's confirmation number"
    )
    confirm_duplicate = forms.BooleanField(
        required=False, label="I checked: this is a different payment with the same number"
    )

    def clean_account(self):
        account = CallingAccount.objects.filter(pk=self.cleaned_data["account"]).exclude(status=AccountStatus.CLOSED)
        found = account.select_related("holder").first()
        if found is None:
            raise forms.ValidationError("No open account has this number.")
        return found


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are read-only; "Add payment" records a mail or live-agent payment through the
    payment service, which posts it to the ledger."""

    list_display = [
        "id",
        "created",
        "account",
        "single_call",
        "channel",
        "method",
        "amount",
        "fee",
        "status",
        "reference",
    ]
    list_filter = ["status", "channel", "method"]
    search_fields = [
        "=id",
        "account__holder__email",
        "reference",
        "stripe_payment_intent_id",
        "=account__id",
        "charge_key",
    ]
    list_select_related = ["account__holder", "single_call"]
    ordering = ["-created_at", "-id"]
    readonly_fields = (
        "account",
        "single_call",
        "channel",
        "method",
        "amount",
        "fee",
        "status",
        "reference_shown",
        "card_last4",
        "stripe_payment_intent_id",
        "stripe_setup_intent_id",
        "charge_key",
        "failure_message",
        "recorded_by",
        "entry",
        "created",
        "succeeded",
    )
    fields = readonly_fields
    amount = money_column("amount_cents", "amount")
    fee = money_column("fee_cents", "fee")
    created = time_column("created_at", "created")
    succeeded = time_column("succeeded_at", "succeeded")

    @admin.display(description="reference")
    def reference_shown(self, obj):
        return obj.reference_label or "-"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("recorded-by-staff/", wrap(self.recorded_by_staff_view), name="billing_payment_recorded_by_staff"),
            *super().get_urls(),
        ]

    def recorded_by_staff_view(self, request):
        """Each day, who recorded which mail and card-terminal payments (separation of duties)."""
        if not request.user.has_perm("billing.change_refund"):
            raise PermissionDenied
        try:
            days = max(1, min(int(request.GET.get("days", "14")), 92))
        except ValueError:
            days = 14
        today = timezone.localdate()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Payments recorded by staff, last {days} days",
            "groups": selectors.offline_payments_by_staff_day(
                first_day=today - timedelta(days=days - 1), last_day=today
            ),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/recorded_by_staff.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        # This view replaces Django's add view, so it must check the permission Django would have.
        if not self.has_add_permission(request):
            raise PermissionDenied
        account = request.GET.get("account", "")
        form = OfflinePaymentAdminForm(request.POST or None, initial={"account": account} if account.isdigit() else {})
        duplicates = []
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                payment = services.payment_record_offline(
                    account=data["account"],
                    channel=data["channel"],
                    method=data["method"],
                    amount_cents=data["amount"],
                    reference=data["reference"],
                    recorded_by=request.user,
                    duplicate_confirmed=data["confirm_duplicate"],
                )
            except services.DuplicateReferenceError as exc:
                duplicates = exc.payments
                form.add_error("confirm_duplicate", exc.message)
            except services.PaymentError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Recorded payment #{payment.pk}: {format_cents(payment.amount_cents)} to account "
                    f"#{payment.account_id} (fee {format_cents(payment.fee_cents)}, {payment.reference_label}).",
                    messages.SUCCESS,
                )
                return redirect("admin:billing_payment_change", payment.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a mail or live-agent phone payment",
            "form": form,
            "duplicates": duplicates,
            "opts": self.model._meta,
            "fees": FeeSchedule.objects.order_by("channel"),
        }
        return TemplateResponse(request, "admin/billing/record_payment.html", context)


class FeeScheduleAdminForm(HardenedFormMixin, forms.ModelForm):
    fee = AmountField(label="Fee", help_text="Dollars and cents, for example 2.50.")

    class Meta:
        model = FeeSchedule
        fields = ["fee"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["fee"] = format_cents(self.instance.fee_cents, currency=False)

    def clean_fee(self):
        cents = self.cleaned_data["fee"]
        try:
            services.fee_schedule_check(channel=self.instance.channel, fee_cents=cents)
        except services.PaymentError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cents


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    form = FeeScheduleAdminForm
    list_display = ["channel", "fee", "cap", "updated"]
    ordering = ["channel"]
    fee = money_column("fee_cents", "fee")
    updated = time_column("updated_at", "updated")

    @admin.display(description="FCC cap")
    def cap(self, obj):
        return format_cents(FEE_CAPS_CENTS[Channel(obj.channel)])

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.fee_schedule_update(row=obj, fee_cents=form.cleaned_data["fee"])


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event_type", "received", "processed", "attempts", "parked", "error"]
    # "Parked at: not empty" is the work queue: events that failed too often for the automatic retry.
    list_filter = [
        "event_type",
        ("processed_at", admin.EmptyFieldListFilter),
        ("parked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["event_id"]
    ordering = ["-received_at", "-id"]
    actions = ["process_now"]
    received = time_column("received_at", "received")
    processed = time_column("processed_at", "processed")
    parked = time_column("parked_at", "parked")

    @admin.display(description="last error")
    def error(self, obj):
        return format_html("<span>{}</span>", obj.last_error[:80]) if obj.last_error else ""

    def has_process_permission(self, request):
        return request.user.has_perm("billing.process_stripeevent")

    @admin.action(permissions=["process"], description="Process now")
    def process_now(self, request, queryset):
        done = sum(webhooks.stripe_event_process(event_pk=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} event(s) processed.", messages.SUCCESS)


class DisputeResolveForm(HardenedFormMixin, forms.Form):
    note = forms.CharField(max_length=500, label="Note for staff")


class StripeDisputeStatus(models.TextChoices):
    """Stripe's dispute statuses, as stored from its events, in words."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response", "Inquiry: needs a response"
    WARNING_UNDER_REVIEW = "warning_under_review", "Inquiry: under review"
    WARNING_CLOSED = "warning_closed", "Inquiry: closed"
    NEEDS_RESPONSE = "needs_response", "Needs a response (evidence due)"
    UNDER_REVIEW = "under_review", "Under review by the bank"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class StripeDisputeReason(models.TextChoices):
    """The bank's reasons Stripe reports for a dispute, in words."""

    BANK_CANNOT_PROCESS = "bank_cannot_process", "Bank cannot process"
    CHECK_RETURNED = "check_returned", "Check returned"
    CREDIT_NOT_PROCESSED = "credit_not_processed", "Credit not processed"
    CUSTOMER_INITIATED = "customer_initiated", "Customer initiated"
    DEBIT_NOT_AUTHORIZED = "debit_not_authorized", "Debit not authorized"
    DUPLICATE = "duplicate", "Duplicate charge"
    FRAUDULENT = "fraudulent", "Fraudulent"
    GENERAL = "general", "General"
    INCORRECT_ACCOUNT_DETAILS = "incorrect_account_details", "Incorrect account details"
    INSUFFICIENT_FUNDS = "insufficient_funds", "Insufficient funds"
    PRODUCT_NOT_RECEIVED = "product_not_received", "Product not received"
    PRODUCT_UNACCEPTABLE = "product_unacceptable", "Product unacceptable"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"
    UNRECOGNIZED = "unrecognized", "Unrecognized"


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Chargebacks: the amount is held in disputes while open. Stripe's closing event resolves a dispute;
    staff may resolve it here too (won: back to card clearing; lost: a loss to FamilyLine). A dispute
    that matches no paid payment of ours, or asks more than it took, is parked with its reason and
    nothing posted: staff compare it with Stripe's record."""

    code_labels = {"reason": StripeDisputeReason, "stripe_status": StripeDisputeStatus}

    list_display = [
        "stripe_dispute_id",
        "created",
        "payment",
        "amount",
        "reason_label",
        "status",
        "parked_reason",
        "resolved",
    ]
    list_filter = ["status", "parked_reason", "reason"]
    search_fields = ["stripe_dispute_id", "stripe_charge_id", "stripe_payment_intent_id", "=payment__account__id"]
    list_select_related = ["payment"]
    ordering = ["-created_at", "-id"]
    actions = ["resolve_won", "resolve_lost"]
    amount = money_column("amount_cents", "amount")
    created = time_column("created_at", "opened")
    resolved = time_column("resolved_at", "resolved")

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.has_perm("billing.change_dispute")

    def _resolve(self, request, queryset, outcome):
        done = 0
        for dispute in queryset.filter(status=DisputeStatus.OPEN).order_by("id"):
            disputes.dispute_resolve(dispute=dispute, outcome=outcome, actor=request.user, note="Resolved by staff")
            done += 1
        self.message_user(request, f"{done} dispute(s) marked {outcome}.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Mark won (release the amount to card clearing)")
    def resolve_won(self, request, queryset):
        self._resolve(request, queryset, DisputeStatus.WON)

    @admin.action(permissions=["change"], description="Mark lost (a loss to FamilyLine, never the family's)")
    def resolve_lost(self, request, queryset):
        self._resolve(request, queryset, DisputeStatus.LOST)


class RefundReductionInline(ReadOnlyInline):
    model = RefundReduction
    fields = ["cause", "amount", "entry", "created"]
    amount = money_column("amount_cents", "amount")
    created = time_column("created_at", "reduced")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are created by closing an account, or give back what a single call did not use. Staff
    mark a pending check refund sent here (with its check number, mailed to the address shown), which
    posts refunds payable to mail clearing and emails the holder. A check refund of an account that
    received a payment staff recorded in the last 30 days needs a second staff member's approval
    first (billing or supervisor group, who recorded none of them). Charges reported after the close
    may have reduced a refund not yet sent (its reductions below)."""

    list_display = [
        "id",
        "created",
        "account",
        "single_call",
        "method",
        "amount",
        "status",
        "approval",
        "payment",
        "check_number",
    ]
    list_filter = ["status", "method", "approval_needed", "created_at"]
    search_fields = ["=id", "=account__id", "account__holder__email", "check_number", "stripe_refund_id"]
    list_select_related = ["account__holder", "payment", "approved_by", "single_call"]
    ordering = ["-created_at", "-id"]
    fields = (
        "account",
        "single_call",
        "mailing_address",
        "payment",
        "method",
        "amount",
        "status",
        "approval",
        "stripe_refund_id",
        "check_number",
        "failure_message",
        "recorded_by",
        "entry",
        "sent_entry",
        "created",
        "succeeded",
    )
    readonly_fields = fields
    inlines = [RefundReductionInline]
    actions = ["approve_check_refund", "mark_check_sent", "address_from_profile", "retry_card_refund"]
    amount = money_column("amount_cents", "amount")
    created = time_column("created_at", "created")
    succeeded = time_column("succeeded_at", "sent")

    @admin.display(description="second approval")
    def approval(self, obj):
        if not obj.approval_needed:
            return "-"
        if obj.approved_by_id is None:
            return "needed"
        return f"approved by {obj.approved_by.email}"

    def has_change_permission(self, request, obj=None):
        # The list's actions need it; the form itself stays read-only (every field is).
        return obj is None and request.user.has_perm("billing.change_refund")

    @admin.action(permissions=["change"], description="Approve check refunds (second staff member)")
    def approve_check_refund(self, request, queryset):
        done = 0
        for refund in queryset.filter(method=RefundMethod.CHECK).order_by("id"):
            try:
                refunds.refund_check_approve(refund=refund, actor=request.user)
                done += 1
            except refunds.RefundError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if done:
            self.message_user(request, f"Approved {done} check refund(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Take the mailing address from the holder's profile")
    def address_from_profile(self, request, queryset):
        done = 0
        for refund in queryset.filter(status=RefundStatus.NEEDS_ADDRESS).order_by("id"):
            try:
                refunds.refund_check_address_from_profile(refund=refund)
                done += 1
            except refunds.RefundError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"{done} check refund(s) now have a mailing address.", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Mark check sent (enter check numbers)")
    def mark_check_sent(self, request, queryset):
        pending = list(queryset.filter(method=RefundMethod.CHECK, status="pending").select_related("account__holder"))
        if not pending:
            self.message_user(request, "Select pending check refunds.", messages.WARNING)
            return None
        if "apply" in request.POST:
            done = 0
            for refund in pending:
                number = request.POST.get(f"check_number_{refund.pk}", "")
                try:
                    refunds.refund_check_sent_record(refund=refund, check_number=number, actor=request.user)
                    done += 1
                except refunds.RefundError as exc:
                    self.message_user(request, f"Refund #{refund.pk}: {exc.message}", messages.WARNING)
            self.message_user(
                request, f"Marked {done} check refund(s) sent; the holders were emailed.", messages.SUCCESS
            )
            return None
        return TemplateResponse(
            request,
            "admin/billing/check_sent.html",
            {
                **self.admin_site.each_context(request),
                "title": "Mark check refunds sent",
                "rows": [(refund, refund.mailing_address) for refund in pending],
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(permissions=["change"], description="Send pending card refunds to Stripe again")
    def retry_card_refund(self, request, queryset):
        done = 0
        for refund in queryset.filter(method=RefundMethod.CARD, status="pending").order_by("id"):
            if refund.single_call_id is not None:  # back to the card of a single call's payment
                done += single_call.single_call_refund_send(refund_id=refund.pk).status != "pending"
                continue
            done += refunds.refund_card_send(refund=refund).status != "pending"
        self.message_user(request, f"{done} card refund(s) sent or moved to a check.", messages.SUCCESS)
