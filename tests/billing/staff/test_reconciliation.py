"""Reconciliation against the suite's real localstripe: zero differences after normal payments and
refunds; a payment or refund altered on either side is named with a suggested action; the admin page
shows the latest run; the daily task has a pinned name."""

import datetime
import time

import pytest
import stripe
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.services import account_open
from billing import tasks
from billing.closing import services as closing
from billing.payments.models import Payment, Refund
from billing.payments.selectors import ledger_violations
from billing.staff import reconciliation
from tests.factories import UserFactory
from tests.helpers import card_payment, mail_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def since():
    # localstripe lives for the whole session: Stripe records other tests made are older than this
    # (Stripe counts whole seconds, so start on the next one).
    now = timezone.now()
    time.sleep(1 - now.microsecond / 1_000_000)
    return now.replace(microsecond=0) + datetime.timedelta(seconds=1)


@pytest.fixture
def paid(stripe_server, django_capture_on_commit_callbacks, staff):
    """Three card payments (one refunded at close), a mail payment, all through the real services."""
    payments = []
    for cents in (2500, 1000, 4000):
        holder = UserFactory()
        account = account_open(holder=holder)
        payments.append(card_payment(stripe_server, holder, account, cents))
    mail_payment(payments[0].account, 700, staff)
    with django_capture_on_commit_callbacks(execute=True):
        closing.account_close(account=payments[1].account, actor=payments[1].account.holder, reason="Moving")
    refund = Refund.objects.get(account=payments[1].account)
    assert refund.status == "succeeded" and refund.stripe_refund_id
    return payments


def test_normal_payments_and_refunds_reconcile_with_zero_differences(paid, since):
    run = reconciliation.reconciliation_run(since=since)
    assert run.error == ""
    assert list(run.differences.values_list("kind", flat=True)) == []
    assert run.payments_checked == 3 and run.refunds_checked == 1
    assert run.stripe_net_cents == run.ledger_card_clearing_cents == (2800 + 1300 + 4300) - 1000
    assert ledger_violations() == []


def test_paging_reads_every_record(paid, since, monkeypatch):
    # One PaymentIntent per page: the run still sees all of them through `starting_after`.
    original = reconciliation.stripe_gateway.payment_intents_list_all
    monkeypatch.setattr(reconciliation.stripe_gateway, "payment_intents_list_all", lambda **kw: original(page_size=1))
    assert reconciliation.reconciliation_run(since=since).differences.count() == 0


def test_a_payment_altered_on_our_side_is_named(paid, since):
    altered = paid[2]
    Payment.objects.filter(pk=altered.pk).update(amount_cents=3900)
    run = reconciliation.reconciliation_run(since=since)
    kinds = {(d.kind, d.payment_id) for d in run.differences.all()}
    assert ("payment_amount_mismatch", altered.pk) in kinds
    difference = run.differences.get(kind="payment_amount_mismatch")
    assert difference.stripe_id == altered.stripe_payment_intent_id and difference.suggested_action
    assert "$42.00" in difference.ours and "$43.00" in difference.stripes


def test_a_refund_made_only_at_stripe_is_named(paid, since, stripe_server):
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": stripe_server})
    extra = client.v1.refunds.create(params={"payment_intent": paid[0].stripe_payment_intent_id, "amount": 300})
    run = reconciliation.reconciliation_run(since=since)
    unknown = run.differences.get(kind="stripe_refund_unknown")
    assert unknown.stripe_id == extra.id and "$3.00" in unknown.stripes


def test_the_admin_page_shows_the_run_and_the_daily_task_is_pinned(paid, since, admin_client):
    Payment.objects.filter(pk=paid[0].pk).update(amount_cents=2400)
    response = admin_client.post(reverse("admin:billing_reconciliation_run"))
    assert response.status_code == 302
    page = admin_client.get(reverse("admin:billing_reconciliationrun_changelist")).content.decode()
    assert f"Payment #{paid[0].pk}" in page and "payment_amount_mismatch" in page
    assert tasks.reconciliation_daily_run.name == "billing.tasks.reconciliation_daily_run"
    assert settings.CELERY_BEAT_SCHEDULE["billing-reconciliation-daily"]["task"] == tasks.reconciliation_daily_run.name
