"""What a family reads, in English and in Spanish: a number already on the holder's other account,
a Direct Bill account just approved, the footer's language switch and dates in Spanish."""

import re

import pytest
import time_machine
from django.urls import reverse

from accounts import services
from accounts.models import Language, LineType
from billing.payments.selectors import ledger_violations
from billing.tasks import statements_monthly_run
from calls.models import CallRecord
from tests.factories import UserFactory
from tests.helpers import add_number, card_payment, make_account, ny, open_direct_bill

pytestmark = pytest.mark.django_db


def _add(client, account, number):
    return client.post(
        reverse("accounts:account_detail", args=[account.pk]),
        {"number": number, "label": "Home", "line_type": LineType.LANDLINE},
    )


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            "This number is already on your other account, AdvanceConnect #{first}. A number can be on one open "
            "account at a time: to move it here, remove it from account #{first} first",
        ),
        (
            "es",
            "Este número ya está en su otra cuenta, AdvanceConnect n.º {first}. Un número puede estar en una sola "
            "cuenta abierta a la vez: para pasarlo a esta, quítelo primero de la cuenta n.º {first}",
        ),
    ],
)
def test_a_number_on_the_holders_other_account_says_where_it_is_and_how_to_move_it(client, language, expected):
    holder = UserFactory(preferred_language=language)
    first = services.account_open(holder=holder)
    second = services.account_open(holder=holder)
    services.phone_number_add(account=first, number="+18605550134", label="Home", line_type="landline", actor=holder)
    client.force_login(holder)

    response = _add(client, second, "(860) 555-0134")

    assert response.status_code == 400
    html = _text(response).replace("&#x27;", "'")
    assert expected.format(first=first.pk) in html
    assert "other account holder" not in html and "persona titular" not in html
    assert not second.phone_numbers.exists()


def test_a_number_someone_else_registered_is_refused_in_spanish(client):
    other = services.account_open(holder=UserFactory())
    services.phone_number_add(account=other, number="+18605550134", label="", line_type="landline", actor=other.holder)
    holder = UserFactory(preferred_language=Language.SPANISH)
    account = services.account_open(holder=holder)
    client.force_login(holder)

    html = _text(_add(client, account, "860-555-0134"))

    assert "Este número ya está registrado en una cuenta de FamilyLine" in html
    assert "already registered" not in html
    assert f"n.º {other.pk}" not in html  # someone else's account is not named


def test_adding_a_number_twice_to_the_same_account_says_so(client, holder, account):
    services.phone_number_add(account=account, number="+18605550134", label="", line_type="landline", actor=holder)
    client.force_login(holder)
    assert "This number is already on this account." in _text(_add(client, account, "860-555-0134"))


@pytest.mark.parametrize(
    ("language", "expected", "wrong"),
    [
        ("en", "Your Direct Bill account is approved, with a credit limit of $50.00.", "Thank you for your payment"),
        ("es", "Su cuenta Direct Bill está aprobada, con un límite de crédito de $50.00.", "Gracias por su pago"),
    ],
)
def test_a_newly_approved_direct_bill_account_says_approved_with_its_limit(client, language, expected, wrong):
    holder = UserFactory(state="AK", preferred_language=language)
    account = open_direct_bill(holder=holder, activate=False)
    assert account.status == "pending_activation"
    client.force_login(holder)
    for url in (reverse("accounts:dashboard"), reverse("accounts:account_detail", args=[account.pk])):
        html = _text(client.get(url))
        assert expected in html
        assert wrong not in html


def test_the_footer_names_each_language_in_itself(client):
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    html = _text(client.get("/"))
    assert "Mantenga la línea abierta" in html
    switch = html.split('id="language-switch"', 1)[1].split("</form>", 1)[0]
    assert ">English</button>" in switch and ">Español</button>" in switch
    assert "Inglés" not in switch


def test_a_call_date_in_spanish_reads_day_month_year(client, calls):
    account = make_account(balance_cents=2000, language=Language.SPANISH)
    with time_machine.travel(ny(2026, 12, 6, 9, 14), tick=False):
        calls.complete(number=account.test_number, minutes=4)
    call = CallRecord.objects.get(account=account)
    client.force_login(account.holder)

    html = _text(client.get(reverse("billing:call_credit_request", args=[call.pk])))

    assert re.search(r"el 6 dic 2026, \d\d:\d\d", html)
    assert "Dic 6" not in html


ENGLISH_STYLE_DATE = re.compile(r"\b[A-Z][a-z]{2}\.? \d{1,2}, \d{4}")


def test_every_spanish_family_page_writes_dates_day_first(client, calls, stripe_server, staff):
    holder = UserFactory(state="AK", preferred_language=Language.SPANISH)
    with time_machine.travel(ny(2026, 9, 2, 9, 0), tick=False):
        direct_bill = open_direct_bill(holder=holder)
        number = add_number(direct_bill)
        prepaid = make_account(balance_cents=2000, holder=holder)
    with time_machine.travel(ny(2026, 9, 20, 9, 0), tick=False):
        calls.complete(number=number, minutes=4)
        calls.complete(number=prepaid.test_number, minutes=4)
    with time_machine.travel(ny(2026, 10, 1, 3, 0), tick=False):
        statements_monthly_run()
    with time_machine.travel(ny(2026, 10, 2, 9, 0), tick=False):
        payment = card_payment(stripe_server, holder, prepaid, 1000)
        client.force_login(holder)
        pages = [
            reverse("accounts:dashboard"),
            reverse("accounts:account_detail", args=[prepaid.pk]),
            reverse("accounts:account_detail", args=[direct_bill.pk]),
            reverse("billing:receipt", args=[payment.pk]),
            reverse("billing:alerts", args=[prepaid.pk]),
            reverse("billing:call_credit_request", args=[CallRecord.objects.get(account=prepaid).pk]),
            reverse("calls:history", args=[prepaid.pk]),
            reverse("billing:statement_list"),
            reverse("billing:statement_detail", args=[direct_bill.statements.get().pk]),
            reverse("accounts:direct_bill"),
        ]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            html = _text(response)
            assert '<html lang="es">' in html, url
            assert not ENGLISH_STYLE_DATE.search(html), (url, ENGLISH_STYLE_DATE.search(html).group(0))
    assert ledger_violations() == []
