"""Another family's number is theirs: a sponsor (inmate debit) who pays for an inmate's calls to
someone else's number reads only its last two digits, on every family page, filter, export, email
and PDF. One rule decides (a number not registered on one of the viewer's own accounts is masked)."""

import csv
import io
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from accounts.selectors import number_view_for_holder
from billing.payments.selectors import ledger_violations
from billing.statements import call_credits
from billing.statements.models import Statement
from billing.tasks import statements_monthly_run
from calls.models import CallRecord
from calls.sponsorships import sponsorship_start
from tests.factories import InmateFactory, UserFactory
from tests.helpers import add_number, authorize, complete, make_account, ny, open_direct_bill

pytestmark = pytest.mark.django_db

FOREIGN = "+17135550302"
# Every way the foreign number could be written in full: E.164, national, formatted, digits only,
# with or without its area code.
FULL_FORMS = re.compile(r"555\W{0,3}0302")


def _assert_masked(where: str, text: str) -> None:
    found = FULL_FORMS.search(text)
    assert not found, f"{where} shows the other family's number: {text[max(found.start() - 150, 0) : found.end() + 50]}"


@pytest.fixture
def sponsor(facility, inmate, staff, django_capture_on_commit_callbacks):
    """A holder with a prepaid account paying for `inmate`'s calls, and a Direct Bill account with a
    statement; the inmate called another family's number on the sponsor's money, and the sponsor was
    given a credit for that call."""
    holder = UserFactory(state="AK")
    with time_machine.travel(ny(2026, 10, 20, 9, 0), tick=False):
        prepaid = make_account(holder=holder, balance_cents=5000)
        other_family = make_account(number=FOREIGN)
        with django_capture_on_commit_callbacks(execute=True):
            sponsorship_start(
                account=prepaid,
                facility=facility,
                inmate_number=inmate.inmate_number,
                actor=holder,
                confirmed=True,
            )
        direct_bill = open_direct_bill(holder=holder)
        direct_bill_number = add_number(direct_bill)
    with time_machine.travel(ny(2026, 10, 22, 18, 0), tick=False):
        complete(facility, inmate, FOREIGN, seconds=300, cid=authorize(facility, inmate, FOREIGN).call_id)
        complete(facility, inmate, prepaid.test_number, seconds=60)
        complete(facility, InmateFactory(facility=facility), direct_bill_number, seconds=120)  # no sponsor
    call = CallRecord.objects.get(dialed_number=FOREIGN)
    assert call.account_id == prepaid.pk and call.billing == "inmate_debit"
    assert other_family.pk != prepaid.pk
    with time_machine.travel(ny(2026, 10, 23, 9, 0), tick=False):
        credit = call_credits.call_credit_request(call=call, holder=holder, reason="dropped")
        with django_capture_on_commit_callbacks(execute=True):
            call_credits.call_credit_approve(credit=credit, actor=staff)
    with time_machine.travel(ny(2026, 11, 1, 3, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        statements_monthly_run()
    return {"holder": holder, "prepaid": prepaid, "direct_bill": direct_bill, "call": call}


def test_a_sponsor_never_reads_another_familys_number_in_full(client, sponsor):
    holder, prepaid, call = sponsor["holder"], sponsor["prepaid"], sponsor["call"]
    statement = Statement.objects.get(account=sponsor["direct_bill"], period_start_date="2026-10-01")
    client.force_login(holder)
    history_url = reverse("calls:history", args=[prepaid.pk])
    with time_machine.travel(ny(2026, 11, 2, 9, 0), tick=False):
        history = client.get(history_url).content.decode()
        # The history lists the call, its credit and the Number filter, masked.
        assert history.count("•••••••••02") >= 3
        option = re.search(r'<option value="([^"]*)">•••••••••02</option>', history)
        assert option, "the Number filter offers the masked number"
        filtered_query = {"number": option.group(1)}
        pages = {
            "dashboard": client.get(reverse("accounts:dashboard")),
            "account": client.get(reverse("accounts:account_detail", args=[prepaid.pk])),
            "history": client.get(history_url),
            "history filtered by the number": client.get(history_url, filtered_query),
            "history filtered by inmate": client.get(history_url, {"inmate": call.inmate_id}),
            "calls CSV": client.get(reverse("calls:history_calls_csv", args=[prepaid.pk])),
            "calls CSV filtered": client.get(reverse("calls:history_calls_csv", args=[prepaid.pk]), filtered_query),
            "payments CSV": client.get(reverse("calls:history_payments_csv", args=[prepaid.pk])),
            "sponsorships": client.get(reverse("calls:sponsorships", args=[prepaid.pk])),
            "call credit": client.get(reverse("billing:call_credit_request", args=[call.pk])),
            "statements": client.get(reverse("billing:statement_list")),
            "statement": client.get(reverse("billing:statement_detail", args=[statement.pk])),
            "Direct Bill account": client.get(reverse("accounts:account_detail", args=[statement.account_id])),
            "Direct Bill history": client.get(reverse("calls:history", args=[statement.account_id])),
        }
        pdf = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    for where, response in pages.items():
        assert response.status_code == 200, where
        _assert_masked(where, response.content.decode())
    filtered = list(csv.DictReader(io.StringIO(pages["calls CSV filtered"].content.decode())))
    assert [row["Number"] for row in filtered] == ["•••••••••02", "•••••••••02"]  # the call and its credit
    assert pages["history filtered by the number"].content.decode().count('<tr class="call">') == 1
    pdf_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Balance due" in pdf_text
    _assert_masked("statement PDF", pdf_text)
    assert mail.outbox, "the sponsor was emailed"
    for message in mail.outbox:
        _assert_masked(f"email {message.subject!r}", f"{message.subject}\n{message.body}")
        for alternative, _mime in getattr(message, "alternatives", []):
            _assert_masked(f"email {message.subject!r} (HTML)", alternative)
    assert ledger_violations() == []


def test_the_full_number_in_a_filter_finds_nothing_of_another_familys(client, sponsor):
    """The filter takes the option's value only: the other family's number typed in full is not an
    option, so it is refused rather than confirming whose calls went where."""
    client.force_login(sponsor["holder"])
    response = client.get(reverse("calls:history", args=[sponsor["prepaid"].pk]), {"number": FOREIGN})
    assert response.status_code == 400
    _assert_masked("refused filter", response.content.decode())


def test_the_viewer_reads_its_own_numbers_in_full_on_any_of_its_accounts(sponsor):
    numbers = number_view_for_holder(holder=sponsor["holder"])
    direct_bill_number = sponsor["direct_bill"].phone_numbers.get().number
    assert numbers.text(direct_bill_number) == direct_bill_number.as_national  # another account of the holder's
    assert numbers.text(sponsor["prepaid"].test_number).startswith("(860) ")
    assert numbers.text(FOREIGN) == "•••••••••02"
    assert numbers.key(FOREIGN) != FOREIGN and "0302" not in numbers.key(FOREIGN)
    assert numbers.key(sponsor["prepaid"].test_number) == sponsor["prepaid"].test_number
