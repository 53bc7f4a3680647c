"""Closing an account refunds its balance without fee: to the cards it came from (real localstripe
refunds), the rest by check recorded by staff. Real PostgreSQL, real localstripe."""

import datetime
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, AccountKind, AccountStatus, CallingAccount, PhoneNumber
from accounts.services import account_activate, account_open, phone_number_add
from billing.closing import services as refunds
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, Hold, JournalEntry, SystemAccount
from billing.payments import refunds as payment_refunds
from billing.payments import selectors, services, stripe_gateway
from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus, Refund, RefundMethod, RefundStatus
from calls.callpath.authorize import call_authorize
from calls.callpath.complete import call_complete
from calls.callpath.errors import DenyReason
from calls.sponsorships import sponsorship_start
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory
from tests.helpers import (
    balance_of,
    card_payment,
    confirmed_setup_intent,
    mail_payment,
    ready_for_calls,
    second_approval,
    stripe_refund,
    stripe_refunds_of,
    system_posted,
)

NUMBER = "+18605550177"


def test_closing_refunds_a_card_funded_balance_to_the_card_and_frees_everything(
    stripe_server, holder, account, staff, django_capture_on_commit_callbacks
):
    facility = FacilityFactory()
    RatePlanFactory(facility=facility)
    inmate, sponsored = InmateFactory(facility=facility), InmateFactory(facility=facility)
    payment = card_payment(stripe_server, holder, account, 2500)
    account_activate(account=account, actor=staff)
    phone_number_add(account=account, number=NUMBER, label="Home", line_type="landline", actor=holder)
    sponsorship = sponsorship_start(
        account=account, facility=facility, inmate_number=sponsored.inmate_number, actor=holder, confirmed=True
    )
    # A call authorized hours ago and never reported: its hold has expired but is still open.
    before = call_authorize(
        call_id="c-before",
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=NUMBER,
        now=timezone.now() - settings.CALL_HOLD_TTL - datetime.timedelta(minutes=1),
    )
    assert before.decision == "allow"
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        closing = refunds.account_close(account=account, actor=holder, reason="Moving away")

    assert len(closing) == 1
    refund = closing[0]
    assert (refund.method, refund.status, refund.amount_cents, refund.payment) == (
        RefundMethod.CARD,
        RefundStatus.SUCCEEDED,
        2500,
        payment,
    )
    in_stripe = stripe_refund(stripe_server, refund.stripe_refund_id)
    assert in_stripe["amount"] == 2500
    assert in_stripe["payment_intent"] == payment.stripe_payment_intent_id
    assert in_stripe["status"] == "succeeded"
    # The fee was revenue for a service given: it stays; the amount comes back in full.
    assert system_posted(SystemAccount.FEE_REVENUE) == 300
    assert system_posted(SystemAccount.CARD_CLEARING) == -300
    assert balance_of(account) == 0
    assert refund.entry.idempotency_key == f"refund:{refund.pk}"
    assert refund.entry.kind == EntryKind.REFUND
    assert selectors.ledger_violations() == []

    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED and account.closed_at
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.CLOSED)
    assert event.reason == "Moving away" and event.actor == holder
    assert not PhoneNumber.objects.filter(account=account, is_active=True).exists()
    sponsorship.refresh_from_db()
    assert sponsorship.ended_at == account.closed_at
    assert Hold.objects.get(call_id="c-before").released_at == account.closed_at

    after = call_authorize(
        call_id="c-after", facility_code=facility.code, inmate_number=inmate.inmate_number, dialed_number=NUMBER
    )
    # The number is on no open account now: the call may be paid on the spot (a single call).
    assert (after.decision, after.reason) == ("deny", DenyReason.NUMBER_NOT_REGISTERED)
    assert after.single_call is not None
    other = account_open(holder=UserFactory())
    phone_number_add(account=other, number=NUMBER, label="Home", line_type="landline", actor=other.holder)
    assert PhoneNumber.objects.get(number=NUMBER, is_active=True).account == other

    closed = [m for m in mail.outbox if "closed" in m.subject]  # the payment's receipt went out too
    assert len(closed) == 1
    assert "$25.00 back to the card ending 4242" in closed[0].body


