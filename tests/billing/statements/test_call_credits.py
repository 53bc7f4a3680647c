"""Call credits: from a call in the history a family asks for a credit (dropped, poor quality, wrong
number) within 90 days; staff approve (credited once through the ledger, however often approved) or
decline with a reason; the holder is emailed either way."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing.ledger.models import JournalEntry, SystemAccount
from billing.payments.selectors import ledger_violations
from billing.statements import call_credits
from billing.statements.models import CallCreditRequest, CallCreditStatus
from calls.models import CallRecord
from tests.helpers import balance_of, make_account, system_posted

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged_call(calls):
    account = make_account(balance_cents=2000)
    calls.complete(number=account.test_number, minutes=5)
    call = CallRecord.objects.get(account=account)
    assert call.total_cents > 0
    return call


def test_a_family_asks_from_the_call_and_approving_twice_credits_once(
    charged_call, client, admin_client, django_capture_on_commit_callbacks
):
    account = charged_call.account
    client.force_login(account.holder)
    page = client.get(reverse("billing:call_credit_request", args=[charged_call.pk]))
    assert page.status_code == 200 and "Ask for a credit" in page.content.decode()
    response = client.post(
        reverse("billing:call_credit_request", args=[charged_call.pk]), {"reason": "dropped", "details": "Cut off"}
    )
    assert response.status_code == 302
    credit = CallCreditRequest.objects.get()
    assert (credit.status, credit.amount_cents, credit.reason) == ("open", charged_call.total_cents, "dropped")

    before, adjustments = balance_of(account), system_posted(SystemAccount.ADJUSTMENTS)
    url = reverse("admin:billing_callcreditrequest_changelist")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "approve", "_selected_action": [credit.pk]})
    admin_client.post(url, {"action": "approve", "_selected_action": [credit.pk]})
    staff = credit.account.holder  # any user: the service is idempotent on the request
    call_credits.call_credit_approve(credit=credit, actor=staff)
    credit.refresh_from_db()
    assert credit.status == CallCreditStatus.APPROVED
    assert JournalEntry.objects.filter(idempotency_key=f"call_credit:{credit.pk}").count() == 1
    assert balance_of(account) == before + charged_call.total_cents
    assert system_posted(SystemAccount.ADJUSTMENTS) == adjustments - charged_call.total_cents
    assert [m.subject for m in mail.outbox] == ["FamilyLine: your call credit was approved"]
    assert ledger_violations() == []


def test_staff_decline_with_a_reason_the_holder_is_emailed(
    charged_call, admin_client, django_capture_on_commit_callbacks
):
    credit = call_credits.call_credit_request(
        call=charged_call, holder=charged_call.account.holder, reason="poor_quality"
    )
    url = reverse("admin:billing_callcreditrequest_changelist")
    asked = admin_client.post(url, {"action": "decline", "_selected_action": [credit.pk]})
    assert asked.status_code == 200 and "Reason" in asked.content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url, {"action": "decline", "_selected_action": [credit.pk], "apply": "1", "reason": "The line tested clear"}
        )
    credit.refresh_from_db()
    assert (credit.status, credit.decline_reason, credit.entry) == ("declined", "The line tested clear", None)
    assert len(mail.outbox) == 1 and "The line tested clear" in mail.outbox[0].body
    with pytest.raises(call_credits.CallCreditError):
        call_credits.call_credit_approve(credit=credit, actor=credit.account.holder)


def test_only_charged_calls_of_ones_own_within_90_days_and_once(charged_call):
    holder = charged_call.account.holder
    stranger = make_account().holder
    with pytest.raises(call_credits.CallCreditError):
        call_credits.call_credit_request(call=charged_call, holder=stranger, reason="dropped")
    with pytest.raises(call_credits.CallCreditError):
        call_credits.call_credit_request(call=charged_call, holder=holder, reason="not-a-reason")
    late = timezone.now() + datetime.timedelta(days=91)
    with pytest.raises(call_credits.CallCreditError, match="90 days"):
        call_credits.call_credit_request(call=charged_call, holder=holder, reason="dropped", now=late)
    call_credits.call_credit_request(call=charged_call, holder=holder, reason="wrong_number")
    with pytest.raises(call_credits.CallCreditError, match="already"):
        call_credits.call_credit_request(call=charged_call, holder=holder, reason="dropped")
    assert CallCreditRequest.objects.count() == 1


def test_the_call_history_links_each_charged_call_to_its_credit_page(charged_call, client):
    client.force_login(charged_call.account.holder)
    html = client.get(reverse("calls:history", args=[charged_call.account_id])).content.decode()
    assert reverse("billing:call_credit_request", args=[charged_call.pk]) in html and "Ask for a credit" in html
    other = make_account().holder
    client.force_login(other)
    assert client.get(reverse("billing:call_credit_request", args=[charged_call.pk])).status_code == 404


def test_the_credit_page_shows_the_call_in_the_holders_time_with_its_zone_named(calls, client):
    account = make_account(balance_cents=2000)
    holder = account.holder
    holder.time_zone = "America/Los_Angeles"
    holder.save(update_fields=["time_zone"])
    started = datetime.datetime(2026, 11, 20, 18, 30, tzinfo=datetime.UTC)  # 12:30 PM in Chicago (the facility)
    calls.complete(number=account.test_number, minutes=3, started_at=started)
    call = CallRecord.objects.get(account=account)
    client.force_login(holder)
    with time_machine.travel(datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)):
        page = client.get(reverse("billing:call_credit_request", args=[call.pk])).content.decode()
        history = client.get(reverse("calls:history", args=[account.pk])).content.decode()
    assert "on Nov 20, 2026 10:30 AM (Pacific time)" in page
    assert "Nov 20, 2026 10:30 AM" in history  # the same clock as the history
    holder.preferred_language = "es"
    holder.save(update_fields=["preferred_language"])
    with time_machine.travel(datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)):
        page = client.get(reverse("billing:call_credit_request", args=[call.pk])).content.decode()
    assert "20 nov 2026, 10:30 (hora del Pacífico)" in page
