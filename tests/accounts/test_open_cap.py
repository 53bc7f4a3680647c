"""The cap on open accounts per holder holds when requests race."""

import pytest

from accounts.models import CallingAccount
from accounts.services import AccountError, account_open
from tests.factories import UserFactory
from tests.helpers import run_at_once


@pytest.mark.django_db(transaction=True)
def test_eight_requests_at_once_open_no_more_than_the_cap(settings):
    settings.MAX_OPEN_ACCOUNTS_PER_HOLDER = 3
    holder = UserFactory()

    results = run_at_once([lambda: account_open(holder=holder) for _ in range(8)])

    refused = [r for r in results if isinstance(r, AccountError)]
    assert [r for r in results if isinstance(r, Exception) and not isinstance(r, AccountError)] == []
    assert CallingAccount.objects.filter(holder=holder).count() == 3
    assert len(refused) == 5 and "You already have 3 open accounts" in refused[0].message
