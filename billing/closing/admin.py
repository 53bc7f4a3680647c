"""Staff pages of refunds: approving, sending and recording the refunds of closed accounts."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from billing.closing import notices as refund_notices
from billing.closing import services as refunds
from billing.payments import single_call
from billing.payments.models import Refund, RefundMethod, RefundReduction, RefundStatus
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, money_column, time_column


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
            except refunds.CloseError as exc:
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
            except refunds.CloseError as exc:
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
                    refund_notices.refund_check_sent_record(refund=refund, check_number=number, actor=request.user)
                    done += 1
                except refunds.CloseError as exc:
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
