import io
import re

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from billing.ledger.models import JournalEntry
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.payments.models import Payment, PaymentMethod
from billing.payments.selectors import ledger_violations
from billing.statements import call_credits
from billing.statements.adjustments import adjustment_create
from billing.statements.models import Adjustment, Statement
from billing.tasks import statements_monthly_run
from calls.models import CallRecord
from tests.factories import UserFactory
from tests.helpers import add_number, balance_of, ny, open_direct_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement(calls, staff):
    with time_machine.travel(ny(2026, 9, 2, 9, 0), tick=False):
        account = open_direct_bill(state="AK")
        number = add_number(account)
    with time_machine.travel(ny(2026, 9, 20, 9, 0), tick=False):
        calls.complete(number=number, minutes=4)  # 84 + 5
    with time_machine.travel(ny(2026, 10, 1, 3, 0), tick=False):
        statements_monthly_run()
    with time_machine.travel(ny(2026, 10, 6, 20, 0), tick=False):
        calls.complete(number=number, minutes=12)  # 252 + 16
        calls.complete(number=number, minutes=7)  # 147 + 9
    with time_machine.travel(ny(2026, 10, 15, 9, 0), tick=False):
        direct_bill_mail_payment_record(
            account=account, method=PaymentMethod.CHECK, amount_cents=89, reference="chk 55", recorded_by=staff
        )
        adjustment_create(
            account=account, amount_cents=16, reason="Ticket 881", description="Poor line quality", actor=staff
        )
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    return Statement.objects.get(account=account, period_start_date="2026-10-01")


def _page_totals(html: str) -> dict:
    return dict(re.findall(r'data-summary="([a-z-]+)">(-?\$[0-9,]+\.[0-9]{2})<', html))


def test_the_pdf_opens_and_shows_the_same_totals_as_the_page(statement, client):
    client.force_login(statement.account.holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk]))
        pdf = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    assert page.status_code == 200 and pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert "attachment" in pdf["Content-Disposition"]

    totals = _page_totals(page.content.decode())
    assert totals == {
        "opening-balance": "$0.89",
        "calls": "$3.99",
        "taxes-on-calls": "$0.25",
        "payments": "-$0.89",
        "adjustments": "-$0.16",
        "closing-balance": "$4.08",
    }
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    pdf_lines = text.splitlines()
    for label, amount in [
        ("Opening balance", totals["opening-balance"]),
        ("Calls", totals["calls"]),
        ("Taxes on calls", totals["taxes-on-calls"]),
        ("Payments", totals["payments"]),
        ("Adjustments", totals["adjustments"]),
        ("Closing balance", totals["closing-balance"]),
        ("Balance due", "$4.08"),
    ]:
        # Each summary row reads back as its label followed by its amount.
        assert pdf_lines[pdf_lines.index(label) + 1] == amount, (label, amount, pdf_lines)
    assert "November 22, 2026" in text
    assert "Adjustment: Poor line quality" in " ".join(text.split())  # wrapped in its cell
    assert text.count("Oct 6, 2026") == 2  # both October 6 calls are itemized, dated as on the page
    assert "10/06/2026" not in text


def test_opening_balance_carries_the_month_before(statement):
    september = Statement.objects.get(account=statement.account, period_start_date="2026-09-01")
    assert september.closing_balance_cents == 89
    assert statement.opening_balance_cents == september.closing_balance_cents
    assert statement.payments_cents == -89  # the check that paid September, received in October


def test_statements_are_the_holders_own(statement, client):
    client.force_login(UserFactory())
    for name in ("billing:statement_detail", "billing:statement_pdf", "billing:statement_pay"):
        assert client.get(reverse(name, args=[statement.pk])).status_code == 404
    client.force_login(statement.account.holder)
    listing = client.get(reverse("billing:statement_list")).content.decode()
    assert "October 2026" in listing and "September 2026" in listing


def test_staff_see_statements_read_only_with_a_past_due_list(statement, staff, client):
    client.force_login(staff)
    change = client.get(reverse("admin:billing_statement_change", args=[statement.pk]))
    assert change.status_code == 200
    assert 'name="closing_balance_cents"' not in change.content.decode()  # no editable fields
    assert client.post(reverse("admin:billing_statement_delete", args=[statement.pk])).status_code == 403
    changelist = reverse("admin:billing_statement_changelist")
    with time_machine.travel(ny(2026, 11, 22, 12, 0), tick=False):
        before_due = client.get(changelist, {"standing": "past_due"}).content.decode()
    with time_machine.travel(ny(2026, 11, 23, 12, 0), tick=False):
        past_due = client.get(changelist, {"standing": "past_due"}).content.decode()
    link = reverse("admin:billing_statement_change", args=[statement.pk])
    assert link not in before_due
    assert link in past_due
    assert staff.email and client.get(reverse("billing:statement_pdf", args=[statement.pk])).status_code == 200


def test_staff_record_a_mail_payment_against_a_statement_without_a_fee(statement, staff, client):
    client.force_login(staff)
    url = reverse("admin:billing_statement_mail_payment", args=[statement.pk])
    too_much = client.post(url, {"method": "check", "amount": "50.00", "reference": "chk 1"})
    assert too_much.status_code == 200
    assert "at most $4.08" in too_much.content.decode()
    response = client.post(url, {"method": "money_order", "amount": "1.19", "reference": "MO-77"})
    assert response.status_code == 302
    payment = Payment.objects.get(reference="MO-77")
    assert (payment.amount_cents, payment.fee_cents, payment.channel) == (119, 0, "mail")
    assert payment.recorded_by == staff


