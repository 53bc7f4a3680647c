import threading

import pytest
from django.db import connections

from billing.ledger import kernel as ledger
from billing.payments import services
from billing.payments.direct_bill import direct_bill_mail_payment_record
from billing.payments.models import Payment, PaymentMethod
from billing.statements.adjustments import adjustment_create
from tests.helpers import balance_of, open_direct_bill


@pytest.mark.django_db(transaction=True)
def test_two_staff_recording_the_same_check_at_once_cannot_overpay(staff):
    account = open_direct_bill(state="AK")
    adjustment_create(account=account, amount_cents=-335, reason="Calls carried over", actor=staff)
    barrier, refused, errors = threading.Barrier(4), [], []

    def record(i):
        try:
            barrier.wait()
            direct_bill_mail_payment_record(
                account=account, method=PaymentMethod.CHECK, amount_cents=335, reference=f"chk {i}", recorded_by=staff
            )
        except services.PaymentError as exc:
            refused.append(exc.message)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Payment.objects.filter(account=account).count() == 1
    assert refused == ["Nothing is owed on this account."] * 3
    assert balance_of(account) == 0
    assert ledger.check() == []
