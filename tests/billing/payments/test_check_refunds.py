"""Check refunds: they go to a mailing address the holder gives before closing (none is prepared
without one), and a check for an account that received a payment staff recorded in the last 30 days
is approved by a second staff member before it is mailed. Real PostgreSQL."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountStatus
from accounts.outbox import outbox_drain
from accounts.services import account_open
from billing.closing import inactivity, late_charges
from billing.closing import services as closing
from billing.payments import refunds
from billing.payments.models import Payment, Refund, RefundStatus
from billing.payments.selectors import ledger_violations
from tests.factories import UserFactory
from tests.helpers import NY, balance_of, complete, mail_payment, ready_for_calls, staff_in

NO_ADDRESS = {"address_line1": "", "address_line2": "", "city": "", "state": "", "postal_code": ""}
pytestmark = pytest.mark.django_db

ADDRESS = {"address_line1": "12 Elm St", "city": "Hartford", "state": "CT", "postal_code": "06103"}


def _queue_count(html: str, key: str) -> int:
    found = re.search(rf'<tr class="work-{key}">.*?class="count"><a href="[^"]*"[^>]*>(\d+)<', html, re.S)
    assert found, key
    return int(found.group(1))


# --- the mailing address -------------------------------------------------------------------------


def test_closing_with_a_check_refund_and_no_address_is_refused_with_a_field_error(client, staff):
    holder = UserFactory(**NO_ADDRESS)
    account = account_open(holder=holder)
    mail_payment(account, 1150, staff)
    client.force_login(holder)
    url = reverse("accounts:account_close", args=[account.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert "By check, mailed to the address you enter below" in page.text
    assert "address on your profile" not in page.text
    assert 'name="address_line1"' in page.text

    refused = client.post(url, {"reason": "Moving"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["address_line1"] == [
        "Enter the mailing address your refund check should be sent to."
    ]
    account.refresh_from_db()
    assert account.status != AccountStatus.CLOSED and not Refund.objects.exists()
    assert balance_of(account) == 1150

    # The service refuses it too, on the same field, and changes nothing.
    with pytest.raises(closing.CloseError) as refusal:
        closing.account_close(account=account, actor=holder)
    assert refusal.value.field == "mailing_address"
    assert not Refund.objects.exists() and balance_of(account) == 1150

    done = client.post(url, {"reason": "Moving", **ADDRESS})
    assert done.status_code == 302
    check = Refund.objects.get(account=account)
    assert check.status == RefundStatus.PENDING
    assert check.mailing_address.splitlines()[1:] == ["12 Elm St", "Hartford, CT 06103"]
    assert ledger_violations() == []


def test_with_an_address_on_the_profile_the_plan_shows_it_and_the_check_goes_where_the_holder_says(
    client, staff, django_capture_on_commit_callbacks
):
    holder = UserFactory(first_name="Ana", last_name="Ruiz", **ADDRESS)
    account = account_open(holder=holder)
    mail_payment(account, 600, staff)
    client.force_login(holder)
    url = reverse("accounts:account_close", args=[account.pk])

    page = client.get(url)
    assert "By check, mailed to Ana Ruiz, 12 Elm St, Hartford, CT 06103" in page.text
    assert 'value="12 Elm St"' in page.text  # the form starts from the profile

    moved = {"address_line1": "9 Oak Ave", "address_line2": "Apt 2", "city": "Bristol", "state": "CT"}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {**moved, "postal_code": "06010"})
    assert done.status_code == 302
    check = Refund.objects.get(account=account)
    assert check.mailing_address == "Ana Ruiz\n9 Oak Ave\nApt 2\nBristol, CT 06010"
    [closed] = [m for m in mail.outbox if "closed" in m.subject]
    assert "$6.00 by check, mailed to Ana Ruiz, 9 Oak Ave, Apt 2, Bristol, CT 06010" in closed.body
    assert ledger_violations() == []


def test_a_spanish_holder_is_asked_for_the_address_in_spanish(client, staff):
    holder = UserFactory(preferred_language="es", **NO_ADDRESS)
    account = account_open(holder=holder)
    mail_payment(account, 600, staff)
    client.force_login(holder)
    url = reverse("accounts:account_close", args=[account.pk])
    page = client.get(url)
    assert "¿A qué dirección enviamos su cheque de reembolso?" in page.text
    assert "Con un cheque enviado por correo a la dirección que escriba abajo" in page.text
    refused = client.post(url, {})
    assert refused.status_code == 400
    assert refused.context["form"].errors["address_line1"] == [
        "Escriba la dirección postal a la que debemos enviar su cheque de reembolso."
    ]


def test_an_inactivity_close_without_an_address_prepares_no_check_and_lists_it_for_staff(admin_client, staff):
    holder = UserFactory(**NO_ADDRESS)
    start = datetime.datetime(2026, 1, 5, 10, 0, tzinfo=NY)
    with time_machine.travel(start, tick=True):
        account = account_open(holder=holder)
        mail_payment(account, 2000, staff)
    for days in (150, 180):
        when = datetime.datetime.combine(start.date() + datetime.timedelta(days=days), datetime.time(7), tzinfo=NY)
        with time_machine.travel(when, tick=True):
            inactivity.inactive_balances_review()

    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    check = Refund.objects.get(account=account)
    # The money is owed to the holder (refunds payable), but no check exists to mail.
    assert (check.status, check.amount_cents, check.mailing_address) == (RefundStatus.NEEDS_ADDRESS, 2000, "")
    assert balance_of(account) == 0
    with pytest.raises(refunds.RefundError, match="no mailing address"):
        refunds.refund_check_mark_sent(refund=check, check_number="5001", actor=staff)

    html = admin_client.get(reverse("admin:index")).content.decode()
    assert _queue_count(html, "refunds_need_address") == 1
    assert reverse("admin:billing_refund_changelist") + "?status__exact=needs_address" in html

    # Staff get an address from the holder, who adds it to the profile; the check can then be mailed.
    with pytest.raises(refunds.RefundError):
        refunds.refund_check_address_from_profile(refund=check)
    holder.__dict__.update(ADDRESS)
    holder.save()
    check = refunds.refund_check_address_from_profile(refund=check)
    assert check.status == RefundStatus.PENDING and "12 Elm St" in check.mailing_address
    assert not check.approval_needed  # the mail payment was months ago
    refunds.refund_check_mark_sent(refund=check, check_number="5001", actor=staff)
    assert ledger_violations() == []


# --- the second person -------------------------------------------------------------------------


@pytest.fixture
def agent():
    return staff_in("agent")


def test_a_check_for_money_staff_recorded_needs_a_second_billing_staff_member(agent):
    recorder = staff_in("billing")
    holder = UserFactory()
    account = account_open(holder=holder)
    mail_payment(account, 3000, agent)
    mail_payment(account, 1000, recorder)
    [check] = closing.account_close(account=account, actor=holder)
    assert check.approval_needed and check.approved_by is None

    with pytest.raises(refunds.RefundError, match="second staff member"):
        refunds.refund_check_mark_sent(refund=check, check_number="100", actor=recorder)
    for refused in (agent, recorder, staff_in("agent")):  # who recorded, or not in billing/supervisor
        with pytest.raises(refunds.RefundError):
            refunds.refund_check_approve(refund=check, actor=refused)
    check.refresh_from_db()
    assert check.approved_by is None

    other = staff_in("billing")
    refunds.refund_check_approve(refund=check, actor=other)
    check.refresh_from_db()
    assert check.approved_by == other and check.approved_at is not None
    with pytest.raises(refunds.RefundError):  # approved once
        refunds.refund_check_approve(refund=check, actor=staff_in("supervisor"))
    sent = refunds.refund_check_mark_sent(refund=check, check_number="100", actor=recorder)
    assert sent.status == RefundStatus.SUCCEEDED
    assert ledger_violations() == []


def test_a_supervisor_approves_and_a_reduced_refund_keeps_its_approval(agent):
    holder = UserFactory()
    account = account_open(holder=holder)
    number = "+18605550192"
    facility, inmate = ready_for_calls(account, staff=agent, holder=holder, number=number)
    mail_payment(account, 1150, agent)
    [check] = closing.account_close(account=account, actor=holder)
    refunds.refund_check_approve(refund=check, actor=staff_in("supervisor"))

    started = timezone.now() - datetime.timedelta(hours=2)
    done = complete(facility, inmate, number, seconds=115, cid="late-approved", started_at=started)
    late_charges.late_charge_apply(
        account_id=account.pk, cause="call:late-approved", charged_cents=done.charge_cents + done.tax_cents
    )
    check.refresh_from_db()
    assert check.amount_cents == 1150 - done.charge_cents - done.tax_cents
    sent = refunds.refund_check_mark_sent(refund=check, check_number="101", actor=agent)
    assert sent.status == RefundStatus.SUCCEEDED
    assert ledger_violations() == []


def test_money_recorded_more_than_30_days_before_needs_no_second_person(agent):
    holder = UserFactory()
    account = account_open(holder=holder)
    payment = mail_payment(account, 1000, agent)
    Payment.objects.filter(pk=payment.pk).update(succeeded_at=timezone.now() - datetime.timedelta(days=31))
    [check] = closing.account_close(account=account, actor=holder)
    assert not check.approval_needed
    refunds.refund_check_mark_sent(refund=check, check_number="102", actor=agent)
    assert ledger_violations() == []


def test_the_admin_approves_in_a_second_step_and_the_work_queue_counts_what_waits(client, agent):
    holder = UserFactory()
    account = account_open(holder=holder)
    mail_payment(account, 1000, agent)
    [check] = closing.account_close(account=account, actor=holder)
    approver = staff_in("billing")
    client.force_login(approver)
    assert _queue_count(client.get(reverse("admin:index")).text, "refunds_need_approval") == 1
    changelist = reverse("admin:billing_refund_changelist")
    listed = client.get(changelist + "?approval_needed__exact=1&approved_by__isnull=True")
    assert [r.pk for r in listed.context["cl"].result_list] == [check.pk]

    client.post(changelist, {"action": "approve_check_refund", "_selected_action": [check.pk]})
    check.refresh_from_db()
    assert check.approved_by == approver
    assert _queue_count(client.get(reverse("admin:index")).text, "refunds_need_approval") == 0


def test_a_daily_list_shows_who_recorded_which_offline_payments(client, agent):
    other_agent = staff_in("agent")
    first, second = account_open(holder=UserFactory()), account_open(holder=UserFactory())
    one = mail_payment(first, 1000, agent)
    two = mail_payment(second, 2500, agent)
    three = mail_payment(first, 500, other_agent)
    yesterday = timezone.now() - datetime.timedelta(days=1)
    Payment.objects.filter(pk=three.pk).update(created_at=yesterday)
    url = reverse("admin:billing_payment_recorded_by_staff")

    client.force_login(agent)
    assert client.get(url).status_code == 403  # agents record; billing and supervisors review

    client.force_login(staff_in("supervisor"))
    page = client.get(url)
    assert page.status_code == 200
    groups = [(g.day, g.staff, [p.pk for p in g.payments], g.total_cents) for g in page.context["groups"]]
    assert groups == [
        (timezone.localdate(), agent, [one.pk, two.pk], 3500),
        (timezone.localdate(yesterday), other_agent, [three.pk], 500),
    ]
    assert agent.email in page.text and "$35.00" in page.text
    home = client.get(reverse("admin:index")).text
    assert _queue_count(home, "offline_payments_today") == 2
    outbox_drain()
