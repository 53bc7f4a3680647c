"""Disputes (chargebacks): Stripe's `charge.dispute.created` / `charge.dispute.closed`, signed as Stripe
signs them, for a real localstripe charge. The amount moves card clearing -> disputes once however
many times the event is delivered; the family's balance and calls are untouched and no fee is charged;
`won` releases it, `lost` books it as FamilyLine's loss; the family is told in plain words."""

import hashlib
import hmac
import json
import re
import time

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.services import account_open
from billing.ledger.models import JournalEntry, SystemAccount
from billing.payments.models import Dispute, DisputeStatus, Refund
from billing.payments.selectors import ledger_violations
from tests.factories import UserFactory
from tests.helpers import balance_of, card_payment, system_posted

pytestmark = pytest.mark.django_db
WEBHOOK_URL = reverse("billing:stripe_webhook")


def _signed(payload: bytes) -> str:
    timestamp = int(time.time())
    secret = settings.STRIPE_WEBHOOK_SECRET.encode()
    digest = hmac.new(secret, f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _charge_of(base_url: str, payment_intent_id: str) -> str:
    intent = requests.get(
        f"{base_url}/v1/payment_intents/{payment_intent_id}", auth=(settings.STRIPE_SECRET_KEY, ""), timeout=10
    ).json()
    charge = intent.get("latest_charge") or intent["charges"]["data"][0]
    return charge if isinstance(charge, str) else charge["id"]


def _dispute_event(event_id: str, event_type: str, *, charge: str, amount: int, status: str, with_intent: str | None):
    """An event carrying a Dispute object of Stripe's documented shape."""
    dispute = {
        "id": "du_1MtJUT2eZvKYlo2CNaw2HvEv",
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": int(time.time()),
        "currency": "usd",
        "evidence": {"customer_name": None, "uncategorized_text": None},
        "evidence_details": {
            "due_by": int(time.time()) + 86400 * 14,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": with_intent,
        "reason": "fraudulent",
        "status": status,
    }
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": dispute},
        }
    ).encode()


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def post(payload: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                WEBHOOK_URL,
                data=payload,
                content_type="application/json",
                headers={"Stripe-Signature": _signed(payload)},
            )

    return post


@pytest.fixture
def charged(stripe_server):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = card_payment(stripe_server, holder, account, 2500)
    assert payment.status == "succeeded"
    return payment, _charge_of(stripe_server, payment.stripe_payment_intent_id)


@pytest.mark.parametrize("with_intent", [True, False], ids=["payment_intent", "charge_only"])
def test_five_deliveries_hold_the_amount_once_and_won_releases_it(charged, deliver, with_intent):
    payment, charge = charged
    intent = payment.stripe_payment_intent_id if with_intent else None
    balance, fees = balance_of(payment.account), system_posted(SystemAccount.FEE_REVENUE)
    clearing = system_posted(SystemAccount.CARD_CLEARING)
    mail.outbox.clear()
    created = _dispute_event(
        "evt_dispute_created",
        "charge.dispute.created",
        charge=charge,
        amount=2800,
        status="needs_response",
        with_intent=intent,
    )
    for _ in range(5):
        assert deliver(created).status_code == 200
    dispute = Dispute.objects.get()
    assert (dispute.payment, dispute.amount_cents, dispute.status) == (payment, 2800, DisputeStatus.OPEN)
    assert JournalEntry.objects.filter(idempotency_key__startswith="dispute:").count() == 1
    assert system_posted(SystemAccount.DISPUTES) == -2800
    assert system_posted(SystemAccount.CARD_CLEARING) == clearing + 2800
    # The family is untouched and charged no fee; told once, in plain words.
    assert balance_of(payment.account) == balance and system_posted(SystemAccount.FEE_REVENUE) == fees
    payment.account.refresh_from_db()
    assert payment.account.status != "suspended"
    told = [m for m in mail.outbox if "reviewing a card payment" in m.subject]
    assert len(told) == 1 and "balance stays the same" in told[0].body
    assert "calls keep connecting" in told[0].body and "no fee" in told[0].body

    closed = _dispute_event(
        "evt_dispute_closed", "charge.dispute.closed", charge=charge, amount=2800, status="won", with_intent=intent
    )
    for _ in range(5):
        deliver(closed)
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WON
    assert system_posted(SystemAccount.DISPUTES) == 0 and system_posted(SystemAccount.CARD_CLEARING) == clearing
    assert JournalEntry.objects.filter(idempotency_key__startswith="dispute:").count() == 2
    assert balance_of(payment.account) == balance
    assert ledger_violations() == []


def test_a_lost_dispute_is_a_loss_to_familyline_not_the_family(charged, deliver):
    payment, charge = charged
    balance = balance_of(payment.account)
    deliver(
        _dispute_event(
            "evt_d1", "charge.dispute.created", charge=charge, amount=2800, status="needs_response", with_intent=None
        )
    )
    deliver(
        _dispute_event("evt_d2", "charge.dispute.closed", charge=charge, amount=2800, status="lost", with_intent=None)
    )
    assert Dispute.objects.get().status == DisputeStatus.LOST
    assert system_posted(SystemAccount.DISPUTE_LOSSES) == -2800 and system_posted(SystemAccount.DISPUTES) == 0
    assert balance_of(payment.account) == balance
    assert ledger_violations() == []


