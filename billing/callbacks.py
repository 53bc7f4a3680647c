"""What billing gives the code below it to call back, registered when the apps are ready (the calls
and billing apps find each app's `callbacks` module by name, as the admin finds `admin` modules):

- the call path records the refund of a single call's unused part, a refund row of the payments
  workflow (`calls.single_calls.refund_queue`);
- a payment that credits an open Direct Bill account ends a suspension for a past-due statement once
  nothing is past due, the statements' dunning rule (`billing.payments.services`)."""

from billing.payments import services as payments
from billing.payments.single_call import refund_queue
from billing.statements.dunning import account_payment_received
from calls import single_calls

single_calls.refund_queue_register(refund_queue)
payments.direct_bill_credited_register(account_payment_received)
