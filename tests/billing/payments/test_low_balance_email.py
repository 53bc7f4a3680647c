"""The low-balance email says what auto-reload is doing: never "turn on auto-reload" to a holder whose
auto-reload is on, nor in the moment it is adding money (in English and in Spanish)."""

import pytest
from django.core import mail

from accounts.models import Language
from accounts.outbox import outbox_drain
from billing.payments import autoreload
from billing.payments.models import Payment, PaymentStatus
from billing.payments.selectors import ledger_violations
from tests.helpers import Calls, balance_of, browser_confirms_card, make_account

pytestmark = pytest.mark.django_db


def _auto_reload_on(base_url, account, *, amount, threshold):
    setup_id, secret = autoreload.saved_card_setup_start(holder=account.holder)
    assert browser_confirms_card(base_url, secret, "4242424242424242")["status"] == "succeeded"
    autoreload.auto_reload_save(
        account=account,
        holder=account.holder,
        setup_intent_id=setup_id,
        terms=autoreload.ReloadTerms(amount_cents=amount, threshold_cents=threshold, monthly_cap_cents=5000),
    )


def _low_balance_email(subject_word: str):
    (email,) = [m for m in mail.outbox if subject_word in m.subject]
    return " ".join(email.body.split())


def test_the_email_sent_as_a_reload_fires_says_it_is_adding_money(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=600)  # low-balance alert at $5.00
    _auto_reload_on(stripe_server, account, amount=2000, threshold=500)

    calls.complete(number=account.test_number, minutes=10)  # $6.00 - $2.23 = $3.77: both crossed
    outbox_drain()

    body = _low_balance_email("is low")
    assert "Auto-reload is adding $20.00 from your card ending 4242 now." in body
    assert "turn on auto-reload" not in body
    (reload,) = Payment.objects.filter(account=account, auto_reload=True)
    assert reload.status == PaymentStatus.SUCCEEDED and balance_of(account) == 377 + 2000
    assert ledger_violations() == []


def test_the_email_tells_when_auto_reload_will_add_money(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=600)
    _auto_reload_on(stripe_server, account, amount=2000, threshold=200)

    calls.complete(number=account.test_number, minutes=10)  # $3.77: below $5.00, above the $2.00 reload
    outbox_drain()

    body = _low_balance_email("is low")
    assert "Auto-reload is on: it adds $20.00 from your card ending 4242 when the balance falls below $2.00." in body
    assert "You can also add money yourself on your account page:" in body
    assert "turn on auto-reload" not in body
    assert not Payment.objects.filter(account=account, auto_reload=True).exists()
    assert ledger_violations() == []


def test_the_spanish_email_sent_as_a_reload_fires_says_so_in_spanish(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=600, language=Language.SPANISH)
    _auto_reload_on(stripe_server, account, amount=2000, threshold=500)

    calls.complete(number=account.test_number, minutes=10)
    outbox_drain()

    body = _low_balance_email("$3.77")
    assert "La recarga automática está agregando ahora $20.00 de su tarjeta terminada en 4242." in body
    assert "active la recarga automática" not in body
    assert ledger_violations() == []
