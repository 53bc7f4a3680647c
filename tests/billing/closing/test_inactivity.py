"""Inactive prepaid balances are never forfeited: a notice at 150 days without a payment or a call,
then, at 180 days and at least 30 days after the notice, the account is closed and its balance
refunded like any closing. The clock is moved with time-machine; PostgreSQL and localstripe are real."""

import datetime
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import AccountEvent, AccountKind, AccountStatus, CallingAccount
from accounts.services import account_open
from billing.closing import activity, inactivity
from billing.closing.models import InactivityNotice
from billing.ledger.models import SystemAccount
from billing.payments import selectors
from billing.payments.models import Refund, RefundMethod, RefundStatus
from billing.statements.adjustments import adjustment_create
from billing.tasks import inactive_balances_daily_run
from calls.callpath.authorize import call_authorize
from calls.callpath.complete import call_complete
from tests.factories import UserFactory
from tests.helpers import NY, balance_of, card_payment, mail_payment, ready_for_calls, stripe_refund, system_posted

START = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=NY)
NUMBER = "+18605550188"


def day(n: int, hour: int = 7) -> datetime.datetime:
    """Local `hour` on the n-th day after START's date (when the daily run fires)."""
    return datetime.datetime.combine(START.date() + datetime.timedelta(days=n), datetime.time(hour), tzinfo=NY)


QUIET = {"nothing": 0, "notice_sent": 0, "refunded": 0, "waiting": 0, "failed": 0}


def shown(when: datetime.datetime) -> str:
    """A date as the emails show it ("Jul 4, 2026")."""
    return f"{when:%b} {when.day}, {when.year}"


def run_on(n: int) -> dict[str, int]:
    with time_machine.travel(day(n), tick=True):
        return inactive_balances_daily_run()


def notices(account) -> list[InactivityNotice]:
    return list(InactivityNotice.objects.filter(account=account).order_by("for_last_activity_date"))


def inactivity_emails() -> list:
    return [message for message in mail.outbox if "unused" in message.subject]


@pytest.fixture
def funded_by_card(stripe_server, holder):
    with time_machine.travel(START, tick=True):
        account = account_open(holder=holder)
        payment = card_payment(stripe_server, holder, account, 2500)
    mail.outbox.clear()
    return account, payment


@pytest.fixture
def funded_by_mail(holder, staff):
    with time_machine.travel(START, tick=True):
        account = account_open(holder=holder)
        mail_payment(account, 2000, staff)
    mail.outbox.clear()
    return account


def test_last_activity_is_the_latest_payment_or_call_and_not_a_login(holder, staff, client):
    with time_machine.travel(START, tick=False):
        account = account_open(holder=holder)
        assert activity.account_last_activity_date(account=account) == START.date()
    with time_machine.travel(day(10), tick=False):
        mail_payment(account, 2000, staff)
    assert activity.account_last_activity_date(account=account) == day(10).date()
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    with time_machine.travel(day(40), tick=False):
        call_complete(
            call_id="c-40",
            facility_code=facility.code,
            inmate_number=inmate.inmate_number,
            dialed_number=NUMBER,
            started_at=timezone.now() - datetime.timedelta(minutes=5),
            duration_seconds=120,
            disconnect="normal",
        )
    with time_machine.travel(day(60), tick=False):
        client.force_login(holder)
        assert client.get("/dashboard/").status_code == 200
    holder.refresh_from_db()
    assert holder.last_login.date() == day(60).date()
    assert activity.account_last_activity_date(account=account) == day(40).date()


