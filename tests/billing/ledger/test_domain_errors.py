"""Every error a person can cause shares one base: a view may catch `DomainError` and show its message."""

import pytest

from accounts.direct_bill.services import ApplicationError
from accounts.phone_access import PhoneAccessError
from accounts.services import AccountError
from billing.ledger.errors import DomainError
from billing.payments.disputes import DisputeError
from billing.payments.services import PaymentError
from billing.statements.adjustments import AdjustmentError
from billing.statements.call_credits import CallCreditError
from billing.statements.services import StatementError


@pytest.mark.parametrize(
    "error_class",
    [
        AccountError,
        ApplicationError,
        PhoneAccessError,
        CallCreditError,
        AdjustmentError,
        PaymentError,
        DisputeError,
        StatementError,
    ],
)
def test_each_domain_error_is_caught_as_one_base_and_keeps_its_message(error_class):
    with pytest.raises(DomainError) as caught:
        raise error_class("That cannot be done.")
    assert isinstance(caught.value, error_class)
    assert caught.value.message == "That cannot be done."
    assert str(caught.value) == "That cannot be done."
    assert caught.value.extra == {}
