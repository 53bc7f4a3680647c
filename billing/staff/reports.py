"""Monthly reports for staff: call charges and taxes by facility, fees and payments by channel,
refunds, and single calls (paid by card on the spot, held on the single calls account until charged
or refunded). Each total is computed from the records themselves (call records, payment and refund rows)
and compared with what the ledger posted for the same month, to the cent; a difference is shown."""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from billing.ledger.money import format_cents
from billing.payments.models import Channel, Payment, Refund
from calls.models import CallRecord


@dataclass(frozen=True)
class Check:
    """One total from the records beside the ledger's."""

    label: str
    records_cents: int
    ledger_cents: int

    @property
    def difference_cents(self) -> int:
        return self.records_cents - self.ledger_cents


@dataclass
class MonthlyReport:
    month: date
    calls: list[Mapping[str, Any]] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    refunds: list[Mapping[str, Any]] = field(default_factory=list)
    # Single calls: what callers paid, and what went back to their cards (no fee, no account).
    single_call_payments: dict = field(default_factory=dict)
    single_call_refunds: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ties(self) -> bool:
        return all(check.difference_cents == 0 for check in self.checks)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first and next month's first moment in the site's time zone."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    zone = timezone.get_current_timezone()
    return datetime.combine(first, time(), zone), datetime.combine(following, time(), zone)


def monthly_report(*, month: date) -> MonthlyReport:
    """The report of the month containing `month` (entries posted in that month, local time)."""
    start, end = month_bounds(month)
    report = MonthlyReport(month=month.replace(day=1))
    in_month = {"entry__created_at__gte": start, "entry__created_at__lt": end}
    calls = CallRecord.objects.filter(**in_month).values("facility__name").order_by("facility__name")
    report.calls = list(calls.annotate(calls=Count("id"), charge_cents=Sum("charge_cents"), tax_cents=Sum("tax_cents")))
    payments = Payment.objects.filter(**in_month, account__isnull=False).values("channel").order_by("channel")
    report.payments = [
        {**row, "channel_label": Channel(row["channel"]).label}
        for row in payments.annotate(payments=Count("id"), amount_cents=Sum("amount_cents"), fee_cents=Sum("fee_cents"))
    ]
    refunds = Refund.objects.filter(**in_month, account__isnull=False).values("method").order_by("method")
    report.refunds = list(refunds.annotate(refunds=Count("id"), amount_cents=Sum("amount_cents")))
    count_and_sum = {"count": Count("id"), "amount_cents": Sum("amount_cents")}
    report.single_call_payments = Payment.objects.filter(**in_month, single_call__isnull=False).aggregate(
        **count_and_sum
    )
    report.single_call_refunds = Refund.objects.filter(**in_month, single_call__isnull=False).aggregate(**count_and_sum)
    report.checks = _checks(report, start, end)
    return report


def _checks(report: MonthlyReport, start: datetime, end: datetime) -> list[Check]:
    call_totals = ledger.totals_between(start=start, end=end, kinds=[EntryKind.CALL])
    payment_totals = ledger.totals_between(start=start, end=end, kinds=[EntryKind.PAYMENT])
    refund_totals = ledger.totals_between(start=start, end=end, kinds=[EntryKind.REFUND])
    revenue, tax, fees, single_calls = (
        f"system:{code}"
        for code in (
            SystemAccount.CALL_REVENUE,
            SystemAccount.TAX_PAYABLE,
            SystemAccount.FEE_REVENUE,
            SystemAccount.SINGLE_CALLS,
        )
    )
    return [
        Check("Call charges", sum(r["charge_cents"] for r in report.calls), call_totals.get(revenue, 0)),
        Check("Call taxes", sum(r["tax_cents"] for r in report.calls), call_totals.get(tax, 0)),
        Check(
            "Payments added to balances",
            sum(r["amount_cents"] for r in report.payments),
            payment_totals.get("accounts", 0),
        ),
        Check("Payment fees", sum(r["fee_cents"] for r in report.payments), payment_totals.get(fees, 0)),
        Check(
            "Refunds taken from balances",
            sum(r["amount_cents"] for r in report.refunds),
            -refund_totals.get("accounts", 0),
        ),
        Check(
            "Single calls paid",
            report.single_call_payments.get("amount_cents") or 0,
            payment_totals.get(single_calls, 0),
        ),
        Check(
            "Single calls refunded",
            report.single_call_refunds.get("amount_cents") or 0,
            -refund_totals.get(single_calls, 0),
        ),
    ]


def monthly_report_csv(*, report: MonthlyReport) -> str:
    """The report as CSV (dollars), one section after another, then the ties with the ledger."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"FamilyLine monthly report {report.month:%Y-%m}"])
    writer.writerow(["Call charges and taxes by facility"])
    writer.writerow(["Facility", "Calls", "Charges", "Taxes"])
    for row in report.calls:
        name = _text(row["facility__name"])
        writer.writerow([name, row["calls"], _d(row["charge_cents"]), _d(row["tax_cents"])])
    writer.writerow(["Payments and fees by channel"])
    writer.writerow(["Channel", "Payments", "Amount", "Fees"])
    for row in report.payments:
        writer.writerow([row["channel_label"], row["payments"], _d(row["amount_cents"]), _d(row["fee_cents"])])
    writer.writerow(["Refunds"])
    writer.writerow(["Method", "Refunds", "Amount"])
    for row in report.refunds:
        writer.writerow([row["method"], row["refunds"], _d(row["amount_cents"])])
    writer.writerow(["Single calls"])
    writer.writerow(["", "Count", "Amount"])
    for label, row in (("Paid", report.single_call_payments), ("Refunded", report.single_call_refunds)):
        writer.writerow([label, row.get("count") or 0, _d(row.get("amount_cents") or 0)])
    writer.writerow(["Ties with the ledger"])
    writer.writerow(["Total", "From records", "From the ledger", "Difference"])
    for check in report.checks:
        writer.writerow([check.label, _d(check.records_cents), _d(check.ledger_cents), _d(check.difference_cents)])
    return out.getvalue()


# A spreadsheet reads a cell starting with one of these as a formula (OWASP: CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A name staff typed (a facility's), as a spreadsheet shows it, never as a formula: one starting
    like a formula gets a leading apostrophe, as the families' exports do (calls.views.csv_cell)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _d(cents: int) -> str:
    return format_cents(cents or 0, currency=False).replace(",", "")
