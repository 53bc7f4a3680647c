"""The account state a hold decision needs comes from the accounts layer: the kernel reads the
columns it registered, under the ledger-row lock, and names no table of its own accord."""

import dataclasses

import pytest
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, CallingAccount
from billing.ledger import holds
from billing.ledger import kernel as ledger
from tests.helpers import make_account


def test_the_accounts_layer_registers_the_calling_accounts_table_and_standing():
    state = holds._account_state
    assert state.table == CallingAccount._meta.db_table
    assert state.columns == ("status", "suspension_code", "activates_at")
    assert state.credit_limit == "credit_limit_cents"


def _funds_seen(account, *, on_credit=False):
    seen = []
    ledger.hold_place(
        account=account,
        call_id=f"state-{account.pk}",
        on_credit=on_credit,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
        decide=lambda funds: seen.append(funds),
        details={},
    )
    return seen[0]


@pytest.mark.django_db
def test_a_hold_decision_sees_the_registered_columns_under_the_lock():
    account = make_account(balance_cents=700, status=AccountStatus.SUSPENDED)
    funds = _funds_seen(account)
    assert funds.account["status"] == AccountStatus.SUSPENDED
    assert set(funds.account) == {"status", "suspension_code", "activates_at"}
    assert funds.available_cents == 700


@pytest.mark.django_db
def test_a_column_the_accounts_layer_adds_reaches_the_decision(monkeypatch):
    registered = holds._account_state
    monkeypatch.setattr(holds, "_account_state", dataclasses.replace(registered, columns=(*registered.columns, "kind")))
    account = make_account(kind=AccountKind.DIRECT_BILL, credit_limit_cents=5000)
    funds = _funds_seen(account, on_credit=True)
    assert funds.account["kind"] == account.kind
    assert funds.available_cents == 5000
