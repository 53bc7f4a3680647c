"""A Direct Bill family pays toward what it owes: its payment pages say so, show the amount owed as an
amount owed (never a red negative balance) and never speak of adding money to an AdvanceConnect
balance; in English and in Spanish."""

import re

import pytest
from django.urls import reverse

from accounts.models import Language
from billing.payments.selectors import ledger_violations
from billing.statements.adjustments import adjustment_create
from tests.factories import UserFactory
from tests.helpers import make_account, open_direct_bill

pytestmark = pytest.mark.django_db

WORDS = {
    "en": {
        "title": "Pay what you owe",
        "owed": "What you owe",
        "how": "Pay any amount up to what you owe, at any time.",
        "amount": "Amount paid toward what you owe",
        "after": "You owe $5.00. After this payment you will owe $1.04.",
    },
    "es": {
        "title": "Pagar lo que debe",
        "owed": "Lo que usted debe",
        "how": "Pague cualquier monto hasta lo que debe, en cualquier momento.",
        "amount": "Monto que se paga de lo que debe",
        "after": "Usted debe $5.00. Después de este pago deberá $1.04.",
    },
}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def owing_direct_bill(staff):
    def make(language):
        account = open_direct_bill(holder=UserFactory(state="AK", preferred_language=language))
        adjustment_create(account=account, amount_cents=-500, reason="Calls carried over", actor=staff)
        return account

    return make


@pytest.mark.parametrize("language", ["en", "es"])
def test_direct_bill_payment_page_asks_for_what_is_owed(client, owing_direct_bill, language):
    account = owing_direct_bill(language)
    client.force_login(account.holder)

    response = client.get(reverse("billing:fund") + f"?account={account.pk}")

    words, html = WORDS[language], response.content.decode()
    text = _text(response)
    assert f"<h1>{words['title']}</h1>" in html
    assert f"{words['owed']} $5.00" in text
    assert words["how"] in text
    assert "AdvanceConnect balance" not in text and "saldo de AdvanceConnect" not in text
    assert "-$" not in text
    assert ledger_violations() == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_direct_bill_review_shows_what_will_still_be_owed_not_a_negative_balance(
    client, stripe_server, owing_direct_bill, language
):
    account = owing_direct_bill(language)
    client.force_login(account.holder)

    response = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "3.96"})

    assert response.status_code == 200
    words, html, text = WORDS[language], response.content.decode(), _text(response)
    assert words["amount"] in text
    assert words["after"] in text
    assert "-$1.04" not in text
    assert 'class="owed"' not in html.split("<main", 1)[1]
    assert ledger_violations() == []


def test_a_holder_of_both_kinds_reads_each_accounts_own_terms(client, owing_direct_bill):
    direct_bill = owing_direct_bill(Language.ENGLISH)
    prepaid = make_account(balance_cents=1000, holder=direct_bill.holder)
    client.force_login(direct_bill.holder)

    prepaid_text = _text(client.get(reverse("billing:fund") + f"?account={prepaid.pk}"))
    owed_text = _text(client.get(reverse("billing:fund") + f"?account={direct_bill.pk}"))

    assert "Add money" in prepaid_text and "to an AdvanceConnect balance" in prepaid_text
    assert "A Direct Bill payment can be any amount up to what you owe." in prepaid_text
    assert "What you owe" not in prepaid_text
    assert "What you owe $5.00" in owed_text and "AdvanceConnect balance" not in owed_text


def test_a_prepaid_deficit_larger_than_the_payment_is_told_as_still_owed(client, stripe_server, staff):
    account = make_account(balance_cents=0)
    adjustment_create(account=account, amount_cents=-2000, reason="Late calls", actor=staff)
    client.force_login(account.holder)

    text = _text(client.post(reverse("billing:fund"), {"account": account.pk, "amount": "10.00"}))

    assert "You owe $20.00. All of this payment covers it; after it you will still owe $10.00" in text
    assert "-$10.00" not in text
    assert ledger_violations() == []


def test_a_direct_bill_account_shows_what_it_owes_without_an_alarm(client, owing_direct_bill):
    account = owing_direct_bill(Language.ENGLISH)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "<span data-owed>You owe $5.00</span>" in html
    assert "-$5.00" not in html
