"""Warnings before money runs out, on the suite's real localstripe: the low-balance email once per
crossing, the calls-stopped notice, and auto-reload from a saved card (once a day, up to a monthly
cap, turned off with an email when the card needs the holder or is declined)."""

import datetime
import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboxMessage
from accounts.outbox import outbox_drain
from accounts.services import account_reinstate, account_suspend
from billing import tasks as billing_tasks
from billing.payments import autoreload
from billing.payments import services as payment_services
from billing.payments.models import AutoReload, FeeSchedule, Payment, PaymentStatus
from billing.payments.selectors import ledger_violations
from tests.helpers import (
    DECLINED_CARD,
    OK_CARD,
    THREE_DS_CARD,
    Calls,
    balance_of,
    browser_confirms_card,
    deposit,
    make_account,
)

pytestmark = pytest.mark.django_db

OTHER_3DS_CARD = "4000002760003184"


def _subjects(word: str) -> list[str]:
    return [m.subject for m in mail.outbox if word in m.subject]


def _save_card(base_url, account, *, number=OK_CARD, amount=500, threshold=800, cap=5000):
    setup_id, secret = autoreload.saved_card_setup_start(holder=account.holder)
    assert browser_confirms_card(base_url, secret, number)["status"] == "succeeded"
    return autoreload.auto_reload_save(
        account=account,
        holder=account.holder,
        setup_intent_id=setup_id,
        terms=autoreload.ReloadTerms(amount_cents=amount, threshold_cents=threshold, monthly_cap_cents=cap),
    )


def _reloads(account):
    return list(Payment.objects.filter(account=account, auto_reload=True).order_by("id"))


def test_low_balance_email_is_sent_once_per_crossing():
    calls = Calls()
    account = make_account(balance_cents=1000)  # default threshold $5.00
    for _ in range(4):  # 10-minute calls of $2.23: 7.77, 5.54, 3.31 (crosses), 1.08
        calls.complete(number=account.test_number, minutes=10)
    outbox_drain()
    assert len(_subjects("is low")) == 1
    assert "$3.31" in _subjects("is low")[0]
    deposit(account, 1000)  # back above: a new crossing alerts again
    for _ in range(3):
        calls.complete(number=account.test_number, minutes=10)
    outbox_drain()
    assert len(_subjects("is low")) == 2


def test_a_call_into_a_negative_balance_sends_the_calls_stopped_notice_once():
    calls = Calls()
    account = make_account(balance_cents=100)
    calls.complete(number=account.test_number, minutes=10)
    calls.complete(number=account.test_number, minutes=10)
    outbox_drain()
    assert len(_subjects("have stopped")) == 1
    body = next(m.body for m in mail.outbox if "have stopped" in m.subject)
    assert "you owe $1.23" in body


def test_auto_reload_fires_once_when_a_call_crosses_the_threshold(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, amount=2000, threshold=800)
    calls.complete(number=account.test_number, minutes=5)  # 10.00 - 1.12 = 8.88: above the threshold
    outbox_drain()
    assert _reloads(account) == []
    calls.complete(number=account.test_number, minutes=10)  # 8.88 - 2.23 = 6.65: below
    # The call path wrote one outbox row and never called Stripe.
    assert OutboxMessage.objects.filter(kind="billing.balance_crossed", done_at=None).count() == 1
    assert _reloads(account) == []
    outbox_drain()
    (reload,) = _reloads(account)
    assert reload.status == PaymentStatus.SUCCEEDED
    assert (reload.amount_cents, reload.fee_cents) == (2000, 300)
    assert balance_of(account) == 665 + 2000
    assert len(_subjects("receipt")) == 1  # a receipt each time
    outbox_drain()
    assert len(_reloads(account)) == 1


