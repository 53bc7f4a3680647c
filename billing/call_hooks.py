"""What billing gives the call path to call back (found by name when the apps are ready): recording
the refund of a single call's unused part, a refund row of the payments workflow."""

from billing.payments.single_call import refund_queue
from calls import single_calls

single_calls.refund_queue_register(refund_queue)