def test_two_card_payments_and_a_mail_payment_split_newest_card_first_rest_by_check(
    stripe_server, holder, account, staff
):
    older = card_payment(stripe_server, holder, account, 2000)
    newer = card_payment(stripe_server, holder, account, 1500)
    mail_payment(account, 1000, staff)
    plan = refunds.account_close_plan(account=account)
    assert [(line.payment, line.amount_cents) for line in plan.card] == [(newer, 1500), (older, 2000)]
    assert (plan.balance_cents, plan.check_cents, plan.refund_cents) == (4500, 1000, 4500)

    closing = refunds.account_close(account=account, actor=holder)

    assert [(r.method, r.payment_id, r.amount_cents, r.status) for r in closing] == [
        (RefundMethod.CARD, newer.pk, 1500, RefundStatus.SUCCEEDED),
        (RefundMethod.CARD, older.pk, 2000, RefundStatus.SUCCEEDED),
        (RefundMethod.CHECK, None, 1000, RefundStatus.PENDING),
    ]
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, newer.stripe_payment_intent_id)] == [1500]
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, older.stripe_payment_intent_id)] == [2000]
    check = closing[2]
    assert check.entry.idempotency_key == f"refund:{check.pk}"
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 1000
    assert balance_of(account) == 0
    assert selectors.ledger_violations() == []


def test_a_card_payment_partly_spent_is_refunded_only_up_to_the_balance(stripe_server, holder, account):
    payment = card_payment(stripe_server, holder, account, 2000)
    ledger.post(
        idempotency_key="call:spent",
        kind=EntryKind.CALL,
        lines=[(ledger.account_ledger(account), -650), (ledger.system_account(SystemAccount.CALL_REVENUE), 650)],
    )
    closing = refunds.account_close(account=account, actor=holder)
    assert [(r.method, r.amount_cents) for r in closing] == [(RefundMethod.CARD, 1350)]
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)] == [1350]
    assert balance_of(account) == 0


def test_negative_balance_refuses_to_close_and_changes_nothing(holder, account, staff):
    mail_payment(account, 500, staff)
    phone_number_add(account=account, number=NUMBER, label="", line_type="landline", actor=holder)
    ledger.post(
        idempotency_key="call:late",
        kind=EntryKind.CALL,
        lines=[(ledger.account_ledger(account), -800), (ledger.system_account(SystemAccount.CALL_REVENUE), 800)],
    )
    entries = JournalEntry.objects.count()

    with pytest.raises(refunds.CloseError, match="pay what you owe first"):
        refunds.account_close(account=account, actor=holder)

    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_ACTIVATION and account.closed_at is None
    assert balance_of(account) == -300
    assert PhoneNumber.objects.filter(account=account, is_active=True).count() == 1
    assert not Refund.objects.exists()
    assert JournalEntry.objects.count() == entries
    assert not AccountEvent.objects.filter(account=account, action=AccountEvent.Action.CLOSED).exists()


def test_direct_bill_owing_anything_refuses_to_close(holder):
    account = account_open(
        holder=holder, kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE, credit_limit_cents=5000
    )
    ledger.post(
        idempotency_key="call:unbilled",
        kind=EntryKind.CALL,
        lines=[(ledger.account_ledger(account), -120), (ledger.system_account(SystemAccount.CALL_REVENUE), 120)],
    )
    with pytest.raises(refunds.CloseError):
        refunds.account_close(account=account, actor=holder)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_direct_bill_owing_nothing_closes_without_refunds(holder):
    account = account_open(
        holder=holder, kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE, credit_limit_cents=5000
    )
    assert refunds.account_close(account=account, actor=holder) == []
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED


def test_closing_twice_refunds_once(stripe_server, holder, account):
    payment = card_payment(stripe_server, holder, account, 1000)
    refunds.account_close(account=account, actor=holder)
    with pytest.raises(refunds.CloseError, match="already closed"):
        refunds.account_close(account=account, actor=holder)
    assert Refund.objects.filter(account=account).count() == 1
    assert len(stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)) == 1
    assert balance_of(account) == 0