def test_auto_reload_never_twice_in_a_day_nor_past_the_monthly_cap(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=1000)
    start = timezone.localtime().replace(day=2, hour=9, minute=0, second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        _save_card(stripe_server, account, amount=500, threshold=5000, cap=1600)
        calls.complete(number=account.test_number, minutes=2)
        outbox_drain()
        assert len(_reloads(account)) == 1
        calls.complete(number=account.test_number, minutes=2)  # still below the threshold, same day
        outbox_drain()
        assert len(_reloads(account)) == 1
    with time_machine.travel(start + datetime.timedelta(days=1, hours=1), tick=False):
        calls.complete(number=account.test_number, minutes=2)
        outbox_drain()
        assert len(_reloads(account)) == 2  # the next day: $16.00 this month (amounts and fees), the cap
    with time_machine.travel(start + datetime.timedelta(days=2, hours=2), tick=False):
        calls.complete(number=account.test_number, minutes=2)
        outbox_drain()
        assert len(_reloads(account)) == 2  # a third would pass the monthly cap
    assert all(p.status == PaymentStatus.SUCCEEDED for p in _reloads(account))
    assert AutoReload.objects.get(account=account).enabled


@pytest.mark.parametrize("card", [THREE_DS_CARD, OTHER_3DS_CARD])
def test_a_card_that_needs_authentication_turns_auto_reload_off_and_emails_the_holder(stripe_server, card):
    calls = Calls()
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, number=card, amount=2000, threshold=800)
    calls.complete(number=account.test_number, minutes=10)
    outbox_drain()
    (reload,) = _reloads(account)
    assert reload.status == PaymentStatus.CANCELED  # nothing charged
    assert balance_of(account) == 777
    config = AutoReload.objects.get(account=account)
    assert not config.enabled and config.stopped_reason == "authentication_required"
    account.refresh_from_db()
    assert account.auto_reload_threshold_cents is None  # the call path stops asking
    (email,) = [m for m in mail.outbox if "auto-reload" in m.subject]
    assert "asked you to confirm" in email.body and "Nothing was charged" in email.body


def test_a_declined_card_turns_auto_reload_off_and_emails_the_holder(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, number=DECLINED_CARD, amount=2000, threshold=800)
    calls.complete(number=account.test_number, minutes=10)
    outbox_drain()
    (reload,) = _reloads(account)
    assert reload.status == PaymentStatus.FAILED
    assert AutoReload.objects.get(account=account).stopped_reason == "declined"
    (email,) = [m for m in mail.outbox if "auto-reload" in m.subject]
    assert "declined" in email.body


class _Stripe402(BaseHTTPRequestHandler):
    """Stripe's other answer to an off-session charge that needs the holder: a 402 card error."""

    def do_POST(self):  # noqa: N802
        body = json.dumps(
            {
                "error": {
                    "type": "card_error",
                    "code": "authentication_required",
                    "decline_code": "authentication_required",
                    "message": "Your card was declined. This transaction requires authentication.",
                }
            }
        ).encode()
        self.send_response(402)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_402_authentication_required_answer_turns_auto_reload_off(stripe_server, settings):
    calls = Calls()
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, amount=2000, threshold=800)
    server = HTTPServer(("127.0.0.1", 0), _Stripe402)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
        calls.complete(number=account.test_number, minutes=10)
        outbox_drain()
    finally:
        server.shutdown()
    (reload,) = _reloads(account)
    assert reload.status == PaymentStatus.CANCELED
    assert AutoReload.objects.get(account=account).stopped_reason == "authentication_required"
    assert len([m for m in mail.outbox if "auto-reload" in m.subject]) == 1


def test_the_saved_card_can_be_removed_at_any_time(stripe_server):
    account = make_account(balance_cents=1000)
    config = _save_card(stripe_server, account)
    autoreload.saved_card_remove(account=account)
    config.refresh_from_db()
    account.refresh_from_db()
    assert not config.enabled and config.stripe_payment_method_id == "" and config.card_last4 == ""
    assert account.auto_reload_threshold_cents is None


def test_suspend_and_reinstate_email_the_holder(staff):
    account = make_account(balance_cents=1000)
    account_suspend(account=account, actor=staff, reason="Fraud review")
    account_reinstate(account=account, actor=staff, reason="Review done")
    outbox_drain()
    assert len(_subjects("is suspended")) == 1
    assert len(_subjects("no longer suspended")) == 1