def test_no_notice_at_149_days_one_notice_at_150_even_when_run_twice(funded_by_card):
    account, _ = funded_by_card

    assert run_on(149)["notice_sent"] == 0
    assert notices(account) == [] and inactivity_emails() == []

    assert run_on(150)["notice_sent"] == 1
    assert run_on(150)["notice_sent"] == 0
    assert run_on(151)["notice_sent"] == 0

    [notice] = notices(account)
    assert notice.for_last_activity_date == START.date()
    assert timezone.localdate(notice.sent_at) == day(150).date()
    assert (notice.balance_cents, notice.refund_date) == (2500, day(180).date())
    [email] = inactivity_emails()
    assert email.to == [account.holder.email]
    assert "$25.00" in email.subject and shown(day(180)) in email.subject
    assert "$25.00" in email.body and shown(START) in email.body
    assert f"before {shown(day(180))}" in email.body
    assert "Any payment or any call on it keeps it open" in email.body
    assert f"/accounts/{account.pk}/" in email.body
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_notice():
    holder, staff = UserFactory(), UserFactory(is_staff=True)
    with time_machine.travel(START, tick=True):
        account = account_open(holder=holder)
        mail_payment(account, 2000, staff)
    mail.outbox.clear()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def review():
        try:
            barrier.wait()
            results.append(inactivity.inactive_balances_review(now=day(150)))
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    with time_machine.travel(day(150), tick=True):
        threads = [threading.Thread(target=review) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert sum(result["notice_sent"] for result in results) == 1
    assert len(notices(account)) == 1
    assert len(inactivity_emails()) == 1


def test_no_refund_at_179_days_refund_to_the_card_at_180(
    funded_by_card, stripe_server, django_capture_on_commit_callbacks
):
    account, payment = funded_by_card
    fee_revenue = system_posted(SystemAccount.FEE_REVENUE)
    run_on(150)

    assert run_on(179)["refunded"] == 0
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED and balance_of(account) == 2500
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert run_on(180)["refunded"] == 1

    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    [refund] = Refund.objects.filter(account=account)
    assert (refund.method, refund.status, refund.amount_cents, refund.payment) == (
        RefundMethod.CARD,
        RefundStatus.SUCCEEDED,
        2500,
        payment,
    )
    in_stripe = stripe_refund(stripe_server, refund.stripe_refund_id)
    assert (in_stripe["amount"], in_stripe["status"]) == (2500, "succeeded")
    assert in_stripe["payment_intent"] == payment.stripe_payment_intent_id
    assert balance_of(account) == 0
    # Nothing was forfeited: no revenue from the closing, the money went back to the card.
    assert system_posted(SystemAccount.FEE_REVENUE) == fee_revenue
    assert system_posted(SystemAccount.CALL_REVENUE) == 0
    assert system_posted(SystemAccount.ADJUSTMENTS) == 0
    assert selectors.ledger_violations() == []
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.CLOSED)
    assert (event.actor, event.reason) == (None, "Inactive for 180 days: balance refunded")
    [closed] = [message for message in mail.outbox if "closed" in message.subject]
    assert "$25.00 back to the card ending 4242" in closed.body

    # Closed stays closed: the next runs do nothing.
    assert run_on(181) == QUIET


def test_a_payment_after_the_notice_resets_the_clock(funded_by_mail, staff):
    account = funded_by_mail
    run_on(150)
    with time_machine.travel(day(160), tick=True):
        mail_payment(account, 500, staff)

    assert run_on(180) == QUIET
    assert run_on(309)["notice_sent"] == 0
    assert run_on(310)["notice_sent"] == 1
    assert [n.for_last_activity_date for n in notices(account)] == [START.date(), day(160).date()]
    assert notices(account)[1].refund_date == day(340).date()
    assert run_on(339)["refunded"] == 0
    assert run_on(340)["refunded"] == 1
    [refund] = Refund.objects.filter(account=account)
    assert (refund.method, refund.amount_cents) == (RefundMethod.CHECK, 2500)
    assert selectors.ledger_violations() == []


def test_a_call_after_the_notice_resets_the_clock(funded_by_mail, staff, holder):
    account = funded_by_mail
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    run_on(150)
    with time_machine.travel(day(160, hour=18), tick=True):
        call_complete(
            call_id="c-160",
            facility_code=facility.code,
            inmate_number=inmate.inmate_number,
            dialed_number=NUMBER,
            started_at=timezone.now() - datetime.timedelta(minutes=3),
            duration_seconds=150,
            disconnect="normal",
        )

    assert run_on(180)["refunded"] == 0
    assert run_on(200)["refunded"] == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert run_on(310)["notice_sent"] == 1
    assert notices(account)[-1].for_last_activity_date == day(160).date()


