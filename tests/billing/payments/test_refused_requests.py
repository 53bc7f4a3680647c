"""Requests a family page refuses, and pages that only show something, change nothing: no account,
no saved terms, no Stripe customer or SetupIntent. A SetupIntent is created when the holder submits
a card (the card field asks for it), and asked twice it is the same one."""

import pytest
from django.urls import reverse

from billing.payments.models import AutoReload, Payment, PaymentStatus
from tests.factories import UserFactory
from tests.helpers import (
    OK_CARD,
    THREE_DS_CARD,
    browser_authenticates_payment,
    browser_confirms_card,
    confirmed_setup_intent,
    make_account,
    stripe_object_count,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_counts(stripe_server):
    def counts() -> tuple[int, int]:
        return stripe_object_count(stripe_server, "customers"), stripe_object_count(stripe_server, "setup_intents")

    return counts


def test_showing_the_alerts_page_and_the_review_step_creates_no_stripe_object(client, stripe_counts):
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    before = stripe_counts()
    assert client.get(reverse("billing:alerts", args=[account.pk])).status_code == 200
    review = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "20.00"})
    assert review.status_code == 200 and b"Review and pay" in review.content
    # Refused requests: an amount over the limit, a card step with a card never confirmed.
    assert client.post(reverse("billing:fund"), {"account": account.pk, "amount": "999.00"}).status_code == 400
    refused = client.post(reverse("billing:fund_pay"), {"account": account.pk, "amount": "20.00", "setup_intent": "x"})
    assert refused.status_code == 400
    refused = client.post(
        reverse("billing:alerts", args=[account.pk]),
        {"action": "reload", "amount": "500.00", "threshold": "5.00", "monthly_cap": "10.00"},
    )
    assert refused.status_code == 400
    assert stripe_counts() == before
    account.holder.refresh_from_db()
    assert account.holder.stripe_customer_id == ""


def test_the_card_field_asks_for_one_setup_intent_and_gets_the_same_one_again(client, stripe_server, stripe_counts):
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    customers, intents = stripe_counts()
    url = reverse("billing:card_setup")
    first = client.post(url, {"purpose": "payment"})
    again = client.post(url, {"purpose": "payment"})
    assert first.status_code == again.status_code == 200
    assert first.json()["client_secret"] == again.json()["client_secret"]
    assert stripe_counts() == (customers + 1, intents + 1)
    # Saving a card for auto-reload is a SetupIntent of its own (off-session use).
    saving = client.post(url, {"purpose": "auto_reload"}).json()["client_secret"]
    assert saving != first.json()["client_secret"]
    assert stripe_counts() == (customers + 1, intents + 2)
    # Once confirmed, it is used up: the next card gets a new one.
    browser_confirms_card(stripe_server, first.json()["client_secret"], OK_CARD)
    assert client.post(url, {"purpose": "payment"}).json()["client_secret"] != first.json()["client_secret"]
    assert client.post(url, {"purpose": "something"}).status_code == 400
    assert client.get(url).status_code == 405


def test_a_holder_with_no_account_to_pay_gets_no_stripe_customer(client, stripe_counts):
    client.force_login(UserFactory())
    before = stripe_counts()
    response = client.post(reverse("billing:card_setup"), {"purpose": "payment"})
    assert response.status_code == 400
    assert response.json()["error"] == "Choose one of your own open accounts."
    assert stripe_counts() == before


def test_an_unknown_action_on_the_alerts_page_saves_nothing(client, stripe_server):
    account = make_account(balance_cents=1000)
    setup_id = confirmed_setup_intent(stripe_server, account.holder)
    client.force_login(account.holder)
    url = reverse("billing:alerts", args=[account.pk])
    terms = {"amount": "20.00", "threshold": "5.00", "monthly_cap": "60.00", "setup_intent": setup_id}
    for action in ("", "save", "reload "):
        response = client.post(url, {"action": action, **terms})
        assert response.status_code == 400
        assert "That request was not understood. Nothing was changed." in response.content.decode()
    assert not AutoReload.objects.filter(account=account).exists()
    account.refresh_from_db()
    assert account.auto_reload_threshold_cents is None


def test_a_low_balance_threshold_above_the_limit_is_refused_not_lowered(client):
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    before = account.low_balance_threshold_cents
    response = client.post(
        reverse("billing:alerts", args=[account.pk]), {"action": "alert", "low_balance_threshold": "999.00"}
    )
    assert response.status_code == 400
    assert response.context["alert_form"].errors["low_balance_threshold"] == ["Choose an amount of at most $50.00."]
    account.refresh_from_db()
    assert account.low_balance_threshold_cents == before
    assert "is saved" not in response.content.decode()


def test_a_failed_bank_check_at_the_payment_step_keeps_the_amount(client, stripe_server):
    account = make_account(balance_cents=0)
    client.force_login(account.holder)
    setup_id = confirmed_setup_intent(stripe_server, account.holder, THREE_DS_CARD)
    response = client.post(
        reverse("billing:fund_pay"), {"account": account.pk, "amount": "27.50", "setup_intent": setup_id}
    )
    page = client.get(response["Location"])
    browser_authenticates_payment(stripe_server, page.context["client_secret"], success=False)
    back = client.post(response["Location"], follow=True)
    payment = page.context["payment"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    form = back.context["form"]
    assert form["account"].value() == str(account.pk) or form["account"].value() == account.pk
    assert str(form["amount"].value()) == "27.50"
    assert 'value="27.50"' in back.content.decode()


def test_the_refusals_read_in_spanish_for_a_spanish_speaking_holder(client):
    account = make_account(balance_cents=1000)
    account.holder.preferred_language = "es"
    account.holder.save(update_fields=["preferred_language"])
    client.force_login(account.holder)
    url = reverse("billing:alerts", args=[account.pk])
    too_high = client.post(url, {"action": "alert", "low_balance_threshold": "999,00"})
    assert too_high.context["alert_form"].errors["low_balance_threshold"][0].startswith("Elija un monto de")
    unknown = client.post(url, {"action": "guardar"})
    assert "No entendimos esa solicitud. No se cambió nada." in unknown.content.decode()
    opened = client.post(reverse("accounts:account_open"), {"facility": "abc"})
    assert opened.context["open_form"].errors["facility"] == ["Elija un centro de la lista, o “Todavía no lo sé”."]


def test_the_alerts_page_says_the_cap_counts_fees_and_what_the_card_paid(client, stripe_server):
    account = make_account(balance_cents=1000)
    setup_id = confirmed_setup_intent(stripe_server, account.holder)
    client.force_login(account.holder)
    url = reverse("billing:alerts", args=[account.pk])
    client.post(
        url,
        {"action": "reload", "amount": "5.00", "threshold": "8.00", "monthly_cap": "60.00", "setup_intent": setup_id},
    )
    Payment.objects.create(account=account, channel="web", amount_cents=500, fee_cents=300, auto_reload=True)
    page = client.get(url).content.decode()
    assert "Counts what your card pays, fees included" in page
    assert "Your card paid for reloads this month, fees included: $8.00." in page
