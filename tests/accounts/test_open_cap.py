"""The cap on open accounts per holder holds when requests race."""

import threading

import pytest
from django.db import connections

from accounts.models import CallingAccount
from accounts.services import AccountError, account_open
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_eight_requests_at_once_open_no_more_than_the_cap(settings):
    settings.MAX_OPEN_ACCOUNTS_PER_HOLDER = 3
    holder = UserFactory()
    barrier, refused, errors = threading.Barrier(8), [], []

    def open_one():
        try:
            barrier.wait()
            account_open(holder=holder)
        except AccountError as exc:
            refused.append(exc.message)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert CallingAccount.objects.filter(holder=holder).count() == 3
    assert len(refused) == 5 and "You already have 3 open accounts" in refused[0]
