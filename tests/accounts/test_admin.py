"""Staff side: search, filters, activate now, suspend and reinstate with a reason, recorded payments."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, AccountStatus
from billing.ledger.models import SystemAccount
from billing.payments.models import Payment
from billing.payments.selectors import ledger_violations
from tests.factories import UserFactory
from tests.helpers import balance_of, system_posted

CHANGELIST = reverse("admin:accounts_callingaccount_changelist")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def account(holder):
    account = services.account_open(holder=holder)
    services.phone_number_add(account=account, number="+18605550134", label="Home", line_type="landline", actor=holder)
    return account


@pytest.mark.parametrize("query", ["(860) 555-0134", "8605550134", "+18605550134", "Doe", "holder"])
def test_accounts_are_found_by_phone_number_name_and_email(staff_client, account, query):
    other = services.account_open(holder=UserFactory(first_name="Zed", last_name="Other", email="zed@elsewhere.org"))
    page = staff_client.get(CHANGELIST, {"q": query})
    assert page.status_code == 200
    shown = list(page.context["cl"].result_list)
    assert account in shown and other not in shown


def test_status_and_kind_filters(staff_client, account):
    active = services.account_open(holder=UserFactory())
    active.status = AccountStatus.ACTIVE
    active.save(update_fields=["status"])
    shown = list(staff_client.get(CHANGELIST, {"status__exact": "active"}).context["cl"].result_list)
    assert shown == [active]
    shown = list(staff_client.get(CHANGELIST, {"kind__exact": "direct_bill"}).context["cl"].result_list)
    assert shown == []


def test_account_page_shows_numbers_payments_and_audit(staff_client, account):
    page = staff_client.get(reverse("admin:accounts_callingaccount_change", args=[account.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "+18605550134" in html and "Read-only ledger" in html and "Number added" in html


def _action(client, action, account, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [account.pk], **extra})


def test_activate_now(staff_client, account):
    services.account_mark_funded(account=account, now=account.created_at)
    asked = _action(staff_client, "activate_now", account)
    assert asked.status_code == 200 and b"reason" in asked.content
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_ACTIVATION
    _action(staff_client, "activate_now", account, apply="Activate now", reason="Holder is a verified returning family")
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.ACTIVATED)
    assert event.reason == "Holder is a verified returning family"


def test_suspend_asks_for_a_reason_and_keeps_it(staff_client, account):
    form = _action(staff_client, "suspend", account)
    assert form.status_code == 200 and b"reason" in form.content

    empty = _action(staff_client, "suspend", account, apply="Suspend", reason="")
    assert empty.status_code == 200
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_FUNDING

    done = _action(staff_client, "suspend", account, apply="Suspend", reason="Fraud report #88")
    assert done.status_code == 302
    account.refresh_from_db()
    assert (account.status, account.suspension_code) == (AccountStatus.SUSPENDED, "staff")
    event = AccountEvent.objects.get(account=account, action=AccountEvent.Action.SUSPENDED)
    assert event.reason == "Fraud report #88"

    _action(staff_client, "reinstate", account, apply="Reinstate", reason="Cleared by review")
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_FUNDING and account.suspension_code == ""
    assert (
        AccountEvent.objects.get(account=account, action=AccountEvent.Action.REINSTATED).reason == "Cleared by review"
    )


ADD_PAYMENT = reverse("admin:billing_payment_add")


def test_staff_record_a_mail_payment_without_fee(staff_client, account):
    response = staff_client.post(
        ADD_PAYMENT,
        {"account": account.pk, "channel": "mail", "method": "check", "amount": "75.00", "reference": "Check 1042"},
    )
    payment = Payment.objects.get()
    assert response["Location"] == reverse("admin:billing_payment_change", args=[payment.pk])
    assert (payment.amount_cents, payment.fee_cents, payment.status) == (7500, 0, "succeeded")
    assert payment.recorded_by.is_staff
    assert system_posted(SystemAccount.MAIL_CLEARING) == -7500
    account.refresh_from_db()
    assert balance_of(account) == 7500
    assert account.status == AccountStatus.PENDING_ACTIVATION
    assert ledger_violations() == []


def test_staff_record_a_live_agent_payment_with_its_fee(staff_client, account):
    staff_client.post(
        ADD_PAYMENT,
        {"account": account.pk, "channel": "phone_agent", "method": "card", "amount": "40", "reference": "T-77"},
    )
    payment = Payment.objects.get()
    assert (payment.amount_cents, payment.fee_cents) == (4000, 595)
    assert system_posted(SystemAccount.FEE_REVENUE) == 595


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channel": "phone_agent", "method": "card", "amount": "50.01"}, "at most $50.00"),
        ({"channel": "mail", "method": "card", "amount": "20"}, "check or a money order"),
        ({"channel": "mail", "method": "check", "amount": "0"}, "greater than zero"),
        ({"channel": "mail", "method": "check", "amount": "abc"}, "like 25.00"),
    ],
)
def test_bad_recorded_payment_changes_nothing(staff_client, account, data, message):
    response = staff_client.post(ADD_PAYMENT, {"account": account.pk, "reference": "R1", **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Payment.objects.exists()


def test_ledger_and_payments_are_read_only_in_the_admin(staff_client, account):
    services_payment = staff_client.post(
        ADD_PAYMENT, {"account": account.pk, "channel": "mail", "method": "check", "amount": "10", "reference": "9"}
    )
    assert services_payment.status_code == 302
    payment = Payment.objects.get()
    page = staff_client.get(reverse("admin:billing_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and b'name="amount_cents"' not in page.content
    assert staff_client.get(reverse("admin:ledger_journalentry_add")).status_code == 403
    assert staff_client.get(reverse("admin:billing_stripeevent_changelist")).status_code == 200


def test_an_accounts_ledger_lines_are_listed_read_only(staff_client, account):
    staff_client.post(
        ADD_PAYMENT, {"account": account.pk, "channel": "mail", "method": "check", "amount": "12", "reference": "5"}
    )
    page = staff_client.get(reverse("admin:ledger_ledgeraccount_change", args=[account.ledger_account.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Mail (check or money order) payment #" in html and "1200" in html


def test_staff_who_may_only_view_cannot_record_payments_or_change_accounts(client, account):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "view_callingaccount"]))
    client.force_login(viewer)
    response = client.post(
        reverse("admin:billing_payment_add"),
        {"account": account.pk, "channel": "mail", "method": "check", "amount": "500.00", "reference": "123"},
    )
    assert response.status_code == 403
    assert not Payment.objects.filter(account=account).exists()
    changelist = client.get(reverse("admin:accounts_callingaccount_changelist"))
    assert changelist.status_code == 200
    for action in ("activate_now", "suspend", "reinstate"):
        assert f'value="{action}"' not in changelist.content.decode()
