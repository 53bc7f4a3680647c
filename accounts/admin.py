from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from billing import ledger
from billing.closing import activity
from billing.closing import services as refunds
from billing.models import InactivityNotice, Payment
from billing.money import format_cents
from config.admin_base import ReadOnlyInline

from . import (
    direct_bill_admin,  # noqa: F401  (registers the Direct Bill application queue)
    services,
)
from .forms import ReasonForm
from .models import AccountEvent, CallingAccount, PhoneNumber, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "state", "is_staff", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "preferred_language"]}),
        ("Postal address", {"fields": ["address_line1", "address_line2", "city", "state", "postal_code"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    fields = ["number", "label", "line_type", "is_active", "added_at", "removed_at"]
    readonly_fields = ["number", "is_active", "added_at", "removed_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Adding goes through the service (one active number per open account, audit row).
        return False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["link", "created_at", "channel", "method", "amount_cents", "fee_cents", "status", "reference"]
    ordering = ["-created_at", "-id"]

    @admin.display(description="payment")
    def link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:billing_payment_change", args=[obj.pk]), obj.pk)


class InactivityNoticeInline(ReadOnlyInline):
    model = InactivityNotice
    fields = ["for_last_activity_date", "sent_at", "balance", "refund_date", "created_at"]
    ordering = ["-for_last_activity_date", "-id"]
    verbose_name_plural = "inactivity notices"

    @admin.display(description="balance told")
    def balance(self, obj):
        return "-" if obj.balance_cents is None else format_cents(obj.balance_cents)


class AccountEventInline(ReadOnlyInline):
    model = AccountEvent
    fields = ["created_at", "action", "actor", "reason", "data"]
    ordering = ["-created_at", "-id"]


def _with_reason(
    modeladmin, request, queryset: QuerySet, *, title: str, action: str, service
) -> TemplateResponse | None:
    """An action that asks staff for a reason first (an intermediate page), then calls `service`."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done = 0
        for account in queryset.order_by("id"):
            try:
                service(account=account, actor=request.user, reason=form.cleaned_data["reason"])
                done += 1
            except services.AccountError as exc:
                modeladmin.message_user(request, exc.message, messages.WARNING)
        modeladmin.message_user(request, f"{title}: {done} account(s).", messages.SUCCESS)
        return None
    return TemplateResponse(
        request,
        "accounts/admin_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "action": action,
            "form": form,
            "accounts": queryset.order_by("id"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


@admin.register(CallingAccount)
class CallingAccountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "holder", "kind", "status", "activates_at", "balance"]
    list_filter = ["status", "kind"]
    search_fields = ["holder__email", "holder__first_name", "holder__last_name", "phone_numbers__number", "=id"]
    list_select_related = ["holder", "ledger_account"]
    ordering = ["-created_at", "-id"]
    fields = [
        "holder",
        "kind",
        "status",
        "suspension_code",
        "activates_at",
        "activated_at",
        "credit_limit_cents",
        "balance",
        "last_activity",
        "ledger",
        "created_at",
        "closed_at",
    ]
    readonly_fields = fields
    inlines = [PhoneNumberInline, PaymentInline, InactivityNoticeInline, AccountEventInline]
    actions = ["activate_now", "suspend", "reinstate", "close"]

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Staff type numbers as they hear them: "(860) 555-0134" finds +18605550134.
        digits = "".join(ch for ch in search_term if ch.isdigit())
        if len(digits) >= 7:
            queryset |= self.model.objects.filter(phone_numbers__number__contains=digits[-10:])
            may_have_duplicates = True
        return queryset, may_have_duplicates

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="balance")
    def balance(self, obj):
        return format_cents(ledger.balance_get(account=obj))

    @admin.display(description="last activity")
    def last_activity(self, obj):
        # A payment credited or a call (a login is not activity): what the inactivity refund counts from.
        if obj.pk is None or not obj.is_prepaid:
            return "-"
        last = activity.account_last_activity_date(account=obj)
        return f"{date_format(last)} ({(timezone.localdate() - last).days} days ago)"

    @admin.display(description="ledger")
    def ledger(self, obj):
        ledger_account = getattr(obj, "ledger_account", None)
        if not ledger_account:
            return "-"
        url = reverse("admin:billing_ledgeraccount_change", args=[ledger_account.pk])
        record = reverse("admin:billing_payment_add") + f"?account={obj.pk}"
        return format_html('<a href="{}">Read-only ledger</a> · <a href="{}">Record a payment</a>', url, record)

    @admin.action(permissions=["change"], description="Activate now (skip the rest of the activation delay)")
    def activate_now(self, request, queryset):
        done = sum(
            services.account_activate(account=account, actor=request.user, reason="Activated early by staff")
            for account in queryset.order_by("id")
        )
        skipped = queryset.count() - done
        self.message_user(request, f"Activated {done} account(s).", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} account(s) were not pending activation.", messages.WARNING)

    @admin.action(permissions=["change"], description="Suspend (with a reason)")
    def suspend(self, request, queryset):
        return _with_reason(
            self, request, queryset, title="Suspend", action="suspend", service=services.account_suspend
        )

    @admin.action(permissions=["change"], description="Reinstate (with a reason)")
    def reinstate(self, request, queryset):
        return _with_reason(
            self, request, queryset, title="Reinstate", action="reinstate", service=services.account_reinstate
        )

    @admin.action(permissions=["change"], description="Close and refund the balance (with a reason)")
    def close(self, request, queryset):
        return _with_reason(self, request, queryset, title="Close", action="close", service=refunds.account_close)
