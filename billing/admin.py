from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.models import AccountStatus, CallingAccount
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline

from . import statement_admin  # noqa: F401  (registers statements, the past-due list, adjustments)
from .closing import services as refunds
from .forms import FeeScheduleForm, OfflinePaymentForm
from .models import FeeSchedule, JournalEntry, LedgerAccount, Payment, Posting, Refund, RefundMethod, StripeEvent
from .money import format_cents
from .payments import services, webhooks


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ["ledger_account", "amount_cents"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "idempotency_key", "memo"]
    list_filter = ["kind", "created_at"]
    search_fields = ["idempotency_key", "memo"]
    inlines = [PostingInline]


class AccountPostingInline(PostingInline):
    """A ledger account's lines, newest first, each with its entry (read-only)."""

    fields = ["entry", "entry_memo", "entry_created_at", "amount_cents"]
    ordering = ["-entry__created_at", "-id"]

    @admin.display(description="memo")
    def entry_memo(self, obj):
        return obj.entry.memo

    @admin.display(description="at")
    def entry_created_at(self, obj):
        return obj.entry.created_at

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("entry")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "balance_cents"]
    search_fields = ["code", "name"]
    inlines = [AccountPostingInline]

    def get_inlines(self, request, obj):
        # System accounts take a posting from nearly every entry: too many lines for one page.
        return self.inlines if obj is not None and obj.calling_account_id else []


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are read-only; "Add payment" records a mail or live-agent payment through the
    payment service, which posts it to the ledger."""

    list_display = ["id", "created_at", "account", "channel", "method", "amount", "fee", "status", "reference"]
    list_filter = ["status", "channel", "method"]
    search_fields = ["=id", "account__holder__email", "reference", "stripe_payment_intent_id", "=account__id"]
    list_select_related = ["account__holder"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [
        "account",
        "channel",
        "method",
        "amount",
        "fee",
        "status",
        "reference",
        "card_last4",
        "stripe_payment_intent_id",
        "stripe_setup_intent_id",
        "failure_message",
        "recorded_by",
        "entry",
        "created_at",
        "succeeded_at",
    ]
    fields = readonly_fields

    @admin.display(description="amount")
    def amount(self, obj):
        return format_cents(obj.amount_cents)

    @admin.display(description="fee")
    def fee(self, obj):
        return format_cents(obj.fee_cents)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        # This view replaces Django's add view, so it must check the permission Django would have.
        if not self.has_add_permission(request):
            raise PermissionDenied
        accounts = CallingAccount.objects.exclude(status=AccountStatus.CLOSED).select_related("holder").order_by("id")
        initial = {"account": request.GET.get("account")} if request.GET.get("account", "").isdigit() else {}
        form = OfflinePaymentForm(request.POST or None, accounts=accounts, initial=initial)
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
                )
            except services.PaymentError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Recorded payment #{payment.pk}: {format_cents(payment.amount_cents)} to account "
                    f"#{payment.account_id} (fee {format_cents(payment.fee_cents)}).",
                    messages.SUCCESS,
                )
                return redirect("admin:billing_payment_change", payment.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a mail or live-agent phone payment",
            "form": form,
            "opts": self.model._meta,
            "fees": FeeSchedule.objects.order_by("channel"),
        }
        return TemplateResponse(request, "billing/admin_record_payment.html", context)


@admin.register(FeeSchedule)
class FeeScheduleAdmin(admin.ModelAdmin):
    form = FeeScheduleForm
    list_display = ["channel", "fee", "updated_at"]
    ordering = ["channel"]

    @admin.display(description="fee")
    def fee(self, obj):
        return format_cents(obj.fee_cents)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.fee_schedule_update(row=obj, fee_cents=form.cleaned_data["fee"])


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "event_type", "received_at", "processed_at", "attempts", "parked_at", "error"]
    # "Parked at: not empty" is the work queue: events that failed too often for the automatic retry.
    list_filter = [
        "event_type",
        ("processed_at", admin.EmptyFieldListFilter),
        ("parked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["event_id"]
    ordering = ["-received_at", "-id"]
    actions = ["process_now"]

    @admin.display(description="last error")
    def error(self, obj):
        return format_html("<span>{}</span>", obj.last_error[:80]) if obj.last_error else ""

    @admin.action(description="Process now")
    def process_now(self, request, queryset):
        done = sum(webhooks.stripe_event_process(event_pk=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{done} event(s) processed.", messages.SUCCESS)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are created by closing an account. Staff mark a pending check refund sent here (with
    its check number), which posts refunds payable to mail clearing."""

    list_display = ["id", "created_at", "account", "method", "amount", "status", "payment", "check_number"]
    list_filter = ["status", "method", "created_at"]
    search_fields = ["=id", "=account__id", "account__holder__email", "check_number", "stripe_refund_id"]
    list_select_related = ["account__holder", "payment"]
    ordering = ["-created_at", "-id"]
    fields = [
        "account",
        "payment",
        "method",
        "amount",
        "status",
        "stripe_refund_id",
        "check_number",
        "failure_message",
        "recorded_by",
        "entry",
        "sent_entry",
        "created_at",
        "succeeded_at",
    ]
    readonly_fields = fields
    actions = ["mark_check_sent", "retry_card_refund"]

    @admin.display(description="amount")
    def amount(self, obj):
        return format_cents(obj.amount_cents)

    def has_change_permission(self, request, obj=None):
        # The list's actions need it; the form itself stays read-only (every field is).
        return obj is None and request.user.has_perm("billing.change_refund")

    @admin.action(permissions=["change"], description="Mark check sent (enter check numbers)")
    def mark_check_sent(self, request, queryset):
        pending = list(queryset.filter(method=RefundMethod.CHECK, status="pending").select_related("account"))
        if not pending:
            self.message_user(request, "Select pending check refunds.", messages.WARNING)
            return None
        if "apply" in request.POST:
            done = 0
            for refund in pending:
                number = request.POST.get(f"check_number_{refund.pk}", "")
                try:
                    refunds.refund_check_mark_sent(refund=refund, check_number=number, actor=request.user)
                    done += 1
                except refunds.CloseError as exc:
                    self.message_user(request, f"Refund #{refund.pk}: {exc.message}", messages.WARNING)
            self.message_user(request, f"Marked {done} check refund(s) sent.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "billing/admin_check_sent.html",
            {
                **self.admin_site.each_context(request),
                "title": "Mark check refunds sent",
                "refunds": pending,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    @admin.action(permissions=["change"], description="Send pending card refunds to Stripe again")
    def retry_card_refund(self, request, queryset):
        done = 0
        for refund in queryset.filter(method=RefundMethod.CARD, status="pending").order_by("id"):
            done += refunds.refund_card_send(refund=refund).status != "pending"
        self.message_user(request, f"{done} card refund(s) sent or moved to a check.", messages.SUCCESS)