def test_staff_resolve_an_open_dispute_in_the_admin(charged, deliver, admin_client):
    payment, charge = charged
    deliver(
        _dispute_event(
            "evt_d3", "charge.dispute.created", charge=charge, amount=2800, status="needs_response", with_intent=None
        )
    )
    dispute = Dispute.objects.get()
    listing = admin_client.get(reverse("admin:billing_dispute_changelist") + "?status__exact=open").content.decode()
    assert "$28.00" in listing
    admin_client.post(
        reverse("admin:billing_dispute_changelist"), {"action": "resolve_won", "_selected_action": [dispute.pk]}
    )
    admin_client.post(
        reverse("admin:billing_dispute_changelist"), {"action": "resolve_lost", "_selected_action": [dispute.pk]}
    )
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WON and system_posted(SystemAccount.DISPUTES) == 0
    assert system_posted(SystemAccount.DISPUTE_LOSSES) == 0
    assert ledger_violations() == []


def _parked_listing(admin_client) -> str:
    return admin_client.get(reverse("admin:billing_dispute_changelist") + "?status__exact=parked").content.decode()


def test_a_dispute_for_a_payment_intent_we_never_made_is_parked_with_nothing_posted(
    deliver, admin_client, stripe_server
):
    clearing = system_posted(SystemAccount.CARD_CLEARING)
    mail.outbox.clear()
    event = _dispute_event(
        "evt_unknown",
        "charge.dispute.created",
        charge="ch_nobody",
        amount=100_000_000,
        status="needs_response",
        with_intent="pi_not_ours",
    )
    for _ in range(2):
        assert deliver(event).status_code == 200
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.parked_reason, dispute.payment) == (DisputeStatus.PARKED, "unknown_payment", None)
    assert dispute.hold_entry is None
    assert not JournalEntry.objects.filter(idempotency_key__startswith="dispute:").exists()
    assert system_posted(SystemAccount.DISPUTES) == 0 and system_posted(SystemAccount.CARD_CLEARING) == clearing
    # Its closing posts nothing either; staff see it, with its reason, in the list and the work queue.
    deliver(
        _dispute_event(
            "evt_unknown_closed",
            "charge.dispute.closed",
            charge="ch_nobody",
            amount=100_000_000,
            status="lost",
            with_intent="pi_not_ours",
        )
    )
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.PARKED and dispute.close_entry is None
    assert system_posted(SystemAccount.DISPUTE_LOSSES) == 0
    listing = _parked_listing(admin_client)
    assert "$1,000,000.00" in listing and "No payment of ours has this charge" in listing
    home = admin_client.get(reverse("admin:index")).content.decode()
    assert re.search(r'work-disputes_parked">.*?class="count"><a href="[^"]*status__exact=parked"[^>]*>1<', home, re.S)
    assert not mail.outbox
    assert ledger_violations() == []


def test_a_dispute_above_what_its_payment_took_is_parked(stripe_server, deliver, admin_client):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = card_payment(stripe_server, holder, account, 500)  # $5.00 + the $3.00 fee: the card paid $8.00
    charge = _charge_of(stripe_server, payment.stripe_payment_intent_id)
    mail.outbox.clear()
    deliver(
        _dispute_event(
            "evt_big",
            "charge.dispute.created",
            charge=charge,
            amount=999_999,
            status="needs_response",
            with_intent=None,
        )
    )
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.parked_reason, dispute.payment) == (DisputeStatus.PARKED, "above_payment", payment)
    assert system_posted(SystemAccount.DISPUTES) == 0
    assert "More than the payment took" in _parked_listing(admin_client)
    assert not [m for m in mail.outbox if "reviewing a card payment" in m.subject]
    assert ledger_violations() == []


def test_disputes_of_one_payment_never_hold_more_than_it_took(stripe_server, deliver):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = card_payment(stripe_server, holder, account, 500)
    charge = _charge_of(stripe_server, payment.stripe_payment_intent_id)
    first = {"charge": charge, "status": "needs_response", "with_intent": payment.stripe_payment_intent_id}
    deliver(_dispute_event("evt_part1", "charge.dispute.created", amount=600, **first).replace(b"du_1MtJ", b"du_aaaa"))
    deliver(_dispute_event("evt_part2", "charge.dispute.created", amount=300, **first).replace(b"du_1MtJ", b"du_bbbb"))
    held, over = Dispute.objects.order_by("id")
    assert (held.status, held.amount_cents) == (DisputeStatus.OPEN, 600)
    assert (over.status, over.parked_reason) == (DisputeStatus.PARKED, "above_payment")  # 600 + 300 > 800
    assert system_posted(SystemAccount.DISPUTES) == -600
    assert ledger_violations() == []


def test_a_dispute_counts_what_was_already_refunded_to_the_card(stripe_server, deliver):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = card_payment(stripe_server, holder, account, 500)  # the card paid $8.00
    Refund.objects.create(account=account, payment=payment, method="card", amount_cents=500, status="succeeded")
    charge = _charge_of(stripe_server, payment.stripe_payment_intent_id)
    deliver(
        _dispute_event(
            "evt_refunded",
            "charge.dispute.created",
            charge=charge,
            amount=800,
            status="needs_response",
            with_intent=None,
        )
    )
    assert Dispute.objects.get().parked_reason == "above_payment"  # $5.00 of the $8.00 went back already
    assert system_posted(SystemAccount.DISPUTES) == 0
