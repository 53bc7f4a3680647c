"""Lifecycle edges: money credited while suspended still starts the activation
clock; a Direct Bill approval at the open-account cap is a clear refusal, not an error page."""

import pytest
from django.urls import reverse

from accounts.direct_bill import services as applications
from accounts.models import AccountStatus
from accounts.services import account_open, account_reinstate, account_suspend
from billing.payments.models import Channel, PaymentMethod
from billing.payments.services import payment_record_offline
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_account_funded_while_suspended_activates_once_reinstated(staff):
    account = account_open(holder=UserFactory())
    account_suspend(account=account, actor=staff, reason="Checking identity")
    payment_record_offline(
        account=account,
        channel=Channel.MAIL,
        method=PaymentMethod.MONEY_ORDER,
        amount_cents=2000,
        reference="MO-9",
        recorded_by=staff,
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED and account.activates_at is not None
    account_reinstate(account=account, actor=staff, reason="Identity checked")
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_ACTIVATION


def test_a_direct_bill_approval_at_the_open_account_cap_is_refused_clearly(client, settings):
    settings.MAX_OPEN_ACCOUNTS_PER_HOLDER = 1
    holder = UserFactory(state="AK")
    account_open(holder=holder)
    client.force_login(holder)
    response = client.post(
        reverse("accounts:direct_bill_apply"),
        {
            "legal_name": "Jo Ann Smith",
            "date_of_birth": "1984-07-04",
            "address_line1": "1 Front Street",
            "city": "Juneau",
            "state": "AK",
            "postal_code": "99801",
            "consent": "on",
        },
    )
    assert response.status_code in (200, 302, 400)
    with pytest.raises(applications.ApplicationError, match="open accounts"):
        applications.application_approve(application=holder.applications.get(), credit_limit_cents=5000, actor=None)
