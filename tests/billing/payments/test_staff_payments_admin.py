"""Offline payments in the admin: nothing preselected (no default that is always refused), a warning
and an explicit confirm for a number already recorded, receipts that say what the reference is;
adjustments with a staff-only note and a family-facing description; check refunds show where to mail
the check and email the holder when sent."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.services import account_open
from billing.closing import services as closing
from billing.ledger.models import JournalEntry
from billing.payments.models import Channel, Payment, PaymentMethod, Refund
from billing.payments.selectors import ledger_violations
from billing.payments.services import payment_record_offline
from billing.statements.models import Adjustment
from tests.factories import UserFactory
from tests.helpers import make_account, second_approval

pytestmark = pytest.mark.django_db
ADD = reverse("admin:billing_payment_add")


def _record(client, account, **extra):
    data = {"account": account.pk, "channel": "mail", "method": "money_order", "amount": "12.34", "reference": "MO-555"}
    return client.post(ADD, data | extra)


def test_the_form_preselects_no_channel_or_method(admin_client):
    html = admin_client.get(ADD).content.decode()
    assert '<option value="" selected>Choose…</option>' in html
    assert 'name="account"' in html and '<select name="account"' not in html  # a number, not every account


def test_a_number_already_recorded_needs_an_explicit_confirm(admin_client):
    account = make_account()
    assert _record(admin_client, account).status_code == 302
    again = _record(admin_client, account)
    html = again.content.decode()
    assert again.status_code == 200 and "was already recorded" in html and 'id="duplicate-warning"' in html
    assert Payment.objects.filter(reference="MO-555").count() == 1
    confirmed = _record(admin_client, account, confirm_duplicate="on")
    assert confirmed.status_code == 302
    assert Payment.objects.filter(reference="MO-555").count() == 2
    assert ledger_violations() == []


def test_receipts_say_what_the_reference_is(admin_client):
    account = make_account()
    _record(admin_client, account, channel="phone_agent", method="card", reference="TERM-88812", amount="20.00")
    payment = Payment.objects.get(reference="TERM-88812")
    assert payment.reference_label == "Card terminal confirmation TERM-88812"
    assert payment.fee_cents == 595
    _record(admin_client, account, method="check", reference="1042")
    assert Payment.objects.get(reference="1042").reference_label == "Check number 1042"


def test_an_adjustment_keeps_its_note_for_staff_and_shows_the_family_its_description(admin_client):
    account = make_account()
    response = admin_client.post(
        reverse("admin:billing_adjustment_add"),
        {
            "account": account.pk,
            "direction": "credit",
            "amount": "3.50",
            "description": "Credit for a dropped call",
            "reason": "Caller said the line dropped; platform log shows a carrier fault",
        },
        follow=True,
    )
    assert "$3.50 posted" in response.content.decode() and "None cents" not in response.content.decode()
    adjustment = Adjustment.objects.get()
    assert adjustment.description == "Credit for a dropped call"
    entry = JournalEntry.objects.get(idempotency_key=f"adjustment:{adjustment.pk}")
    assert entry.memo == "Credit for a dropped call" and "carrier" not in entry.memo


def test_a_check_refund_shows_the_address_and_emails_the_holder_when_sent(
    admin_client, staff, django_capture_on_commit_callbacks
):
    account = make_account()
    holder = account.holder
    holder.address_line1, holder.city, holder.state, holder.postal_code = "12 Elm St", "Hartford", "CT", "06103"
    holder.save()
    _record(admin_client, account, reference="MO-9", amount="9.00")
    closing.account_close(account=account, actor=holder, reason="Moving")
    refund = Refund.objects.get(account=account)
    second_approval(refund)  # the admin recorded the payment
    url = reverse("admin:billing_refund_changelist")
    page = admin_client.post(url, {"action": "mark_check_sent", "_selected_action": [refund.pk]}).content.decode()
    assert "12 Elm St" in page and "Hartford" in page and "06103" in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url,
            {
                "action": "mark_check_sent",
                "_selected_action": [refund.pk],
                "apply": "1",
                f"check_number_{refund.pk}": "5001",
            },
        )
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.check_number == "5001"
    sent = [m for m in mail.outbox if "refund check" in m.subject]
    assert len(sent) == 1 and "5001" in sent[0].body and "$9.00" in sent[0].body and "12 Elm St" in sent[0].body
    assert ledger_violations() == []


def test_a_live_agent_receipt_says_what_its_reference_is(client, staff):
    from_agent = payment_record_offline(
        account=account_open(holder=UserFactory()),
        channel=Channel.PHONE_AGENT,
        method=PaymentMethod.CARD,
        amount_cents=2000,
        reference="TERM-88812",
        recorded_by=staff,
    )
    client.force_login(from_agent.account.holder)
    page = client.get(reverse("billing:receipt", args=[from_agent.pk])).content.decode()
    assert "Card terminal confirmation TERM-88812" in page and "card TERM-88812" not in page
