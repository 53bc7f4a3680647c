"""The one lock order (billing/ledger/), tried with real threads on PostgreSQL, many at once on one
account: card-payment credits racing call charges and authorizations, Direct Bill payments racing
each other, closing racing a sponsorship, a charge and a payment. Zero errors, zero deadlocks, exact
arithmetic, and a clean ledger check at the end of each."""

import datetime
import uuid

import pytest

from accounts.services import account_suspend
from billing.closing import services as closing
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold
from billing.payments import selectors, stripe_gateway
from billing.payments import services as payments
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.payments.models import Payment, PaymentMethod, PaymentStatus
from billing.statements.adjustments import adjustment_create
from calls import sponsorships
from calls.callpath import authorize as calls
from calls.models import CallRecord, InmateDebitSponsorship
from calls.rating import price
from tests.helpers import (
    authorize,
    balance_of,
    complete,
    confirmed_setup_intent,
    make_account,
    open_direct_bill,
    run_at_once,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _charged_card_payments(base_url, holder, account, count: int, cents: int):
    """`count` payments charged at Stripe (localstripe) but not yet credited: what the server's check
    or the webhook then credits. Returns (payment, intent) pairs."""
    setup = stripe_gateway.setup_intent_retrieve(setup_intent_id=confirmed_setup_intent(base_url, holder))
    fee = payments.fee_for_channel(channel="web")
    pairs = []
    for _ in range(count):
        payment = Payment.objects.create(account=account, channel="web", amount_cents=cents, fee_cents=fee)
        intent = stripe_gateway.payment_intent_create(
            amount_cents=payment.total_cents,
            customer_id=holder.stripe_customer_id,
            payment_method_id=setup.payment_method,
            idempotency_key=f"lock-order-{payment.pk}",
            metadata={"payment_id": str(payment.pk)},
        )
        assert intent.status == "succeeded"
        pairs.append((payment, intent))
    return pairs


def _no_errors(results) -> None:
    assert [r for r in results if isinstance(r, Exception)] == []


def test_16_card_credits_and_48_completes_on_one_account_at_once(stripe_server, facility, inmate):
    account = make_account(balance_cents=10_000)
    credits = _charged_card_payments(stripe_server, account.holder, account, 16, 1000)
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    call_ids = [f"lo-{uuid.uuid4().hex[:10]}" for _ in range(48)]
    targets = [lambda intent=intent: payments.payment_intent_apply(intent=intent) for _, intent in credits]
    targets += [
        lambda cid=cid, i=i: complete(
            facility, inmate, account.test_number, seconds=60 + i * 7, cid=cid, started_at=started
        )
        for i, cid in enumerate(call_ids)
    ]

    results = run_at_once(targets[::2] + targets[1::2], workers=32)  # credits and charges interleaved

    _no_errors(results)
    charged = sum(r.charge_cents + r.tax_cents for r in CallRecord.objects.filter(call_id__in=call_ids))
    plan = facility.rate_plans.get()
    expected_charges = sum(
        price(minutes=-(-(60 + i * 7) // 60), rate_per_minute=plan.rate_per_minute, tax_rate=plan.tax_rate).total_cents
        for i in range(48)
    )
    assert charged == expected_charges
    assert Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED).count() == 16
    assert balance_of(account) == 10_000 + 16 * 1000 - charged
    assert selectors.ledger_violations() == []


def test_16_card_credits_and_48_authorizes_on_one_account_at_once(stripe_server, facility, inmate):
    account = make_account(balance_cents=500)
    credits = _charged_card_payments(stripe_server, account.holder, account, 16, 1000)
    targets = [lambda intent=intent: payments.payment_intent_apply(intent=intent) for _, intent in credits]
    targets += [lambda: authorize(facility, inmate, account.test_number) for _ in range(48)]

    results = run_at_once(targets[::2] + targets[1::2], workers=32)

    _no_errors(results)
    answers = [r for r in results if isinstance(r, calls.Authorization)]
    assert len(answers) == 48
    allowed = [a for a in answers if a.allowed]
    holds = Hold.objects.filter(account=account, released_at__isnull=True)
    assert holds.count() == len(allowed) > 0
    # Never more held than the account had once every credit landed.
    assert sum(h.amount_cents for h in holds) <= 500 + 16 * 1000
    assert balance_of(account) == 500 + 16 * 1000
    assert selectors.ledger_violations() == []


def test_six_concurrent_full_payments_of_a_direct_bill_balance_accept_only_what_is_owed(stripe_server, staff):
    account = open_direct_bill(state="AK")
    adjustment_create(account=account, amount_cents=-39, reason="Calls carried over", actor=staff)
    holder = account.holder
    setups = [confirmed_setup_intent(stripe_server, holder) for _ in range(6)]

    results = run_at_once(
        [
            lambda setup=setup: payments.card_payment_create(
                holder=holder, account=account, amount_cents=39, setup_intent_id=setup
            )
            for setup in setups
        ]
    )

    accepted = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, payments.PaymentError)]
    assert len(accepted) == 1 and len(refused) == 5, results
    assert all(r.message for r in refused)
    # One payment row (one fee) only; the refused ones charged nothing.
    assert Payment.objects.filter(account=account).count() == 1
    assert Payment.objects.get(account=account).status == PaymentStatus.SUCCEEDED
    assert ledger.owed_cents(account=account) == 0
    assert selectors.ledger_violations() == []