@pytest.mark.django_db(transaction=True)
def test_two_closings_at_once_refund_once(stripe_server):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = card_payment(stripe_server, holder, account, 3000)
    staff = UserFactory(is_staff=True)
    mail_payment(account, 700, staff)
    barrier = threading.Barrier(2)
    outcomes = []

    def close(actor):
        try:
            barrier.wait()
            refunds.account_close(account=CallingAccount.objects.get(pk=account.pk), actor=actor)
            outcomes.append("closed")
        except refunds.CloseError as exc:
            outcomes.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close, args=(actor,)) for actor in (holder, staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["This account is already closed.", "closed"]
    assert [(r.method, r.amount_cents) for r in Refund.objects.filter(account=account).order_by("id")] == [
        (RefundMethod.CARD, 3000),
        (RefundMethod.CHECK, 700),
    ]
    assert len(stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)) == 1
    assert balance_of(account) == 0
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.CLOSED).count() == 1
    assert selectors.ledger_violations() == []


def test_a_card_refund_stripe_refuses_becomes_a_check_refund(stripe_server, holder, account):
    payment = card_payment(stripe_server, holder, account, 1800)
    # Stripe no longer knows the payment (for example it was removed on the processor's side).
    Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_unknown_to_stripe")

    closing = refunds.account_close(account=account, actor=holder)

    card, check = closing
    assert (card.method, card.status, card.entry) == (RefundMethod.CARD, RefundStatus.FAILED, None)
    assert card.failure_message
    assert (check.method, check.status, check.amount_cents) == (RefundMethod.CHECK, RefundStatus.PENDING, 1800)
    assert balance_of(account) == 0
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 1800
    assert selectors.ledger_violations() == []


def test_an_unreachable_processor_leaves_the_card_refund_pending_for_a_retry(stripe_server, holder, account, settings):
    payment = card_payment(stripe_server, holder, account, 1200)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there

    (refund,) = refunds.account_close(account=account, actor=holder)

    assert (refund.status, refund.entry) == (RefundStatus.PENDING, None)
    assert balance_of(account) == 1200
    settings.STRIPE_API_BASE = stripe_server
    assert payment_refunds.refunds_card_retry_pending() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)] == [1200]
    assert balance_of(account) == 0
    assert payment_refunds.refunds_card_retry_pending() == 0
    assert selectors.ledger_violations() == []


def test_staff_mark_a_check_refund_sent_in_the_admin(client, holder, account, staff):
    mail_payment(account, 2000, staff)
    (check,) = refunds.account_close(account=account, actor=holder)
    second_approval(check)  # `staff` recorded the mail payment
    client.force_login(staff)
    changelist = reverse("admin:billing_refund_changelist")
    action = {"action": "mark_check_sent", "_selected_action": [check.pk]}

    page = client.post(changelist, action)
    assert page.status_code == 200 and f"check_number_{check.pk}" in page.text
    done = client.post(changelist, {**action, "apply": "1", f"check_number_{check.pk}": " 100234 "})
    assert done.status_code == 302

    check.refresh_from_db()
    assert (check.status, check.check_number, check.recorded_by) == (RefundStatus.SUCCEEDED, "100234", staff)
    assert check.sent_entry.idempotency_key == f"refund:{check.pk}:sent"
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 0
    assert system_posted(SystemAccount.MAIL_CLEARING) == 0  # 2000 in by mail, 2000 out by check
    with pytest.raises(payment_refunds.RefundError):
        payment_refunds.refund_check_mark_sent(refund=check, check_number="100235", actor=staff)
    assert selectors.ledger_violations() == []
    assert client.get(changelist + "?status__exact=succeeded&method__exact=check").status_code == 200


