"""Staff side of Direct Bill: the application queue (approve with a credit limit, decline with a
reason) and audited credit limit changes. Each view validates a form and calls one service."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from billing.ledger.money import format_cents
from config.admin_base import local_time, time_column

from .direct_bill import credit
from .direct_bill import services as applications
from .direct_bill_forms import ApplicationApproveForm, ApplicationDeclineForm, CreditLimitChangeForm
from .models import AccountEvent, DirectBillApplication


class PendingFirstFilter(admin.SimpleListFilter):
    """The queue: pending applications by default, oldest first."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*DirectBillApplication.Status.choices, ("all", "All")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or DirectBillApplication.Status.PENDING) == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or DirectBillApplication.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(DirectBillApplication)
class DirectBillApplicationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "applicant", "state", "status", "limit", "created", "decided"]
    list_filter = [PendingFirstFilter, "state", "provider"]
    search_fields = ["legal_name", "applicant__email", "postal_code"]
    ordering = ["created_at", "id"]
    list_select_related = ["applicant", "account"]
    change_form_template = "direct_bill/admin/application_change_form.html"
    fields = (
        "applicant",
        "status",
        "legal_name",
        "date_of_birth",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "ssn_display",
        "consented",
        "provider_shown",
        "limit",
        "decision_reason",
        "decided",
        "decided_by",
        "account_link",
        "credit_limit_history",
    )
    readonly_fields = fields
    created = time_column("created_at", "applied")
    decided = time_column("decided_at", "decided")
    consented = time_column("consented_at", "consented")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="credit check")
    def provider_shown(self, obj):
        return credit.provider_label(obj.provider) if obj.provider else "-"

    @admin.display(description="SSN")
    def ssn_display(self, obj):
        return f"***-**-{obj.ssn_last4}" if obj.ssn_last4 else "not given"

    @admin.display(description="credit limit")
    def limit(self, obj):
        return "" if obj.credit_limit_cents is None else format_cents(obj.credit_limit_cents)

    @admin.display(description="account")
    def account_link(self, obj):
        if obj.account_id is None:
            return "-"
        account = obj.account
        return format_html(
            "{} · {} · current limit {}",
            account,
            account.get_status_display(),
            format_cents(account.credit_limit_cents),
        )

    @admin.display(description="credit limit changes")
    def credit_limit_history(self, obj):
        if obj.account_id is None:
            return "-"
        events = AccountEvent.objects.filter(
            account_id=obj.account_id, action=AccountEvent.Action.CREDIT_LIMIT_CHANGED
        ).select_related("actor")
        rows = [
            (
                local_time(event.created_at),
                "none" if event.data.get("from") is None else format_cents(event.data["from"]),
                format_cents(event.data.get("to") or 0),
                event.actor or "automatic decision",
                event.reason,
            )
            for event in events.order_by("created_at", "id")
        ]
        if not rows:
            return "-"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {} → {} by {} ({})</li>", rows))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", wrap(self.approve_view), name="accounts_directbillapplication_approve"),
            path("<int:pk>/decline/", wrap(self.decline_view), name="accounts_directbillapplication_decline"),
            path(
                "<int:pk>/credit-limit/",
                wrap(self.credit_limit_view),
                name="accounts_directbillapplication_credit_limit",
            ),
            *super().get_urls(),
        ]

    def _action_view(self, request, pk, *, form_class, title, submit, perform, initial=None):
        if not self.has_change_permission(request):
            raise PermissionDenied
        application = get_object_or_404(DirectBillApplication.objects.select_related("applicant", "account"), pk=pk)
        form = form_class(request.POST or None, initial=initial or {})
        if request.method == "POST" and form.is_valid():
            try:
                message = perform(application, form.cleaned_data)
            except applications.ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return redirect(reverse("admin:accounts_directbillapplication_change", args=[application.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "application": application,
            "form": form,
            "submit": submit,
        }
        return TemplateResponse(request, "direct_bill/admin/action_form.html", context)

    def approve_view(self, request, pk):
        def perform(application, data):
            applications.application_approve(
                application=application,
                credit_limit_cents=data["credit_limit"],
                actor=request.user,
                confirmed=data["confirm"],
            )
            return f"{application} approved at {format_cents(data['credit_limit'])}; the applicant was emailed."

        return self._action_view(
            request,
            pk,
            form_class=ApplicationApproveForm,
            title="Approve application",
            submit="Approve",
            perform=perform,
        )

    def decline_view(self, request, pk):
        def perform(application, data):
            applications.application_decline(application=application, reason=data["reason"], actor=request.user)
            return f"{application} declined; the applicant was emailed the reason."

        return self._action_view(
            request,
            pk,
            form_class=ApplicationDeclineForm,
            title="Decline application",
            submit="Decline",
            perform=perform,
        )

    def credit_limit_view(self, request, pk):
        def perform(application, data):
            if application.account is None:
                raise applications.ApplicationError("This application has no account.")
            account = applications.credit_limit_change(
                account=application.account,
                credit_limit_cents=data["credit_limit"],
                actor=request.user,
                reason=data["reason"],
                confirmed=data["confirm"],
            )
            return f"Credit limit of {account} is now {format_cents(account.credit_limit_cents)}."

        return self._action_view(
            request,
            pk,
            form_class=CreditLimitChangeForm,
            title="Change credit limit",
            submit="Change credit limit",
            perform=perform,
        )
