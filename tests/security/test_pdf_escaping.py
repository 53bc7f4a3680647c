"""User text in the statement PDF is shown as typed: ReportLab markup in a name, an address or a
line's description is escaped, so it can neither break the PDF nor embed a server file."""

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AccountKind, AccountStatus
from accounts.services import account_open
from billing.statements.models import Statement, StatementLine
from billing.statements.pdf import statement_pdf
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NAME = '<img src="/etc/hostname"/><b>x'
STREET = '<img src="/etc/passwd" width="400" height="400"/> 1 Main & <font size=40>Elm</font>'
MEMO = "Adjustment #7: <a href='javascript:alert(1)'>refund</a> </para><img src=\"/etc/hostname\"/>"


@pytest.fixture
def statement():
    holder = UserFactory(first_name=NAME, last_name="Doe", address_line1=STREET, city="<i>Juneau</i>", state="AK")
    account = account_open(holder=holder, kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE)
    statement = Statement.objects.create(
        account=account,
        period_start_date=datetime.date(2026, 10, 1),
        period_end_date=datetime.date(2026, 10, 31),
        opening_balance_cents=0,
        adjustments_cents=-500,
        closing_balance_cents=-500,
        due_date=datetime.date(2026, 11, 21),
    )
    StatementLine.objects.create(
        statement=statement,
        kind=StatementLine.Kind.ADJUSTMENT,
        occurred_at=timezone.now(),
        description=MEMO,
        amount_cents=-500,
    )
    return statement


def _images(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


def test_markup_in_name_address_and_memo_renders_literally_and_embeds_no_image(statement):
    reader = PdfReader(io.BytesIO(statement_pdf(statement=statement)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert '<img src="/etc/hostname"/><b>x Doe' in flat
    assert "1 Main & <font size=40>Elm</font>" in flat
    assert "<i>Juneau</i>, AK" in flat
    # The description column wraps, so compare it without spaces.
    assert "".join(MEMO.split()) in "".join(text.split())
    assert _images(reader) == 0


def test_the_pdf_view_answers_200_for_a_name_with_markup(statement, client):
    client.force_login(statement.account.holder)
    response = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    assert response.status_code == 200
    assert _images(PdfReader(io.BytesIO(response.content))) == 0
