"""The monthly report: call charges and taxes by facility, payments and fees by channel, refunds; each
total from the records themselves, tied to the cent with a `ledger_check`-clean ledger, and a
difference shown when there is one; CSV download."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.closing import services as closing
from billing.payments.selectors import ledger_violations
from billing.staff import reports
from calls.models import CallRecord
from tests.helpers import mail_payment, make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def month_of_activity(calls, staff, django_capture_on_commit_callbacks):
    """Two families paid by mail, made calls, and one closed (its balance refunded by check)."""
    first, second = make_account(), make_account()
    mail_payment(first, 2000, staff)
    mail_payment(second, 1500, staff)
    calls.complete(number=first.test_number, minutes=4)
    calls.complete(number=first.test_number, minutes=7)
    calls.complete(number=second.test_number, minutes=3)
    with django_capture_on_commit_callbacks(execute=True):
        closing.account_close(account=second, actor=second.holder, reason="Moving")
    return first, second


def test_the_monthly_report_ties_to_a_clean_ledger_to_the_cent(month_of_activity, calls):
    report = reports.monthly_report(month=timezone.localdate())
    assert ledger_violations() == []
    assert report.ties, [(c.label, c.records_cents, c.ledger_cents) for c in report.checks]
    records = CallRecord.objects.all()
    assert [row["calls"] for row in report.calls] == [3]
    assert report.calls[0]["charge_cents"] == sum(r.charge_cents for r in records) == 14 * 21
    assert report.calls[0]["tax_cents"] == sum(r.tax_cents for r in records)
    assert [(r["channel"], r["payments"], r["amount_cents"], r["fee_cents"]) for r in report.payments] == [
        ("mail", 2, 3500, 0)
    ]
    assert [(r["method"], r["amount_cents"]) for r in report.refunds] == [("check", 1500 - 3 * 21 - 4)]
    assert {check.label: check.difference_cents for check in report.checks} == {
        "Call charges": 0,
        "Call taxes": 0,
        "Payments added to balances": 0,
        "Payment fees": 0,
        "Refunds taken from balances": 0,
        "Single calls paid": 0,
        "Single calls refunded": 0,
    }


def test_a_difference_is_shown_not_hidden(month_of_activity, admin_client):
    record = CallRecord.objects.order_by("id").first()
    CallRecord.objects.filter(pk=record.pk).update(charge_cents=record.charge_cents + 7)
    url = reverse("admin:billing_monthly_report")
    page = admin_client.get(url, {"month": timezone.localdate().strftime("%Y-%m")}).content.decode()
    assert "Some totals differ from the ledger" in page and "$0.07" in page
    download = admin_client.get(url, {"month": timezone.localdate().strftime("%Y-%m"), "format": "csv"})
    assert download["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert ["Call charges", f"{(14 * 21 + 7) / 100:.2f}", f"{14 * 21 / 100:.2f}", "0.07"] in rows
    assert any(row and row[0] == "Mail (check or money order)" for row in rows)


def test_a_facility_name_that_looks_like_a_formula_reaches_the_csv_as_text(month_of_activity, calls, admin_client):
    """Staff open the report in a spreadsheet: a facility name starting like a formula gets a leading
    apostrophe (OWASP's CSV-injection rule), as in the families' exports; amounts stay numbers."""
    calls.facility.name = '=HYPERLINK("http://evil.example","Open")'
    calls.facility.save(update_fields=["name"])
    url = reverse("admin:billing_monthly_report")
    download = admin_client.get(url, {"month": timezone.localdate().strftime("%Y-%m"), "format": "csv"})
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    [facility_row] = [row for row in rows if row and "HYPERLINK" in row[0]]
    assert facility_row == ["'" + calls.facility.name, "3", f"{14 * 21 / 100:.2f}", facility_row[3]]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
