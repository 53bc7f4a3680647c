"""The ledger's check runs the kernel's own invariants and every check a workflow registered with it."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing import ledger_checks
from billing.ledger import checks
from billing.ledger import kernel as ledger


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(checks, "_REGISTERED", list(checks.registered()))


def test_the_billing_workflows_register_their_invariants_with_the_kernel():
    assert {
        ledger_checks._payment_violations,
        ledger_checks._refund_violations,
        ledger_checks._calling_account_violations,
        ledger_checks._single_call_violations,
    } <= set(checks.registered())


@pytest.mark.django_db
def test_a_registered_check_runs_with_every_ledger_check_and_once(registry):
    def broken():
        return [ledger.Violation("workflow_rule", "something a workflow knows is wrong")]

    checks.register(broken)
    checks.register(broken)
    assert [str(v) for v in ledger.check()] == ["workflow_rule: something a workflow knows is wrong"]
    with pytest.raises(CommandError, match="1 ledger invariant violation"):
        call_command("ledger_check")
