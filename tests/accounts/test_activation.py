"""Activation: ACTIVATION_DELAY after the first funding, on time even if the periodic task is late."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services, tasks
from accounts.models import AccountEvent, AccountKind, AccountStatus
from tests.factories import UserFactory
from tests.helpers import mail_payment

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def funded(holder):
    with time_machine.travel(START, tick=False):
        account = services.account_open(holder=holder)
        mail_payment(account, 2000, UserFactory(is_staff=True))
    account.refresh_from_db()
    return account


def test_first_funding_sets_activation_24_hours_later(funded):
    assert funded.status == AccountStatus.PENDING_ACTIVATION
    assert funded.activates_at == START + timedelta(hours=24)
    event = AccountEvent.objects.get(account=funded, action=AccountEvent.Action.FUNDED)
    assert event.data["activates_at"] == (START + timedelta(hours=24)).isoformat()


def test_not_active_at_23h59(funded, client):
    with time_machine.travel(START + timedelta(hours=23, minutes=59), tick=False):
        assert tasks.accounts_activate_due.delay().get() == 0
        funded.refresh_from_db()
        assert funded.status == AccountStatus.PENDING_ACTIVATION
        assert funded.status_at(timezone.now()) == AccountStatus.PENDING_ACTIVATION
        client.force_login(funded.holder)
        page = client.get(reverse("accounts:dashboard")).content.decode()
    assert "Pending activation" in page
    assert "calls can connect from" in page


def test_active_at_24h_even_when_the_beat_task_did_not_run(funded, client):
    with time_machine.travel(START + timedelta(hours=24), tick=False):
        funded.refresh_from_db()
        assert funded.status == AccountStatus.PENDING_ACTIVATION  # no task has run
        assert funded.status_at(timezone.now()) == AccountStatus.ACTIVE
        client.force_login(funded.holder)
        page = client.get(reverse("accounts:dashboard")).content.decode()
    assert '<span class="status active">Active</span>' in page


def test_beat_task_activates_due_accounts_once_and_emails_the_holder(funded, django_capture_on_commit_callbacks):
    with time_machine.travel(START + timedelta(hours=24, minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.accounts_activate_due.delay().get() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.accounts_activate_due.delay().get() == 0
        now = timezone.now()
    funded.refresh_from_db()
    assert funded.status == AccountStatus.ACTIVE
    assert funded.activated_at == now
    assert AccountEvent.objects.filter(account=funded, action=AccountEvent.Action.ACTIVATED).count() == 1
    # The drain also sends what the fixture's payment left in the outbox (its receipt).
    activated = [m for m in mail.outbox if "is active" in m.subject]
    assert [m.to for m in activated] == [[funded.holder.email]]
    assert f"account #{funded.pk} is now active" in activated[0].body.replace("\n", " ")


def test_unfunded_account_never_activates(holder):
    account = services.account_open(holder=holder)
    with time_machine.travel(timezone.now() + timedelta(days=30), tick=False):
        assert services.accounts_activate_due() == 0
        account.refresh_from_db()
        assert account.status_at(timezone.now()) == AccountStatus.PENDING_FUNDING


def test_direct_bill_accounts_are_activated_by_the_same_task(holder):
    account = services.account_open(
        holder=holder, kind=AccountKind.DIRECT_BILL, status=AccountStatus.PENDING_ACTIVATION, credit_limit_cents=5000
    )
    account.activates_at = START + timedelta(hours=24)
    account.save(update_fields=["activates_at"])
    with time_machine.travel(START + timedelta(hours=25), tick=False):
        assert services.accounts_activate_due() == 1
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_staff_can_activate_early(funded):
    staff = UserFactory(is_staff=True)
    with time_machine.travel(START + timedelta(hours=2), tick=False):
        assert services.account_activate(account=funded, actor=staff, reason="Family emergency")
    funded.refresh_from_db()
    assert funded.status == AccountStatus.ACTIVE
    assert funded.activated_at == START + timedelta(hours=2)
    event = AccountEvent.objects.get(account=funded, action=AccountEvent.Action.ACTIVATED)
    assert (event.actor, event.reason) == (staff, "Family emergency")
