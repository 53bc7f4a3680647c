"""The outbox: work after commit survives a broker outage and runs once."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import OutboxMessage
from accounts.outbox import MAX_ATTEMPTS, outbox_drain, outbox_enqueue, outbox_handler
from accounts.services import account_open
from billing.payments.models import Channel, PaymentMethod
from billing.payments.services import payment_record_offline
from config.celery import app as celery_app
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_receipt_is_sent_once_the_broker_is_back(holder, broker_down, caplog):
    staff = UserFactory(is_staff=True)
    account = account_open(holder=holder)

    payment = payment_record_offline(
        account=account,
        channel=Channel.MAIL,
        method=PaymentMethod.MONEY_ORDER,
        amount_cents=2000,
        reference="MO-77",
        recorded_by=staff,
    )

    assert payment.status == "succeeded"  # the request itself did not fail
    assert "could not enqueue the outbox drain" in caplog.text
    assert mail.outbox == []
    message = OutboxMessage.objects.get(kind="email.payment_receipt")
    assert message.done_at is None

    celery_app.conf.task_always_eager = True  # the broker is back: the periodic sweep runs
    # `.result`, not `.get()`: an eager task run earlier in this process may leave Celery believing it
    # is inside a task, and `.get()` then refuses to wait (whatever ran before this test).
    assert celery_app.tasks["accounts.outbox.outbox_drain"].delay().result == 1
    assert celery_app.tasks["accounts.outbox.outbox_drain"].delay().result == 0
    assert [m.subject for m in mail.outbox] == [f"FamilyLine receipt: $20.00 paid to account #{account.pk}"]
    message.refresh_from_db()
    assert message.done_at is not None and message.attempts == 1


@outbox_handler("test.flaky")
def _flaky(*, fail: bool) -> None:
    if fail:
        raise ConnectionError("mail server down")


@pytest.mark.django_db
def test_a_failing_message_is_retried_later_and_never_blocks_the_next():
    bad = outbox_enqueue(kind="test.flaky", payload={"fail": True})
    good = outbox_enqueue(kind="test.flaky", payload={"fail": False})

    assert outbox_drain() == 1
    bad.refresh_from_db()
    good.refresh_from_db()
    assert good.done_at is not None
    assert bad.done_at is None and bad.attempts == 1 and "mail server down" in bad.last_error
    assert outbox_drain() == 0  # not due again yet
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        outbox_drain()
    bad.refresh_from_db()
    assert bad.attempts == 2


@pytest.mark.django_db
def test_a_message_is_parked_after_its_last_attempt():
    message = outbox_enqueue(kind="test.flaky", payload={"fail": True})
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=MAX_ATTEMPTS)
    assert outbox_drain() == 0
    message.refresh_from_db()
    assert message.attempts == MAX_ATTEMPTS and message.done_at is None
