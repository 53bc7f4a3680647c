import pytest
from django.core.management import call_command

from accounts.models import AccountKind, AccountStatus, CallingAccount, PhoneNumber
from billing.payments.selectors import ledger_violations
from tests.helpers import balance_of


@pytest.mark.django_db
def test_seed_demo_gives_the_family_a_funded_active_account_with_two_numbers_once():
    call_command("seed_demo")
    call_command("seed_demo")
    account = CallingAccount.objects.get(holder__email="family@familyline.example", kind=AccountKind.ADVANCE_CONNECT)
    assert account.status == AccountStatus.ACTIVE
    assert balance_of(account) > 0
    assert PhoneNumber.objects.filter(account=account, is_active=True).count() == 2
    assert account.payments.count() == 1
    assert ledger_violations() == []
