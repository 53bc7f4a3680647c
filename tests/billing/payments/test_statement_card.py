"""Paying a Direct Bill statement by card against a real localstripe process."""

import pytest
import time_machine
from django.urls import reverse

from accounts.direct_bill.services import credit_limit_change
from accounts.models import AccountStatus
from billing.ledger import kernel as ledger
from billing.payments.models import FeeSchedule, Payment, PaymentStatus
from billing.statements import dunning
from billing.statements.adjustments import adjustment_create
from billing.statements.models import Statement
from billing.tasks import statements_monthly_run
from tests.helpers import DECLINED_CARD, balance_of, confirmed_setup_intent, ny, open_direct_bill, stripe_object_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def past_due(staff):
    """$80.00 owed on an October statement, unpaid and past due on Nov 23 (limit raised to $200)."""
    with time_machine.travel(ny(2026, 10, 1, 9, 0), tick=False):
        account = open_direct_bill(state="AK")
        credit_limit_change(account=account, credit_limit_cents=20000, actor=staff, reason="Good history")
        adjustment_create(account=account, amount_cents=-8000, reason="Calls carried over", actor=staff)
    with time_machine.travel(ny(2026, 11, 1, 2, 0), tick=False):
        statements_monthly_run()
    with time_machine.travel(ny(2026, 11, 23, 6, 0), tick=False):
        dunning.dunning_run()
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    return Statement.objects.get(account=account)


def test_pay_a_statement_by_card_over_fifty_dollars_with_the_fee_and_service_returns(past_due, stripe_server, client):
    account = past_due.account
    holder = account.holder
    client.force_login(holder)
    pay_url = reverse("billing:statement_pay", args=[past_due.pk])
    form = client.get(pay_url).content.decode()
    assert 'value="80.00"' in form  # the balance due is suggested

    too_much = client.post(pay_url, {"amount": "80.01"})
    assert too_much.status_code == 400
    assert "at most $80.00" in too_much.content.decode()

    review = client.post(pay_url, {"amount": "80.00"})
    assert review.status_code == 200
    html = review.content.decode()
    assert 'id="quote-amount">$80.00<' in html
    assert 'id="quote-fee">$3.00<' in html
    assert 'id="quote-total"><strong>$83.00</strong>' in html

    setup_id = confirmed_setup_intent(stripe_server, holder)
    done = client.post(
        reverse("billing:statement_pay_confirm", args=[past_due.pk]), {"amount": "80.00", "setup_intent": setup_id}
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("billing:statement_detail", args=[past_due.pk])
    payment = Payment.objects.get(account=account)
    assert (payment.status, payment.amount_cents, payment.fee_cents) == (PaymentStatus.SUCCEEDED, 8000, 300)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE  # at once, no dunning run needed
    assert balance_of(account) == 0
    page = client.get(done["Location"]).content.decode()
    assert 'data-total="paid">$80.00<' in page and 'data-total="due" class="">$0.00<' in page
    assert "Pay by card" not in page
    assert ledger.check() == []


def test_a_partial_card_payment_keeps_service_off_and_shows_what_is_left(past_due, stripe_server, client):
    holder = past_due.account.holder
    client.force_login(holder)
    setup_id = confirmed_setup_intent(stripe_server, holder)
    client.post(
        reverse("billing:statement_pay_confirm", args=[past_due.pk]), {"amount": "30.00", "setup_intent": setup_id}
    )
    past_due.account.refresh_from_db()
    assert past_due.account.status == AccountStatus.SUSPENDED
    page = client.get(reverse("billing:statement_detail", args=[past_due.pk])).content.decode()
    assert 'data-total="paid">$30.00<' in page
    assert 'data-total="due" class="owed">$50.00<' in page


def test_a_declined_card_changes_nothing(past_due, stripe_server, client):
    holder = past_due.account.holder
    client.force_login(holder)
    setup_id = confirmed_setup_intent(stripe_server, holder, DECLINED_CARD)
    response = client.post(
        reverse("billing:statement_pay_confirm", args=[past_due.pk]), {"amount": "80.00", "setup_intent": setup_id}
    )
    assert response.status_code == 400
    past_due.account.refresh_from_db()
    assert balance_of(past_due.account) == -8000
    assert past_due.account.status == AccountStatus.SUSPENDED


def test_fee_changed_after_review_charges_nothing_and_shows_the_new_total(past_due, stripe_server, client):
    account = past_due.account
    client.force_login(account.holder)
    FeeSchedule.objects.update_or_create(channel="web", defaults={"fee_cents": 300})
    review = client.post(reverse("billing:statement_pay", args=[past_due.pk]), {"amount": "80.00"})
    assert 'name="total_cents" value="8300"' in review.content.decode()
    FeeSchedule.objects.filter(channel="web").update(fee_cents=150)
    setup_id = confirmed_setup_intent(stripe_server, account.holder)
    again = client.post(
        reverse("billing:statement_pay_confirm", args=[past_due.pk]),
        {"amount": "80.00", "setup_intent": setup_id, "total_cents": "8300"},
    )
    assert again.status_code == 400
    assert "fee changed" in again.content.decode()
    assert 'id="quote-total"><strong>$81.50</strong>' in again.content.decode()
    assert not Payment.objects.filter(account=account).exists()
    assert balance_of(account) == -8000


def test_the_statement_review_step_creates_no_stripe_object(past_due, stripe_server, client):
    client.force_login(past_due.account.holder)
    before = [stripe_object_count(stripe_server, kind) for kind in ("customers", "setup_intents")]
    pay_url = reverse("billing:statement_pay", args=[past_due.pk])
    assert client.post(pay_url, {"amount": "80.00"}).status_code == 200
    assert client.post(pay_url, {"amount": "80.01"}).status_code == 400
    confirm = reverse("billing:statement_pay_confirm", args=[past_due.pk])
    assert client.post(confirm, {"amount": "80.00", "setup_intent": "seti_unknown"}).status_code == 400
    assert [stripe_object_count(stripe_server, kind) for kind in ("customers", "setup_intents")] == before