def test_staff_close_an_account_from_the_admin_with_a_reason(client, holder, account, staff):
    mail_payment(account, 900, staff)
    client.force_login(staff)
    changelist = reverse("admin:accounts_callingaccount_changelist")
    action = {"action": "close", "_selected_action": [account.pk]}
    assert client.post(changelist, action).status_code == 200
    assert client.post(changelist, {**action, "apply": "1", "reason": "Holder asked by phone"}).status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.CLOSED)
    assert (event.reason, event.actor) == ("Holder asked by phone", staff)
    assert Refund.objects.get(account=account).amount_cents == 900


def test_another_holder_cannot_see_or_close_your_account(client, holder, account, staff):
    mail_payment(account, 900, staff)
    client.force_login(UserFactory())
    url = reverse("accounts:account_close", args=[account.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED
    assert not Refund.objects.exists()


def test_closing_needs_a_login(client, account):
    response = client.get(reverse("accounts:account_close", args=[account.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_confirmation_page_shows_the_plan_before_money_moves_then_the_account_shows_closed(
    stripe_server, client, holder, account, staff
):
    card_payment(stripe_server, holder, account, 2500)
    mail_payment(account, 600, staff)
    client.force_login(holder)
    detail = client.get(reverse("accounts:account_detail", args=[account.pk]))
    url = reverse("accounts:account_close", args=[account.pk])
    assert url in detail.text

    page = client.get(url)
    assert page.status_code == 200
    assert "$31.00" in page.text
    assert "card ending 4242" in page.text and "$25.00" in page.text
    assert "By check" in page.text and "$6.00" in page.text
    assert "Processing fees you paid are not refunded" in page.text
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED and not Refund.objects.exists()

    address = {"address_line1": "1 Main Street", "city": "Hartford", "state": "CT", "postal_code": "06103"}
    done = client.post(url, {"reason": "No longer needed", **address})
    assert done.status_code == 302 and done["Location"] == reverse("accounts:account_detail", args=[account.pk])
    closed = client.get(done["Location"])
    assert "Closed" in closed.text and 'id="refunds"' in closed.text
    assert "Refunded" in closed.text and "Check being prepared" in closed.text
    assert url not in closed.text
    assert balance_of(account) == 0


def test_the_confirmation_page_explains_a_refusal_without_a_close_button(client, holder, account):
    ledger.post(
        idempotency_key="call:owed",
        kind=EntryKind.CALL,
        lines=[(ledger.account_ledger(account), -250), (ledger.system_account(SystemAccount.CALL_REVENUE), 250)],
    )
    client.force_login(holder)
    url = reverse("accounts:account_close", args=[account.pk])
    page = client.get(url)
    assert "pay what you owe first" in page.text and "Close the account" not in page.text
    refused = client.post(url)
    assert refused.status_code == 400 and "pay what you owe first" in refused.text
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED


def test_a_payment_still_in_flight_stops_closing_until_it_settles(holder, account):
    Payment.objects.create(account=account, channel=Channel.WEB, amount_cents=1000, fee_cents=300, status="processing")
    with pytest.raises(refunds.CloseError, match="still being processed"):
        refunds.account_close(account=account, actor=holder)
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED


def test_the_ledger_check_names_a_refund_that_was_not_posted(holder, account, staff):
    payment = mail_payment(account, 500, staff)
    Refund.objects.create(
        account=account, payment=payment, method=RefundMethod.CARD, amount_cents=500, status=RefundStatus.SUCCEEDED
    )
    assert [v.rule for v in selectors.ledger_violations()] == ["refund_posting_state"]


def _funded_active_account_with_a_call_allowed(holder, staff):
    account = account_open(holder=holder)
    mail_payment(account, 2000, staff)
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    answer = call_authorize(
        call_id="in-progress", facility_code=facility.code, inmate_number=inmate.inmate_number, dialed_number=NUMBER
    )
    assert answer.decision == "allow"
    return account, facility, inmate


def test_a_call_in_progress_stops_closing_until_it_ends(holder, staff):
    account, facility, inmate = _funded_active_account_with_a_call_allowed(holder, staff)
    with pytest.raises(refunds.CloseError, match="call is in progress"):
        refunds.account_close(account=account, actor=holder)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and not Refund.objects.exists()

    started = timezone.now() - datetime.timedelta(minutes=5)
    call_complete(
        call_id="in-progress",
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=NUMBER,
        started_at=started,
        duration_seconds=240,
        disconnect="normal",
    )
    closing = refunds.account_close(account=account, actor=holder)
    assert sum(r.amount_cents for r in closing) == balance_before_close(account, closing)
    assert balance_of(account) == 0
    assert selectors.ledger_violations() == []


def balance_before_close(account, closing) -> int:
    return sum(r.amount_cents for r in closing) + balance_of(account)


def test_a_payment_that_settles_after_the_close_goes_straight_back(
    stripe_server, holder, django_capture_on_commit_callbacks
):
    """A 3-D Secure payment abandoned for days, then completed after the account closed."""
    account = account_open(holder=holder)
    paid = card_payment(stripe_server, holder, account, 1000)  # a real PaymentIntent to refund against
    refunds.account_close(account=account, actor=holder)
    late = Payment.objects.create(
        account=account,
        channel=Channel.WEB,
        method=PaymentMethod.CARD,
        amount_cents=700,
        status=PaymentStatus.REQUIRES_ACTION,
        stripe_payment_intent_id=paid.stripe_payment_intent_id + "-late",
    )
    Payment.objects.filter(pk=late.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_intent_apply(
            intent=stripe_gateway.Intent(
                id=late.stripe_payment_intent_id,
                status="succeeded",
                amount_cents=700,
                currency="usd",
                client_secret="",
                customer="",
                metadata={"payment_id": str(late.pk)},
            )
        )
    refund = Refund.objects.get(payment=late)
    assert (refund.method, refund.amount_cents) == (RefundMethod.CARD, 700)
    # localstripe knows no such PaymentIntent, so it refuses: the money goes back by check instead.
    assert refund.status == RefundStatus.FAILED
    assert Refund.objects.filter(account=account, method=RefundMethod.CHECK, amount_cents=700).exists()
    assert balance_of(account) == 0
    assert selectors.ledger_violations() == []


def test_a_card_payment_racing_a_close_is_refused_before_the_card_is_charged(stripe_server, holder, monkeypatch):
    """The payment is decided under the account's ledger-row lock, which the close also takes: a
    close that won the race is seen, and nothing is charged. (A charge that does land on a closed
    account, e.g. a late 3-D Secure, goes straight back: the test above.)"""
    account = account_open(holder=holder)
    setup = confirmed_setup_intent(stripe_server, holder)
    real = services._confirmed_setup

    def close_meanwhile(**kwargs):
        refunds.account_close(account=account, actor=holder)  # another tab closes the account here
        return real(**kwargs)

    monkeypatch.setattr(services, "_confirmed_setup", close_meanwhile)
    with pytest.raises(services.PaymentError, match="closed"):
        services.card_payment_create(holder=holder, account=account, amount_cents=1500, setup_intent_id=setup)
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    assert not Payment.objects.filter(account=account).exists()
    assert balance_of(account) == 0
    assert selectors.ledger_violations() == []


def test_a_pending_card_refund_is_posted_only_once_the_processor_settles_it(
    stripe_server, holder, account, monkeypatch
):
    card_payment(stripe_server, holder, account, 1200)
    real_create = stripe_gateway.refund_create

    def pending(**kwargs):
        result = real_create(**kwargs)
        return stripe_gateway.RefundResult(id=result.id, status="pending", amount_cents=result.amount_cents)

    monkeypatch.setattr(stripe_gateway, "refund_create", pending)
    (refund,) = refunds.account_close(account=account, actor=account.holder)
    assert refund.status == RefundStatus.PENDING and refund.entry is None and refund.stripe_refund_id
    assert balance_of(account) == 1200  # nothing posted while the money has not moved
    assert payment_refunds.refunds_card_retry_pending() == 1  # asks Stripe, which now says succeeded
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.entry is not None
    assert balance_of(account) == 0
    assert len(stripe_refunds_of(stripe_server, refund.payment.stripe_payment_intent_id)) == 1
    assert selectors.ledger_violations() == []
