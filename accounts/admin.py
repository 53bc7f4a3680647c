from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule

from billing.closing import activity
from billing.closing import services as refunds
from billing.closing.models import InactivityNotice
from billing.ledger import kernel as ledger
from billing.ledger.money import format_cents
from billing.payments.models import Payment
from calls.models import CallRecord, InmateDebitSponsorship
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, local_time, money_column, time_column

from . import (
    direct_bill_admin,  # noqa: F401  (registers the Direct Bill application queue)
    phone_access,
    services,
    text_admin,  # noqa: F401  (registers the texts staff read)
)
from .forms import ReasonForm
from .models import AccountEvent, CallingAccount, OutboxMessage, PhoneNumber, User
from .outbox import MAX_ATTEMPTS

# Schedules staff never edit (beat's schedule lives in settings): kept off the admin home.
for _model in (ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

RECENT_ROWS = 20
# Fields of the user form that grant powers: only a superuser changes them.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "state", "is_staff", "staff_roles", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "preferred_language"]}),
        ("Postal address", {"fields": ["address_line1", "address_line2", "city", "state", "postal_code"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    filter_horizontal = ["groups", "user_permissions"]

    @admin.display(description="roles (groups)")
    def staff_roles(self, obj):
        return ", ".join(group.name for group in obj.groups.all()) or "-"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def has_change_permission(self, request, obj=None):
        # A superuser's account (its email, its password) is changed by superusers only: otherwise
        # whoever may edit users could take it over.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # Who may do what is a superuser's decision: anyone else who may edit users (a supervisor
        # fixing a name or an address) sees these fields but cannot change them, on any user, their
        # own included. A read-only field is left out of the form, so a forged POST changes nothing.
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in SUPERUSER_ONLY_FIELDS if name not in readonly]
        return readonly


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    fields = ["number", "label", "line_type", "is_active", "added", "removed"]
    readonly_fields = ["number", "is_active", "added", "removed"]
    added = time_column("added_at", "added")
    removed = time_column("removed_at", "removed")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # Adding goes through the service (one active number per open account, audit row).
        return False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["link", "created", "channel", "method", "amount", "fee", "status", "reference"]
    ordering = ["-created_at", "-id"]
    amount = money_column("amount_cents", "amount")
    fee = money_column("fee_cents", "fee")
    created = time_column("created_at", "created")

    @admin.display(description="payment")
    def link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:billing_payment_change", args=[obj.pk]), obj.pk)


class InactivityNoticeInline(ReadOnlyInline):
    model = InactivityNotice
    fields = ["for_last_activity_date", "sent", "balance", "refund_date"]
    ordering = ["-for_last_activity_date", "-id"]
    verbose_name_plural = "inactivity notices"
    sent = time_column("sent_at", "sent")

    @admin.display(description="balance told")
    def balance(self, obj):
        return "-" if obj.balance_cents is None else format_cents(obj.balance_cents)


class AccountEventInline(ReadOnlyInline):
    model = AccountEvent
    fields = ["created", "action", "actor", "reason", "data"]
    ordering = ["-created_at", "-id"]
    created = time_column("created_at", "at")


def _activate_early(*, account, actor, reason: str) -> None:
    if not services.account_activate(account=account, actor=actor, reason=reason):
        raise services.AccountError(f"{account} was not pending activation.")


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
    list_display = ["__str__", "holder", "kind", "status", "activates", "balance"]
    list_filter = ["status", "kind"]
    search_fields = ["holder__email", "holder__first_name", "holder__last_name", "phone_numbers__number", "=id"]
    list_select_related = ["holder", "ledger_account"]
    ordering = ["-created_at", "-id"]
    fields = (
        "holder",
        "kind",
        "status",
        "suspension_code",
        "activates",
        "activated",
        "credit_limit",
        "balance",
        "last_activity",
        "ledger",
        "recent_calls",
        "sponsorships",
        "phone",
        "created",
        "closed",
    )
    readonly_fields = fields
    activates = time_column("activates_at", "activates at")
    activated = time_column("activated_at", "activated at")
    created = time_column("created_at", "opened")
    closed = time_column("closed_at", "closed")
    credit_limit = money_column("credit_limit_cents", "credit limit")
    inlines = [PhoneNumberInline, PaymentInline, InactivityNoticeInline, AccountEventInline]
    actions = ["activate_now", "suspend", "reinstate", "close", "reset_phone_pin"]

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
        url = reverse("admin:ledger_ledgeraccount_change", args=[ledger_account.pk])
        record = reverse("admin:billing_payment_add") + f"?account={obj.pk}"
        return format_html('<a href="{}">Read-only ledger</a> · <a href="{}">Record a payment</a>', url, record)

    @admin.display(description="recent calls")
    def recent_calls(self, obj):
        calls = CallRecord.objects.filter(account=obj).select_related("facility", "inmate")
        rows = [
            (
                reverse("admin:calls_callrecord_change", args=[call.pk]),
                local_time(call.started_at),
                call.facility.name,
                call.inmate.full_name,
                call.dialed_number.as_national,
                call.billable_minutes,
                format_cents(call.total_cents),
            )
            for call in calls.order_by("-started_at", "-id")[:RECENT_ROWS]
        ]
        if not rows:
            return "No calls yet."
        more = reverse("admin:calls_callrecord_changelist") + f"?account__id__exact={obj.pk}"
        items = format_html_join("", '<li><a href="{}">{}</a>: {}, {} to {}, {} min, {}</li>', rows)
        return format_html('<ul>{}</ul><a href="{}">All calls of this account</a>', items, more)

    @admin.display(description="inmate debit sponsorships")
    def sponsorships(self, obj):
        found = InmateDebitSponsorship.objects.filter(account=obj).select_related("inmate__facility")
        rows = [
            (
                sponsorship.inmate.full_name,
                sponsorship.inmate.inmate_number,
                sponsorship.inmate.facility.name,
                local_time(sponsorship.started_at),
                f"ended {local_time(sponsorship.ended_at)}" if sponsorship.ended_at else "in force",
                "no cap"
                if sponsorship.monthly_cap_cents is None
                else f"cap {format_cents(sponsorship.monthly_cap_cents)}/month",
            )
            for sponsorship in found.order_by("-started_at", "-id")[:RECENT_ROWS]
        ]
        if not rows:
            return "None."
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} (#{}, {}): since {}, {}, {}</li>", rows))

    @admin.display(description="phone menu")
    def phone(self, obj):
        if obj.pk is None:
            return "-"
        pin = "PIN set" if phone_access.phone_pin_is_set(account=obj) else "no PIN"
        locks = phone_access.phone_locks_active(account=obj)
        if not locks:
            return f"{pin}; no number locked"
        return f"{pin}; locked: " + ", ".join(
            f"{lock.calling_number} until {local_time(lock.locked_until)}" for lock in locks
        )

    @admin.action(permissions=["change"], description="Reset the phone PIN (the holder is emailed; with a reason)")
    def reset_phone_pin(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title="Reset the phone PIN",
            action="reset_phone_pin",
            service=phone_access.phone_pin_reset,
        )

    @admin.action(permissions=["change"], description="Activate now (with a reason)")
    def activate_now(self, request, queryset):
        return _with_reason(
            self, request, queryset, title="Activate now", action="activate_now", service=_activate_early
        )

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


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("failing", f"Failing ({MAX_ATTEMPTS} attempts or more)"), ("pending", "Pending"), ("done", "Done")]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(done_at__isnull=True, attempts__gte=MAX_ATTEMPTS)
        if self.value() == "pending":
            return queryset.filter(done_at__isnull=True)
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Work after commit (emails, card refunds, Stripe events): "Failing" lists what the sweep gave up on."""

    list_display = ["id", "kind", "created", "available", "attempts", "done", "error"]
    list_filter = [OutboxStateFilter, "kind"]
    search_fields = ["kind", "=id"]
    ordering = ["-created_at", "-id"]
    created = time_column("created_at", "created")
    available = time_column("available_at", "next try")
    done = time_column("done_at", "done")

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error[:120]
