"""Families who chose Spanish see the site and get their emails in Spanish; everyone else in English."""

from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.emails import account_email_send
from accounts.models import Language
from billing.payments import services
from billing.tasks import statements_monthly_run
from calls.announcements import announcement
from calls.models import Billing
from tests.factories import UserFactory
from tests.helpers import Calls, add_number, confirmed_setup_intent, make_account, ny, open_direct_bill

pytestmark = pytest.mark.django_db

CATALOGS = [
    Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po",
    Path(settings.BASE_DIR) / "calls" / "locale" / "es" / "LC_MESSAGES" / "django.po",
]


def _entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for each message of a .po file, header left out."""

    def unquote(text: str) -> str:
        return text.strip()[1:-1].encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")

    entries, current, field, fuzzy = [], None, None, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            current, field = {"msgid": unquote(line[6:]), "fuzzy": fuzzy}, "msgid"
            fuzzy = False
        elif line.startswith("msgstr ") and current is not None:
            current["msgstr"], field = unquote(line[7:]), "msgstr"
            entries.append(current)
        elif line.startswith('"') and current is not None:
            current[field] += unquote(line)
    return [(e["msgid"], e["msgstr"], e["fuzzy"]) for e in entries if e["msgid"]]


@pytest.mark.parametrize("path", CATALOGS, ids=["site", "calls"])
def test_every_message_in_the_spanish_catalogs_is_translated(path):
    entries = _entries(path)
    assert len(entries) > 2
    assert [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy] == []
    assert path.with_suffix(".mo").exists()


def test_spanish_holder_sees_the_dashboard_in_spanish(client):
    account = make_account(balance_cents=1000, language=Language.SPANISH)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:dashboard")).content.decode()
    assert '<html lang="es">' in html
    for text in ("Mis cuentas", "Saldo", "$10.00", "Agregar dinero", "Llamadas"):
        assert text in html
    assert "My accounts" not in html
    assert ">Activa</span>" in html


def test_spanish_holder_edits_the_profile_in_spanish(client):
    holder = UserFactory(preferred_language=Language.SPANISH)
    client.force_login(holder)
    html = client.get(reverse("accounts:profile")).content.decode()
    for text in ("Su perfil", "Idioma preferido", "Código postal", "Guardar"):
        assert text in html
    response = client.post(reverse("accounts:profile"), {"preferred_language": "es", "postal_code": "12"})
    assert "Escriba un código postal de 5 dígitos" in response.content.decode()


def test_english_holder_still_sees_english(client):
    account = make_account(balance_cents=1000, language=Language.ENGLISH)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:dashboard"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "My accounts" in html and "Add money" in html
    assert "Mis cuentas" not in html


def test_spanish_holder_reviews_a_payment_in_spanish(stripe_server, client):
    account = make_account(language=Language.SPANISH)
    client.force_login(account.holder)
    response = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "25"})
    html = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Revisar y pagar",
        "Monto que se agrega a su saldo",
        "Cargo por procesamiento",
        "Total que se cobra a su tarjeta",
        'id="quote-amount">$25.00',
        "Pagar $28.00",
    ):
        assert text in html


def test_spanish_holder_sees_the_call_history_in_spanish(client):
    calls = Calls()
    account = make_account(balance_cents=1000, language=Language.SPANISH)
    calls.complete(number=account.test_number, minutes=4)
    inmate = calls.inmate
    client.force_login(account.holder)
    html = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    for text in (
        "Llamadas y pagos",
        "Fecha y hora",
        "Centro",
        "Impuesto",
        "hora del Este",
        inmate.full_name,
    ):
        assert text in html
    assert "Call history" not in html and "Calls and payments" not in html


def test_spanish_holder_sees_a_statement_in_spanish(client):
    calls = Calls()
    holder = UserFactory(state="AK", preferred_language=Language.SPANISH)
    with time_machine.travel(ny(2026, 9, 2, 9, 0), tick=False):
        account = open_direct_bill(holder=holder)
        number = add_number(account)
    with time_machine.travel(ny(2026, 9, 20, 9, 0), tick=False):
        calls.complete(number=number, minutes=4)
    with time_machine.travel(ny(2026, 10, 1, 3, 0), tick=False):
        statements_monthly_run()
    statement = account.statements.get()
    client.force_login(holder)
    with time_machine.travel(ny(2026, 10, 2, 9, 0), tick=False):
        html = client.get(reverse("billing:statement_detail", args=[statement.pk])).content.decode()
    for text in (
        "Estado de cuenta de septiembre 2026",
        "Lo que usted debe",
        "Saldo a pagar",
        "Saldo inicial",
        "Resumen",
    ):
        assert text in html
    # The totals keep their English slugs for anyone reading the page's data.
    assert 'data-summary="closing-balance">$0.89' in html


def test_receipt_email_to_a_spanish_holder_is_in_spanish(stripe_server, django_capture_on_commit_callbacks):
    account = make_account(language=Language.SPANISH)
    setup_id = confirmed_setup_intent(stripe_server, account.holder)
    with django_capture_on_commit_callbacks(execute=True):
        services.card_payment_create(
            holder=account.holder, account=account, amount_cents=2500, setup_intent_id=setup_id
        )
    receipt = mail.outbox[-1]
    assert receipt.subject.startswith("Recibo de FamilyLine: $28.00")
    for text in (
        "Gracias. Aquí tiene su recibo.",
        "Cargo por procesamiento: $3.00",
        "Total cobrado: $28.00",
        "terminada en 4242",
    ):
        assert text in receipt.body


def test_activation_email_follows_each_holders_language():
    spanish = make_account(language=Language.SPANISH)
    english = make_account(language=Language.ENGLISH)
    account_email_send(account_id=spanish.pk, template="account_activated", extra={})
    account_email_send(account_id=english.pk, template="account_activated", extra={})
    es, en = mail.outbox
    assert f"Su cuenta de FamilyLine n.º {spanish.pk} está activa" == es.subject
    assert "ya está activa" in es.body and "Hola" in es.body
    assert f"Your FamilyLine account #{english.pk} is active" == en.subject
    assert "is now active" in en.body


def test_anonymous_visitor_switches_the_footer_to_spanish_and_back(client):
    home = client.get("/").content.decode()
    assert 'id="language-switch"' in home and "Español" in home
    assert "Keep the line open" in home

    response = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Mantenga la línea abierta" in client.get("/").content.decode()
    assert "Iniciar sesión" in client.get(reverse("account_login")).content.decode()

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Keep the line open" in client.get("/").content.decode()


def test_anonymous_visitor_gets_the_browsers_language():
    html = Client(HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9").get("/").content.decode()
    assert "Mantenga la línea abierta" in html


def test_call_announcements_still_follow_the_holders_language():
    text = announcement(
        billing=Billing.INMATE_DEBIT, inmate_name="John Roe", facility_name="Hartford CI", language="es"
    )
    assert text == "Esta es una llamada prepagada de John Roe, una persona recluida en Hartford CI."


def test_spanish_holder_sees_payment_refusals_in_spanish(client):
    account = make_account(language=Language.SPANISH)
    client.force_login(account.holder)
    html = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "60"}).content.decode()
    assert "Con un solo pago se pueden agregar hasta $50.00." in html


@pytest.mark.django_db
@pytest.mark.parametrize(("browser", "chosen"), [("es", "es"), ("en-US", "en")])
def test_sign_up_proposes_the_language_the_visitor_reads(client, browser, chosen):
    page = client.get(reverse("account_signup"), HTTP_ACCEPT_LANGUAGE=browser).content.decode()
    assert f'<option value="{chosen}" selected>' in page