def test_staff_adjustment_needs_a_reason_and_posts_through_the_ledger(statement, staff, client):
    account = statement.account
    client.force_login(staff)
    url = reverse("admin:billing_adjustment_add")
    no_reason = client.post(url, {"account": account.pk, "direction": "credit", "amount": "2.00", "reason": ""})
    assert no_reason.status_code == 200
    assert Adjustment.objects.count() == 1  # the fixture's

    before = balance_of(account)
    response = client.post(
        url, {"account": account.pk, "direction": "debit", "amount": "2.00", "reason": "Call rerated"}
    )
    assert response.status_code == 302
    adjustment = Adjustment.objects.latest("id")
    assert (adjustment.amount_cents, adjustment.created_by, adjustment.reason) == (-200, staff, "Call rerated")
    entry = JournalEntry.objects.get(idempotency_key=f"adjustment:{adjustment.pk}")
    assert adjustment.entry == entry
    assert sorted(p.amount_cents for p in entry.postings.all()) == [-200, 200]
    assert balance_of(account) == before - 200


def test_a_spanish_speaking_holder_gets_the_pdf_in_spanish(statement, client):
    holder = statement.account.holder
    holder.preferred_language = "es"
    holder.save(update_fields=["preferred_language"])
    client.force_login(holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        pdf = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for spanish in ("Estado de cuenta de Direct Bill de FamilyLine", "Saldo inicial", "Fecha", "6 oct 2026"):
        assert spanish in text, spanish
    assert "1 de octubre de 2026" in text
    for english in ("Opening balance", "Due date", "Description", "Oct 6, 2026", "06/10/2026"):
        assert english not in text, english


def test_a_spanish_speaking_holder_reads_the_statement_lines_in_spanish(statement, client):
    holder = statement.account.holder
    holder.preferred_language = "es"
    holder.save(update_fields=["preferred_language"])
    client.force_login(holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
    assert "Llamada desde" in page and "Ajuste: Poor line quality" in page
    for english in ("Call from", "Payment, mail", "Adjustment:"):
        assert english not in page, english


def _pdf_text(response) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_the_statement_says_where_to_mail_a_check_on_the_page_and_the_pdf(statement, client, settings):
    settings.PAYMENT_MAILING_ADDRESS = ["FamilyLine Remittance", "PO Box 4411", "Hartford, CT 06101"]
    client.force_login(statement.account.holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
        pdf = _pdf_text(client.get(reverse("billing:statement_pdf", args=[statement.pk])))
    assert "FamilyLine Remittance<br>PO Box 4411<br>Hartford, CT 06101" in page
    assert "Mail it to:" in page and "Mail it to:" in " ".join(pdf.split())
    for line in settings.PAYMENT_MAILING_ADDRESS:
        assert line in pdf


def test_the_mailing_address_has_a_default_and_reads_in_spanish(statement, client):
    holder = statement.account.holder
    holder.preferred_language = "es"
    holder.save(update_fields=["preferred_language"])
    client.force_login(holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk]), HTTP_ACCEPT_LANGUAGE="es")
        pdf = _pdf_text(client.get(reverse("billing:statement_pdf", args=[statement.pk])))
    assert "PO Box 2300" in page.content.decode() and "PO Box 2300" in pdf
    assert "Envíelo a:" in page.content.decode() and "Envíelo a:" in " ".join(pdf.split())


def test_statement_numbers_read_as_on_the_web_never_in_e164(statement, client):
    number = statement.account.phone_numbers.get().number
    client.force_login(statement.account.holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
        pdf = _pdf_text(client.get(reverse("billing:statement_pdf", args=[statement.pk])))
    assert page.count(number.as_national) == 2 and pdf.count(number.as_national) == 2
    assert number.as_e164 not in page and number.as_e164 not in pdf


def test_an_approved_call_credit_is_a_line_of_the_statement(calls, staff, client):
    with time_machine.travel(ny(2026, 10, 2, 9, 0), tick=False):
        account = open_direct_bill(state="AK")
        number = add_number(account)
    with time_machine.travel(ny(2026, 10, 6, 20, 0), tick=False):
        calls.complete(number=number, minutes=12)
    call = CallRecord.objects.get(account=account)
    with time_machine.travel(ny(2026, 10, 8, 9, 0), tick=False):
        credit = call_credits.call_credit_request(call=call, holder=account.holder, reason="poor_quality")
        call_credits.call_credit_approve(credit=credit, actor=staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    statement = Statement.objects.get(account=account, period_start_date="2026-10-01")
    words = f"Credit for the call from {calls.inmate.full_name} on Oct 6, 2026"
    client.force_login(account.holder)
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        page = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
        pdf = _pdf_text(client.get(reverse("billing:statement_pdf", args=[statement.pk])))
    assert words in page
    assert words in " ".join(pdf.split())
    assert statement.adjustments_cents == -call.total_cents
    account.holder.preferred_language = "es"
    account.holder.save(update_fields=["preferred_language"])
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        pdf = _pdf_text(client.get(reverse("billing:statement_pdf", args=[statement.pk])))
    assert f"Crédito por la llamada de {calls.inmate.full_name} del 6 oct 2026" in " ".join(pdf.split())
    assert ledger_violations() == []
