"""History a family understands: calls and money movements in plain words, in the holder's time
zone, sorted by when they happened, filtered by dates, number and inmate, with CSV exports that add
up to the page's totals."""

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus
from tests.factories import InmateFactory
from tests.helpers import Calls, add_number, complete, make_account

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _page_total(html: str, name: str) -> Decimal:
    match = re.search(rf'data-total="{name}">\$([0-9,]+\.[0-9]{{2}})<', html)
    return Decimal(match.group(1).replace(",", ""))


@pytest.fixture
def family(db):
    calls = Calls()
    account = make_account(balance_cents=10_000)
    other_number = add_number(account)
    sister = InmateFactory(facility=calls.facility, first_name="Maria", last_name="Lopez")
    starts = [datetime.datetime(2026, 3, day, 18, 0, tzinfo=UTC) for day in (2, 9, 16)]
    complete(calls.facility, calls.inmate, account.test_number, seconds=600, started_at=starts[0])
    complete(calls.facility, sister, other_number, seconds=12 * 60, started_at=starts[1])
    complete(calls.facility, sister, account.test_number, seconds=3 * 60, started_at=starts[2])
    Payment.objects.create(
        account=account,
        channel=Channel.WEB,
        method=PaymentMethod.CARD,
        amount_cents=2000,
        fee_cents=300,
        status=PaymentStatus.FAILED,
        failure_message="Your card was declined.",
    )
    return {"account": account, "calls": calls, "sister": sister, "other_number": other_number}


def test_history_lines_name_the_inmate_and_the_facility_in_plain_words(client, family):
    account = family["account"]
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    facility = family["calls"].facility.name
    assert f"Call from Maria Lopez at {facility} · 12 min · $2.68" in html
    assert "db-call" not in html and family["calls"].facility.code not in html  # no platform ids or codes
    assert "Failed: nothing was charged" in html
    assert "Eastern time" in html


def test_history_is_sorted_by_when_things_happened_and_filters_by_number_inmate_and_dates(client, family):
    account = family["account"]
    client.force_login(account.holder)
    url = reverse("calls:history", args=[account.pk])
    html = client.get(url).content.decode()
    dates = re.findall(r"(Mar \d+), 2026", html)
    assert dates == ["Mar 16", "Mar 9", "Mar 2"]
    by_inmate = client.get(url, {"inmate": family["sister"].pk}).content.decode()
    assert "Maria Lopez" in by_inmate and "John" not in by_inmate.split('id="history"')[1]
    by_number = client.get(url, {"number": family["other_number"]}).content.decode()
    assert by_number.count('<tr class="call">') == 1
    by_dates = client.get(url, {"date_from": "2026-03-05", "date_to": "2026-03-10"}).content.decode()
    assert by_dates.count('<tr class="call">') == 1 and "Mar 9, 2026" in by_dates
    refused = client.get(url, {"date_from": "2026-03-10", "date_to": "2026-03-05"})
    assert refused.status_code == 400 and "The end date is before the start date." in refused.content.decode()


def test_the_csv_exports_open_with_the_csv_module_and_sum_to_the_page_totals(client, family):
    account = family["account"]
    Payment.objects.create(
        account=account,
        channel=Channel.MAIL,
        method=PaymentMethod.CHECK,
        amount_cents=1250,
        fee_cents=0,
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=datetime.datetime(2026, 3, 3, tzinfo=UTC),
    )
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    calls_csv = client.get(reverse("calls:history_calls_csv", args=[account.pk]))
    assert calls_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(calls_csv.content.decode())))
    assert len(rows) == 3
    assert sum(Decimal(row["Total"]) for row in rows) == _page_total(html, "calls") == Decimal("5.58")
    assert {row["Inmate"] for row in rows} == {"Maria Lopez", family["calls"].inmate.full_name}

    payments_csv = client.get(reverse("calls:history_payments_csv", args=[account.pk]))
    rows = list(csv.DictReader(io.StringIO(payments_csv.content.decode())))
    assert len(rows) == 2
    paid = [row for row in rows if row["Charged"] == "Yes"]
    assert sum(Decimal(row["Amount"]) for row in paid) == _page_total(html, "paid") == Decimal("12.50")
    assert sum(Decimal(row["Fee"]) for row in paid) == _page_total(html, "fees")
    failed = next(row for row in rows if row["Charged"] == "No")
    assert failed["Status"] == "Failed: nothing was charged"


def test_the_monthly_chart_is_drawn_on_the_server_as_svg(client, family):
    account = family["account"]
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    assert '<svg role="img" aria-labelledby="chart-title"' in html
    assert "<script" not in html.split("<svg")[1].split("</svg>")[0]


def test_someone_elses_exports_are_404(client, family):
    other = make_account()
    client.force_login(other.holder)
    assert client.get(reverse("calls:history_calls_csv", args=[family["account"].pk])).status_code == 404
    assert client.get(reverse("calls:history_payments_csv", args=[family["account"].pk])).status_code == 404
