"""Staff pages of reconciliation: the monthly runs and the differences they found."""

from datetime import date

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from billing.staff import reconciliation, reports
from billing.staff.models import ReconciliationDifference, ReconciliationRun
from config.admin_base import ReadOnlyAdmin, ReadOnlyInline, code_column, money_column, time_column


class DifferenceKind(models.TextChoices):
    """The kinds of difference the reconciliation records, in words."""

    CARD_CLEARING_TOTAL = "card_clearing_total", "Card clearing total differs from Stripe's net"
    STRIPE_CHARGE_UNKNOWN = "stripe_charge_unknown", "Stripe charge we have no payment for"
    PAYMENT_MISSING_AT_STRIPE = "payment_missing_at_stripe", "Payment missing at Stripe"
    PAYMENT_AMOUNT_MISMATCH = "payment_amount_mismatch", "Payment amount differs"
    PAYMENT_STATUS_MISMATCH = "payment_status_mismatch", "Payment status differs"
    STRIPE_REFUND_UNKNOWN = "stripe_refund_unknown", "Stripe refund we have no refund for"
    REFUND_MISSING_AT_STRIPE = "refund_missing_at_stripe", "Refund missing at Stripe"
    REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch", "Refund amount differs"
    REFUND_STATUS_MISMATCH = "refund_status_mismatch", "Refund status differs"


class DifferenceInline(ReadOnlyInline):
    model = ReconciliationDifference
    fields = ["kind_label", "payment", "refund", "stripe_id", "ours", "stripes", "suggested_action"]
    kind_label = code_column("kind", DifferenceKind, "kind")


class ReconciliationPermissionMixin:
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.run_reconciliation")

    def has_module_permission(self, request):
        return request.user.has_perm("billing.run_reconciliation")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReconciliationPermissionMixin, ReadOnlyAdmin):
    """The reconciliation with Stripe: each run and its differences (zero is the expected state).
    "Run now" compares again; a daily task runs it too. The monthly report is reached from here."""

    list_display = [
        "__str__",
        "finished",
        "payments_checked",
        "refunds_checked",
        "stripe_net",
        "ledger_net",
        "found",
        "error",
    ]
    ordering = ["-started_at", "-id"]
    inlines = [DifferenceInline]
    change_list_template = "admin/billing/reconciliation_change_list.html"
    fields = ("started", "finished", "payments_checked", "refunds_checked", "stripe_net", "ledger_net", "error")
    readonly_fields = fields
    started = time_column("started_at", "started")
    finished = time_column("finished_at", "finished")
    stripe_net = money_column("stripe_net_cents", "Stripe: charged less refunded")
    ledger_net = money_column("ledger_card_clearing_cents", "card clearing (Stripe's share)")

    @admin.display(description="differences")
    def found(self, obj):
        return obj.differences.count()

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("run/", wrap(self.run_view), name="billing_reconciliation_run"),
            path("monthly-report/", wrap(self.report_view), name="billing_monthly_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        latest = reconciliation.reconciliation_latest()
        extra = {
            "latest": latest,
            "latest_differences": list(latest.differences.select_related("payment", "refund")) if latest else [],
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def run_view(self, request):
        if not request.user.has_perm("billing.run_reconciliation") or request.method != "POST":
            raise PermissionDenied
        run = reconciliation.reconciliation_run()
        found = run.differences.count()
        level = messages.SUCCESS if not found and not run.error else messages.WARNING
        self.message_user(request, run.error or f"Reconciliation done: {found} difference(s).", level)
        return redirect("admin:billing_reconciliationrun_changelist")

    def report_view(self, request):
        if not request.user.has_perm("billing.view_reports"):
            raise PermissionDenied
        month = _month_from(request.GET.get("month", ""))
        report = reports.monthly_report(month=month)
        if request.GET.get("format") == "csv":
            response = HttpResponse(reports.monthly_report_csv(report=report), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="familyline-report-{month:%Y-%m}.csv"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": f"Monthly report {month:%B %Y}",
            "report": report,
            "month_value": f"{month:%Y-%m}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/monthly_report.html", context)


def _month_from(text: str) -> date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return timezone.localdate().replace(day=1)


@admin.register(ReconciliationDifference)
class ReconciliationDifferenceAdmin(ReconciliationPermissionMixin, ReadOnlyAdmin):
    code_labels = {"kind": DifferenceKind}
    list_display = ["kind_label", "run", "payment", "refund", "stripe_id", "ours", "stripes", "suggested_action"]
    list_filter = ["kind", "run"]
    list_select_related = ["run", "payment", "refund"]
    search_fields = ["stripe_id", "=payment__id", "=refund__id"]
