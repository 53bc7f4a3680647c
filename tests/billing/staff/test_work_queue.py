"""The admin home is a work queue: counts that link to filtered lists; schedules staff never use are
hidden; money reads in dollars, times in local time with the zone, system accounts with a balance."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboxMessage
from accounts.outbox import MAX_ATTEMPTS
from billing.ledger import kernel as ledger
from billing.ledger.models import SystemAccount
from billing.payments.models import Payment, Refund, StripeEvent
from tests.factories import UserFactory
from tests.helpers import mail_payment, make_account

pytestmark = pytest.mark.django_db


def _queue(html: str) -> dict[str, str]:
    return dict(re.findall(r'<tr class="work-([a-z_]+)">.*?class="count"><a href="[^"]*"[^>]*>(\d+)<', html, re.S))


def test_the_admin_home_counts_what_waits_and_links_to_each_list(admin_client, staff):
    account = make_account(balance_cents=0)
    Refund.objects.create(account=account, method="check", amount_cents=500, mailing_address="1 Main St")
    Payment.objects.create(account=account, channel="web", amount_cents=1000, fee_cents=300, status="processing")
    StripeEvent.objects.create(
        event_id="evt_parked", event_type="payment_intent.succeeded", payload={}, attempts=5, parked_at=timezone.now()
    )
    OutboxMessage.objects.create(kind="email.account", payload={}, available_at=timezone.now(), attempts=MAX_ATTEMPTS)
    html = admin_client.get(reverse("admin:index")).content.decode()
    queue = _queue(html)
    assert queue["refunds_pending"] == "1" and queue["payments_held"] == "1"
    assert queue["stripe_events"] == "1" and queue["outbox"] == "1"
    assert queue["applications"] == "0" and queue["disputes"] == "0" and queue["call_credits"] == "0"
    assert reverse("admin:billing_refund_changelist") + "?status__exact=pending" in html
    listed = admin_client.get(reverse("admin:accounts_outboxmessage_changelist") + "?state=failing")
    assert listed.status_code == 200 and len(listed.context["cl"].result_list) == 1
    parked = admin_client.get(
        reverse("admin:billing_stripeevent_changelist") + "?parked_at__isempty=0&processed_at__isempty=1"
    )
    assert [e.event_id for e in parked.context["cl"].result_list] == ["evt_parked"]


def test_unused_schedules_are_hidden(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "Clocked" not in html and "Solar" not in html and "Crontabs" not in html and "Intervals" not in html


def test_an_agent_sees_only_the_items_of_the_role(client):
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="agent"))
    client.force_login(agent)
    queue = _queue(client.get(reverse("admin:index")).content.decode())
    assert "past_due" in queue and "reconciliation" not in queue and "disputes" not in queue


def test_money_is_in_dollars_and_times_local_with_the_zone(admin_client, staff):
    account = make_account()
    payment = mail_payment(account, 2000, staff)
    listing = admin_client.get(reverse("admin:billing_payment_changelist")).content.decode()
    assert "$20.00" in listing and "2000" not in re.sub(r"\b20\d\d\b", "", listing.split("result_list")[1][:4000])
    assert re.search(r"(EST|EDT)", listing)
    page = admin_client.get(reverse("admin:accounts_callingaccount_change", args=[account.pk])).content.decode()
    assert "$20.00" in page and "cents" not in page.lower().replace("amount_cents", "")
    assert payment.reference_label.startswith("Money order number")


def test_system_accounts_show_their_balance(admin_client, staff):
    mail_payment(make_account(), 1500, staff)
    clearing = ledger.system_account(SystemAccount.MAIL_CLEARING)
    listing = admin_client.get(reverse("admin:ledger_ledgeraccount_changelist")).content.decode()
    assert "-$15.00" in listing
    page = admin_client.get(reverse("admin:ledger_ledgeraccount_change", args=[clearing.pk])).content.decode()
    assert "-$15.00" in page