def test_six_concurrent_mail_payments_of_what_is_owed_accept_one(staff):
    account = open_direct_bill(state="AK")
    adjustment_create(account=account, amount_cents=-39, reason="Calls carried over", actor=staff)
    results = run_at_once(
        [
            lambda i=i: direct_bill_mail_payment_record(
                account=account, method=PaymentMethod.CHECK, amount_cents=39, reference=f"chk {i}", recorded_by=staff
            )
            for i in range(6)
        ]
    )
    assert sum(isinstance(r, Payment) for r in results) == 1
    assert sum(isinstance(r, payments.PaymentError) for r in results) == 5
    assert ledger.owed_cents(account=account) == 0
    assert selectors.ledger_violations() == []


def test_close_racing_a_sponsorship_start_never_leaves_a_sponsorship_on_a_closed_account(facility, inmate):
    for _ in range(8):
        account = make_account(balance_cents=100)
        results = run_at_once(
            [
                lambda account=account: closing.account_close(account=account, actor=account.holder),
                lambda account=account: sponsorships.sponsorship_start(
                    account=account,
                    facility=facility,
                    inmate_number=inmate.inmate_number,
                    actor=account.holder,
                    confirmed=True,
                ),
            ]
        )
        assert [
            r for r in results if not isinstance(r, (list, InmateDebitSponsorship, sponsorships.SponsorshipError))
        ] == []
        account.refresh_from_db()
        assert account.status == "closed"
        assert not InmateDebitSponsorship.objects.filter(account=account, ended_at__isnull=True).exists()
        InmateDebitSponsorship.objects.filter(account=account).delete()
    assert selectors.ledger_violations() == []


def test_close_racing_a_complete_and_a_payment(staff, facility, inmate):
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=30)
    for i in range(6):
        account = make_account(balance_cents=2000)
        cid = f"race-{i}-{uuid.uuid4().hex[:6]}"
        results = run_at_once(
            [
                lambda account=account: closing.account_close(account=account, actor=account.holder),
                lambda account=account, cid=cid: complete(
                    facility, inmate, account.test_number, seconds=300, cid=cid, started_at=started
                ),
                lambda account=account, i=i: payments.payment_record_offline(
                    account=account,
                    channel="mail",
                    method=PaymentMethod.MONEY_ORDER,
                    amount_cents=500,
                    reference=f"MO-{i}",
                    recorded_by=staff,
                ),
            ]
        )
        unexpected = [
            r
            for r in results
            if isinstance(r, Exception) and not isinstance(r, (closing.CloseError, payments.PaymentError))
        ]
        assert unexpected == []
        record = CallRecord.objects.get(call_id=cid)
        paid = Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED).count()
        refunded = sum(r.amount_cents for r in account.refunds.all())
        # Whatever the order, every cent is accounted for: deposits - the call - refunds = what is left.
        assert balance_of(account) == 2000 + paid * 500 - record.total_cents - refunded
    assert selectors.ledger_violations() == []


@pytest.mark.parametrize("change", ["close", "suspend"])
def test_a_status_change_committed_while_an_authorize_waits_is_seen_under_the_lock(
    facility, inmate, monkeypatch, change
):
    """The authorization read the account as active; a close (or suspension) commits before it gets
    the ledger-row lock. Under the lock it reads the status again: no hold on that account."""
    account = make_account(balance_cents=1000)
    real_place = calls._place

    def change_meanwhile(call, **kwargs):
        if change == "close":
            closing.account_close(account=account, actor=account.holder)
        else:
            account_suspend(account=account, actor=None, reason="Fraud review")
        return real_place(call, **kwargs)

    monkeypatch.setattr(calls, "_place", change_meanwhile)
    answer = authorize(facility, inmate, account.test_number)
    expected = "account_closed" if change == "close" else "account_suspended"
    assert (answer.decision, answer.reason) == ("deny", expected)
    assert not Hold.objects.filter(account=account, released_at__isnull=True).exists()
    assert selectors.ledger_violations() == []
