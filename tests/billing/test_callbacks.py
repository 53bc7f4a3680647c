"""What billing registers with the code below it (billing/callbacks.py) is in place once Django is set
up, and the module name the apps discover is billing's alone, so discovery imports nothing else."""

import importlib.util

from django.apps import apps

from billing.payments import services as payments
from billing.payments.single_call import refund_queue
from billing.statements.dunning import account_payment_received
from calls import single_calls


def test_the_callbacks_are_registered_when_the_apps_are_ready():
    assert single_calls._refund_queue == [refund_queue]
    assert payments._direct_bill_credited == [account_payment_received]


def test_only_billing_has_a_callbacks_module():
    found = [c.name for c in apps.get_app_configs() if importlib.util.find_spec(f"{c.name}.callbacks") is not None]
    assert found == ["billing"]