def test_zero_and_negative_balances_and_direct_bill_credits_are_left_alone(holder, staff):
    with time_machine.travel(START, tick=True):
        empty = account_open(holder=holder)
        owing = account_open(holder=UserFactory())
        mail_payment(owing, 500, staff)
        adjustment_create(account=owing, amount_cents=-800, reason="Late call records", actor=staff)
        drained = account_open(holder=UserFactory())
        mail_payment(drained, 500, staff)
        adjustment_create(account=drained, amount_cents=-500, reason="Correction", actor=staff)
        # Direct Bill is postpaid: a credit on it is not a prepaid balance.
        postpaid = account_open(
            holder=UserFactory(), kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE, credit_limit_cents=5000
        )
        adjustment_create(account=postpaid, amount_cents=700, reason="Goodwill credit", actor=staff)
    mail.outbox.clear()
    assert balance_of(owing) == -300

    for n in (150, 180, 400):
        assert run_on(n) == QUIET

    assert not InactivityNotice.objects.exists()
    assert not Refund.objects.exists()
    assert mail.outbox == []
    assert not CallingAccount.objects.filter(status=AccountStatus.CLOSED).exists()
    assert balance_of(owing) == -300 and balance_of(empty) == 0 and balance_of(postpaid) == 700
    assert selectors.ledger_violations() == []


def test_a_late_notice_postpones_the_refund_until_30_days_after_it(funded_by_mail):
    account = funded_by_mail
    # The daily run did not happen for weeks (workers down): the first notice goes out on day 165.
    assert run_on(165)["notice_sent"] == 1
    [notice] = notices(account)
    assert notice.refund_date == day(195).date()
    [email] = inactivity_emails()
    assert f"before {shown(day(195))}" in email.body

    assert run_on(180)["refunded"] == 0
    assert run_on(194)["refunded"] == 0
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED

    assert run_on(195)["refunded"] == 1
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    [refund] = Refund.objects.filter(account=account)
    assert (refund.method, refund.amount_cents, refund.status) == (RefundMethod.CHECK, 2000, RefundStatus.PENDING)
    assert balance_of(account) == 0
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 2000
    assert len(inactivity_emails()) == 1
    assert selectors.ledger_violations() == []


def test_an_unsent_notice_does_not_start_the_refund_clock(funded_by_mail, monkeypatch):
    account = funded_by_mail

    def unreachable(**kwargs):
        raise ConnectionError("mail server down")

    monkeypatch.setattr("billing.closing.inactivity.send_templated", unreachable)
    assert run_on(150)["failed"] == 1
    [notice] = notices(account)
    assert notice.sent_at is None
    monkeypatch.undo()

    assert run_on(185)["notice_sent"] == 1
    assert notices(account)[0].refund_date == day(215).date()
    assert run_on(200)["refunded"] == 0
    assert run_on(215)["refunded"] == 1


def test_the_admin_account_page_shows_the_last_activity_date_and_the_notices(funded_by_mail, staff, client):
    account = funded_by_mail
    run_on(150)
    client.force_login(staff)

    with time_machine.travel(day(150), tick=True):
        page = client.get(reverse("admin:accounts_callingaccount_change", args=[account.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert f'<div class="readonly">{date_format(START.date())} (150 days ago)</div>' in html
    assert "Inactivity notices" in html
    assert f"<p>{date_format(day(180).date())}</p>" in html and "<p>$20.00</p>" in html


def test_a_call_in_progress_on_refund_day_waits_and_then_counts_as_activity(funded_by_mail, staff, holder):
    account = funded_by_mail
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    run_on(150)
    with time_machine.travel(day(180, hour=6), tick=True):
        answer = call_authorize(
            call_id="c-180", facility_code=facility.code, inmate_number=inmate.inmate_number, dialed_number=NUMBER
        )
    assert answer.decision == "allow"

    assert run_on(180)["waiting"] == 1
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and not Refund.objects.exists()

    with time_machine.travel(day(180, hour=8), tick=True):
        call_complete(
            call_id="c-180",
            facility_code=facility.code,
            inmate_number=inmate.inmate_number,
            dialed_number=NUMBER,
            started_at=day(180, hour=6),
            duration_seconds=300,
            disconnect="normal",
        )
    assert run_on(181) == QUIET
    assert activity.account_last_activity_date(account=account) == day(180).date()


def test_money_arriving_while_the_refund_run_decides_keeps_the_account_open(funded_by_mail, staff, monkeypatch):
    account = funded_by_mail
    assert run_on(150)["notice_sent"] == 1
    real = inactivity._call_in_progress

    def pay_meanwhile(**kwargs):
        mail_payment(account, 5000, staff)  # a money order recorded between the run's checks and the close
        return real(**kwargs)

    monkeypatch.setattr(inactivity, "_call_in_progress", pay_meanwhile)
    assert run_on(181)["refunded"] == 0
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED
    assert not Refund.objects.filter(account=account).exists()
    assert balance_of(account) == 7000
