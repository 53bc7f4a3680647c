"""A call reported after its account closed is first taken from the account's refunds that have not
left yet (a check not marked sent, then a card refund not yet sent to the processor); only the rest is
a deficit, which the holder pays without a fee. Real PostgreSQL, real localstripe."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from accounts.closed_charges import CLOSED_ACCOUNT_CHARGED
from accounts.models import OutboxMessage
from accounts.outbox import outbox_drain
from accounts.services import account_open
from billing.closing import late_charges
from billing.closing import services as closing
from billing.ledger.models import SystemAccount
from billing.payments import refunds
from billing.payments import services as payments
from billing.payments.models import Refund, RefundMethod, RefundReduction, RefundStatus
from billing.payments.selectors import ledger_violations
from calls.callpath.importing import call_records_import
from tests.factories import UserFactory
from tests.helpers import (
    balance_of,
    card_payment,
    complete,
    mail_payment,
    ready_for_calls,
    run_at_once,
    stripe_refunds_of,
    system_posted,
)

NUMBER = "+18605550191"


def _closed(holder, staff, *, mail_cents=0, card_cents=0, stripe_server=None, monkeypatch=None):
    """An account funded by mail and/or card, with a number called long ago, closed by its holder. With
    `monkeypatch`, the card refunds are left unsent (as when the process stopped right after the close)."""
    account = account_open(holder=holder)
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    if card_cents:
        card_payment(stripe_server, holder, account, card_cents)
    if mail_cents:
        mail_payment(account, mail_cents, staff)
    if monkeypatch is not None:
        monkeypatch.setattr(closing, "refund_card_send", lambda *, refund: refund)
    closing.account_close(account=account, actor=holder)
    if monkeypatch is not None:
        monkeypatch.undo()
    outbox_drain()  # the closing email
    mail.outbox.clear()
    return account, facility, inmate


def _late_call(facility, inmate, cid: str, *, minutes: int = 2):
    """A call that started before the close, reported only now."""
    started = timezone.now() - datetime.timedelta(hours=3)
    done = complete(facility, inmate, NUMBER, seconds=minutes * 60 - 5, cid=cid, started_at=started)
    return done.charge_cents + done.tax_cents


def _late_emails():
    return [message for message in mail.outbox if "late call" in message.subject]


def test_a_late_call_is_taken_from_the_unsent_check_refund_and_the_holder_told_the_new_amount(holder, staff):
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    [check] = Refund.objects.filter(account=account)
    assert (check.method, check.status, check.amount_cents) == (RefundMethod.CHECK, RefundStatus.PENDING, 1150)

    cost = _late_call(facility, inmate, "late-1")
    assert cost > 0 and balance_of(account) == -cost  # the charge itself lands on the closed account
    outbox_drain()

    check.refresh_from_db()
    assert (check.status, check.amount_cents) == (RefundStatus.PENDING, 1150 - cost)
    assert balance_of(account) == 0  # nothing is owed: no card payment, no fee asked for
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 1150 - cost
    [reduction] = RefundReduction.objects.all()
    assert (reduction.refund, reduction.amount_cents, reduction.cause) == (check, cost, "call:late-1")
    assert reduction.entry.idempotency_key == f"refund:{check.pk}:reduced:call:late-1"
    [email] = _late_emails()
    assert email.to == [holder.email]
    new_amount = f"${(1150 - cost) // 100}.{(1150 - cost) % 100:02d}"
    assert f"now {new_amount} (it was $11.50)" in email.body
    assert "You do not owe anything." in email.body
    assert ledger_violations() == []


def test_a_repeated_complete_and_a_repeated_outbox_message_reduce_the_refund_once(holder, staff):
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    cost = _late_call(facility, inmate, "late-2")
    _late_call(facility, inmate, "late-2")  # the platform reports it again
    assert OutboxMessage.objects.filter(kind=CLOSED_ACCOUNT_CHARGED).count() == 1
    outbox_drain()
    # The message delivered a second time (at least once delivery) changes nothing.
    again = late_charges.late_charge_apply(account_id=account.pk, cause="call:late-2", charged_cents=cost)
    assert again.reductions == [] and again.deficit_cents == 0

    check = Refund.objects.get(account=account)
    assert check.amount_cents == 1150 - cost
    assert RefundReduction.objects.count() == 1
    assert balance_of(account) == 0
    assert len(_late_emails()) == 1
    assert ledger_violations() == []


def test_a_refund_smaller_than_the_charge_is_canceled_and_only_the_rest_is_owed_and_paid_without_fee(
    stripe_server, holder, staff
):
    account, facility, inmate = _closed(holder, staff, mail_cents=10)
    cost = _late_call(facility, inmate, "late-3", minutes=3)
    assert cost > 10
    outbox_drain()

    check = Refund.objects.get(account=account)
    assert (check.status, check.amount_cents) == (RefundStatus.CANCELED, 0)
    assert check.reductions.get().amount_cents == 10
    assert balance_of(account) == -(cost - 10)
    [email] = _late_emails()
    assert "canceled: the whole $0.10 paid for the call" in email.body
    owed = cost - 10
    assert f"${owed // 100}.{owed % 100:02d} is still owed" in email.body and "no processing fee" in email.body
    assert ledger_violations() == []

    # Paying what is left: no fee, and never more than is owed.
    account.refresh_from_db()
    quote = payments.payment_quote(account=account, amount_cents=owed, channel="web")
    assert (quote.fee_cents, quote.total_cents) == (0, owed)
    with pytest.raises(payments.PaymentError):
        payments.payment_quote(account=account, amount_cents=owed + 1, channel="web")
    paid = card_payment(stripe_server, holder, account, owed)
    assert (paid.status, paid.amount_cents, paid.fee_cents) == ("succeeded", owed, 0)
    assert balance_of(account) == 0
    assert ledger_violations() == []


def test_a_check_is_reduced_first_then_a_card_refund_not_yet_sent_to_the_processor(
    stripe_server, holder, staff, monkeypatch
):
    account, facility, inmate = _closed(
        holder, staff, mail_cents=10, card_cents=2500, stripe_server=stripe_server, monkeypatch=monkeypatch
    )
    check = Refund.objects.get(account=account, method=RefundMethod.CHECK)
    card = Refund.objects.get(account=account, method=RefundMethod.CARD)
    assert (card.status, card.stripe_refund_id, card.amount_cents) == (RefundStatus.PENDING, None, 2500)

    cost = _late_call(facility, inmate, "late-4", minutes=3)
    outbox_drain()

    check.refresh_from_db()
    card.refresh_from_db()
    assert (check.status, check.amount_cents) == (RefundStatus.CANCELED, 0)
    assert (card.status, card.amount_cents) == (RefundStatus.PENDING, 2500 - (cost - 10))
    assert card.reductions.get().entry is None  # its money had not left the account yet
    [email] = _late_emails()
    assert "Refund to your card" in email.body and "You do not owe anything." in email.body
    assert ledger_violations() == []

    sent = refunds.refund_card_send(refund=card)
    assert sent.status == RefundStatus.SUCCEEDED
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, sent.payment.stripe_payment_intent_id)] == [
        2500 - (cost - 10)
    ]
    assert balance_of(account) == 0
    assert ledger_violations() == []


def test_a_check_already_mailed_is_not_touched_and_the_charge_is_a_deficit(holder, staff):
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    check = Refund.objects.get(account=account)
    check.approval_needed = False  # not what this test is about
    check.save(update_fields=["approval_needed"])
    refunds.refund_check_mark_sent(refund=check, check_number="7001", actor=staff)

    cost = _late_call(facility, inmate, "late-5")
    outbox_drain()

    check.refresh_from_db()
    assert (check.status, check.amount_cents) == (RefundStatus.SUCCEEDED, 1150)
    assert balance_of(account) == -cost
    assert not RefundReduction.objects.exists() and _late_emails() == []
    assert ledger_violations() == []


def test_a_late_call_imported_from_a_csv_is_taken_from_the_refund_too(holder, staff):
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    started = (timezone.now() - datetime.timedelta(hours=3)).isoformat()
    lines = [
        "call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect\n",
        f"late-csv,{facility.code},{inmate.inmate_number},{NUMBER},{started},115,normal\n",
    ]
    summary = call_records_import(lines=lines)
    assert summary.posted == 1
    outbox_drain()

    check = Refund.objects.get(account=account)
    reduction = check.reductions.get()
    assert reduction.cause == "call:late-csv"
    assert check.amount_cents == 1150 - reduction.amount_cents
    assert balance_of(account) == 0
    assert len(_late_emails()) == 1
    assert ledger_violations() == []


def test_an_open_account_going_negative_keeps_its_deficit_and_its_refunds_untouched(holder, staff):
    account = account_open(holder=holder)
    facility, inmate = ready_for_calls(account, staff=staff, holder=holder, number=NUMBER)
    cost = _late_call(facility, inmate, "late-open")
    outbox_drain()
    assert balance_of(account) == -cost
    assert not RefundReduction.objects.exists()
    assert ledger_violations() == []


def test_a_spanish_holder_is_told_the_new_refund_amount_in_spanish(staff):
    holder = UserFactory(preferred_language="es")
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    cost = _late_call(facility, inmate, "late-es")
    outbox_drain()
    [email] = [m for m in mail.outbox if "llamada tardía" in m.subject]
    left = 1150 - cost
    assert f"ahora ${left // 100}.{left % 100:02d} (era $11.50)" in email.body
    assert "No debe nada." in email.body


@pytest.mark.django_db(transaction=True)
def test_the_same_charge_applied_twice_at_once_reduces_the_refund_once(staff, broker_down):
    # With the broker down the outbox row waits: the threads below are the only ones applying it.
    holder = UserFactory()
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    cost = _late_call(facility, inmate, "late-race")

    def apply():
        return late_charges.late_charge_apply(account_id=account.pk, cause="call:late-race", charged_cents=cost)

    outcomes = run_at_once([apply, apply, apply])
    assert sorted(len(o.reductions) for o in outcomes) == [0, 0, 1]
    assert Refund.objects.get(account=account).amount_cents == 1150 - cost
    assert RefundReduction.objects.count() == 1 and balance_of(account) == 0
    assert ledger_violations() == []


@pytest.mark.django_db(transaction=True)
def test_a_check_being_marked_sent_and_a_late_charge_at_once_never_both_count_the_same_money(staff, broker_down):
    """Whichever commits first wins: the check goes out whole and the charge is a deficit, or the check
    goes out reduced. Either way nothing is counted twice."""
    holder = UserFactory()
    account, facility, inmate = _closed(holder, staff, mail_cents=1150)
    check = Refund.objects.get(account=account)
    check.approval_needed = False
    check.save(update_fields=["approval_needed"])
    cost = _late_call(facility, inmate, "late-vs-mail")
    outcomes = run_at_once(
        [
            lambda: late_charges.late_charge_apply(
                account_id=account.pk, cause="call:late-vs-mail", charged_cents=cost
            ),
            lambda: refunds.refund_check_mark_sent(refund=check, check_number="8001", actor=staff),
        ]
    )
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    check.refresh_from_db()
    assert check.status == RefundStatus.SUCCEEDED
    if check.amount_cents == 1150:
        assert balance_of(account) == -cost and not RefundReduction.objects.exists()
    else:
        assert check.amount_cents == 1150 - cost and balance_of(account) == 0
    assert system_posted(SystemAccount.REFUNDS_PAYABLE) == 0
    assert ledger_violations() == []
