"""A family that reads Spanish sees Spanish everywhere it looks: pages, history lines, payment
channels, decline messages, dates in the Spanish format, amounts typed with a decimal comma, and
emails (allauth's too, with a FamilyLine subject)."""

import datetime
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Language
from accounts.outbox import outbox_drain
from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus
from calls.forms import SponsorshipCapForm
from tests.helpers import Calls, complete, make_account

pytestmark = pytest.mark.django_db

# English a Spanish reader met before: none of it may appear on a Spanish page.
ENGLISH = (
    "Online (web)",
    "Phone (automated)",
    "Mail (check or money order)",
    "Call from",
    " min from ",
    "Your card was declined",
    "Your profile was saved.",
    "Waiting for card authentication",
    ">Failed<",
    "Add money",
    "Pending funding",
    "Times are shown in",
    "Numbers that can be called",
    "What calls cost",
    "Dic 1",
    "Jan 5",
)


@pytest.fixture
def spanish(db):
    calls = Calls()
    account = make_account(balance_cents=1000, language=Language.SPANISH)
    complete(
        calls.facility,
        calls.inmate,
        account.test_number,
        seconds=600,
        started_at=datetime.datetime(2026, 1, 5, 20, 30, tzinfo=datetime.UTC),
    )
    Payment.objects.create(
        account=account,
        channel=Channel.WEB,
        method=PaymentMethod.CARD,
        amount_cents=2000,
        fee_cents=300,
        status=PaymentStatus.FAILED,
        failure_message="Your card was declined.",
    )
    paid = Payment.objects.create(
        account=account,
        channel=Channel.MAIL,
        method=PaymentMethod.CHECK,
        amount_cents=1000,
        status=PaymentStatus.SUCCEEDED,
        succeeded_at=datetime.datetime(2026, 12, 1, 19, 51, tzinfo=datetime.UTC),
        reference="1042",
    )
    client = Client()
    client.force_login(account.holder)
    return {"account": account, "calls": calls, "client": client, "paid": paid}


def _pages(spanish):
    account = spanish["account"]
    return {
        "dashboard": reverse("accounts:dashboard"),
        "account": reverse("accounts:account_detail", args=[account.pk]),
        "history": reverse("calls:history", args=[account.pk]),
        "receipt": reverse("billing:receipt", args=[spanish["paid"].pk]),
        "fund": reverse("billing:fund"),
        "alerts": reverse("billing:alerts", args=[account.pk]),
        "sponsorships": reverse("calls:sponsorships", args=[account.pk]),
        "profile": reverse("accounts:profile"),
    }


def test_spanish_pages_carry_none_of_the_english_strings(spanish, stripe_server):
    for name, url in _pages(spanish).items():
        html = spanish["client"].get(url).content.decode()
        assert '<html lang="es">' in html, name
        found = [text for text in ENGLISH if text in html]
        assert found == [], (name, found)


def test_spanish_history_lines_channels_and_dates(spanish):
    html = spanish["client"].get(reverse("calls:history", args=[spanish["account"].pk])).content.decode()
    facility = spanish["calls"].facility.name
    assert f"Llamada de {spanish['calls'].inmate.full_name} desde {facility} · 10 min · $2.23" in html
    assert "5 ene 2026, 15:30" in html  # 20:30 UTC in the holder's Eastern time, Spanish format
    assert "Falló: no se cobró nada" in html
    assert "Por correo (cheque o giro postal)" in html
    assert "hora del Este" in html


def test_spanish_receipt_date_and_channel(spanish):
    html = spanish["client"].get(reverse("billing:receipt", args=[spanish["paid"].pk])).content.decode()
    assert re.search(r"1 dic 2026, 14:51 EST", html)
    assert "Por correo (cheque o giro postal)" in html


def test_an_amount_with_a_decimal_comma_is_accepted_in_spanish(spanish, stripe_server):
    response = spanish["client"].post(reverse("billing:fund"), {"account": spanish["account"].pk, "amount": "12,50"})
    html = response.content.decode()
    assert response.status_code == 200, html
    assert 'id="quote-amount">$12.50<' in html


def test_the_profile_saved_message_is_spanish(spanish):
    holder = spanish["account"].holder
    data = {
        "first_name": "Rosa",
        "last_name": "Diaz",
        "preferred_language": "es",
        "address_line1": "5 Harbor Rd",
        "address_line2": "",
        "city": "Juneau",
        "state": "AK",
        "postal_code": "99801",
        "time_zone": "America/Anchorage",
    }
    response = spanish["client"].post(reverse("accounts:profile"), data, follow=True)
    html = response.content.decode()
    assert "Your profile was saved." not in html
    holder.refresh_from_db()
    assert holder.time_zone == "America/Anchorage"


def test_alert_emails_are_spanish(spanish):
    spanish["calls"].complete(number=spanish["account"].test_number, minutes=10)  # 7.77 - 2.23 = 5.54
    spanish["calls"].complete(number=spanish["account"].test_number, minutes=10)  # 3.31: below $5.00
    outbox_drain()
    (email,) = [m for m in mail.outbox if "saldo bajo" in m.subject]
    assert "por debajo de" in email.body and "below" not in email.body


def test_allauth_emails_carry_a_familyline_subject(client, db):
    client.post(
        reverse("account_signup"),
        {
            "email": "ana@example.com",
            "password1": "a long family password",
            "password2": "a long family password",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "preferred_language": "es",
        },
        HTTP_ACCEPT_LANGUAGE="es",
    )
    (email,) = mail.outbox
    assert email.subject.startswith("FamilyLine: ")
    assert "127.0.0.1" not in email.subject and "[" not in email.subject


def test_a_sponsorship_limit_with_a_decimal_comma_is_accepted_in_spanish():
    with translation.override("es"):
        form = SponsorshipCapForm({"monthly_cap": "20,50"})
        assert form.is_valid(), form.errors
    assert form.cleaned_data["monthly_cap"] == 2050
    with translation.override("en"):
        assert not SponsorshipCapForm({"monthly_cap": "20,50"}).is_valid()  # "20,50" is not an English amount
