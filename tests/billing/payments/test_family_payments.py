"""The payment side a family meets, on the suite's localstripe: a payment waiting for 3-D Secure
can be resumed or canceled (nothing charged), card errors read in plain words, and the alerts and
auto-reload page saves a card and the terms, and removes the card."""

import pytest
from django.urls import reverse

from billing.payments import autoreload
from billing.payments import services as payments
from billing.payments.card_errors import plain_card_error
from billing.payments.models import AutoReload, Payment, PaymentStatus
from tests.helpers import DECLINED_CARD, OK_CARD, THREE_DS_CARD, balance_of, browser_confirms_card, make_account

pytestmark = pytest.mark.django_db


def _waiting(base_url, account) -> Payment:
    setup_id, secret = payments.card_setup_start(holder=account.holder)
    browser_confirms_card(base_url, secret, THREE_DS_CARD)
    payment = payments.card_payment_create(
        holder=account.holder, account=account, amount_cents=1000, setup_intent_id=setup_id
    )
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    return payment


def test_a_payment_waiting_for_3d_secure_can_be_resumed_or_canceled(client, stripe_server):
    account = make_account(balance_cents=500)
    payment = _waiting(stripe_server, account)
    client.force_login(account.holder)
    page = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert reverse("billing:authenticate", args=[payment.pk]) in page  # resume
    assert reverse("billing:payment_cancel", args=[payment.pk]) in page
    assert "Nothing has been charged yet" in page
    response = client.post(reverse("billing:payment_cancel", args=[payment.pk]), follow=True)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert balance_of(account) == 500
    html = response.content.decode()
    assert "The payment was canceled. Nothing was charged." in html
    assert "Canceled: nothing was charged" in html
    assert reverse("billing:payment_cancel", args=[payment.pk]) not in html


def test_someone_elses_waiting_payment_cannot_be_canceled(client, stripe_server):
    account = make_account()
    payment = _waiting(stripe_server, account)
    client.force_login(make_account().holder)
    assert client.post(reverse("billing:payment_cancel", args=[payment.pk])).status_code == 404


def test_a_declined_card_is_explained_in_plain_words(client, stripe_server):
    account = make_account()
    setup_id, secret = payments.card_setup_start(holder=account.holder)
    browser_confirms_card(stripe_server, secret, DECLINED_CARD)
    client.force_login(account.holder)
    response = client.post(
        reverse("billing:fund_pay"), {"account": account.pk, "amount": "20.00", "setup_intent": setup_id}
    )
    html = response.content.decode()
    assert "Your card was declined. Nothing was charged. Please use another card or call your bank." in html


def test_card_errors_in_plain_words():
    assert plain_card_error("Your card has insufficient funds.").endswith("Nothing was charged.")
    assert "expired" in plain_card_error("Your card has expired.")
    assert plain_card_error("") == "The payment did not go through. Nothing was charged."


def test_the_alerts_page_saves_the_threshold_a_card_and_the_terms_and_removes_the_card(client, stripe_server):
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    url = reverse("billing:alerts", args=[account.pk])
    page = client.get(url).content.decode()
    assert "$3.00 processing fee" in page  # the fee is shown when auto-reload is set up
    client.post(url, {"action": "alert", "low_balance_threshold": "7.50"})
    account.refresh_from_db()
    assert account.low_balance_threshold_cents == 750

    setup_id, secret = autoreload.saved_card_setup_start(holder=account.holder)
    browser_confirms_card(stripe_server, secret, OK_CARD)
    response = client.post(
        url,
        {"action": "reload", "amount": "20.00", "threshold": "5.00", "monthly_cap": "60.00", "setup_intent": setup_id},
    )
    assert response.status_code == 302
    config = AutoReload.objects.get(account=account)
    assert (config.enabled, config.amount_cents, config.threshold_cents, config.monthly_cap_cents) == (
        True,
        2000,
        500,
        6000,
    )
    assert config.card_last4 == "4242"
    account.refresh_from_db()
    assert account.auto_reload_threshold_cents == 500

    refused = client.post(url, {"action": "reload", "amount": "20.00", "threshold": "5.00", "monthly_cap": "10.00"})
    assert refused.status_code == 400 and "make it at least $23.00" in refused.content.decode()

    client.post(url, {"action": "remove"})
    config.refresh_from_db()
    assert not config.enabled and config.stripe_payment_method_id == ""