def test_the_monthly_cap_counts_what_the_card_pays_amounts_and_fees(stripe_server):
    calls = Calls()
    account = make_account(balance_cents=1000)
    start = timezone.localtime().replace(day=2, hour=9, minute=0, second=0, microsecond=0)
    with time_machine.travel(start, tick=False):
        # $5.00 reloads with the $3.00 fee: the card pays $8.00 each, so a $12.00 cap allows one.
        _save_card(stripe_server, account, amount=500, threshold=5000, cap=1200)
        calls.complete(number=account.test_number, minutes=2)
        outbox_drain()
        assert [(p.amount_cents, p.fee_cents) for p in _reloads(account)] == [(500, 300)]
    with time_machine.travel(start + datetime.timedelta(days=1, hours=1), tick=False):
        calls.complete(number=account.test_number, minutes=2)
        outbox_drain()
        assert len(_reloads(account)) == 1  # a second would make the card pay $16.00 this month
        assert autoreload.reloads_this_month_cents(account=account) == 800
    assert AutoReload.objects.get(account=account).enabled
    assert ledger_violations() == []


def test_terms_whose_cap_is_below_one_reload_with_its_fee_are_refused_on_the_field(client, stripe_server):
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, amount=500, threshold=800, cap=5000)
    client.force_login(account.holder)
    url = reverse("billing:alerts", args=[account.pk])
    refused = client.post(url, {"action": "reload", "amount": "5.00", "threshold": "8.00", "monthly_cap": "6.00"})
    assert refused.status_code == 400
    assert refused.context["reload_form"].errors["monthly_cap"] == [
        "The monthly limit counts what your card pays: make it at least $8.00, one reload with its fee."
    ]
    config = AutoReload.objects.get(account=account)
    assert (config.enabled, config.monthly_cap_cents) == (True, 5000)  # nothing changed


def test_a_web_fee_change_pauses_terms_it_made_impossible_and_emails_the_holder(stripe_server):
    web_fee = FeeSchedule.objects.get(channel="web")
    payment_services.fee_schedule_update(row=web_fee, fee_cents=100)
    fits, stuck = make_account(balance_cents=1000), make_account(balance_cents=1000)
    _save_card(stripe_server, fits, amount=500, threshold=800, cap=800)
    _save_card(stripe_server, stuck, amount=500, threshold=800, cap=600)  # $5.00 + $1.00: fits today
    outbox_drain()
    mail.outbox.clear()

    payment_services.fee_schedule_update(row=web_fee, fee_cents=300)
    outbox_drain()
    config = AutoReload.objects.get(account=stuck)
    assert (config.enabled, config.stopped_reason) == (False, "cap_below_cost")
    stuck.refresh_from_db()
    assert stuck.auto_reload_threshold_cents is None  # the call path stops asking
    assert AutoReload.objects.get(account=fits).enabled
    (email,) = [m for m in mail.outbox if "auto-reload" in m.subject]
    assert email.to == [stuck.holder.email]
    assert "$6.00" in email.body and "$8.00" in email.body and "higher monthly limit" in email.body
    # Running it again pauses nothing more and emails no one.
    assert autoreload.auto_reload_terms_recheck() == 0


def test_terms_saved_before_caps_counted_the_fee_are_paused_once_by_the_migration(stripe_server):
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, amount=500, threshold=800, cap=5000)
    AutoReload.objects.filter(account=account).update(monthly_cap_cents=500)  # as the old rule allowed
    mail.outbox.clear()
    migration = importlib.import_module("billing.migrations.0015_reload_cap_counts_fee")
    migration.recheck_saved_terms(django_apps, None)
    outbox_drain()
    assert AutoReload.objects.get(account=account).stopped_reason == "cap_below_cost"
    assert len([m for m in mail.outbox if "auto-reload" in m.subject]) == 1


def test_fees_turned_back_on_in_the_settings_pause_impossible_terms_on_the_daily_run(stripe_server, settings):
    settings.PAYMENT_FEES_WAIVED = True
    account = make_account(balance_cents=1000)
    _save_card(stripe_server, account, amount=500, threshold=800, cap=500)  # no fee: one reload fits
    settings.PAYMENT_FEES_WAIVED = False
    mail.outbox.clear()
    assert billing_tasks.auto_reload_terms_daily_run.delay().get() == 1
    outbox_drain()
    assert AutoReload.objects.get(account=account).stopped_reason == "cap_below_cost"
    assert len([m for m in mail.outbox if "auto-reload" in m.subject]) == 1
    assert settings.CELERY_BEAT_SCHEDULE["billing-auto-reload-terms-daily"]["task"] == (
        billing_tasks.auto_reload_terms_daily_run.name
    )
