"""Payment emails, sent after the payment's transaction commits."""

from django.urls import reverse

from accounts.emails import send_templated
from accounts.outbox import outbox_handler
from billing.ledger import kernel as ledger
from billing.payments.models import Payment


@outbox_handler("email.payment_receipt")
def send_payment_receipt(*, payment_id: int) -> None:
    payment = Payment.objects.select_related("account__holder", "account__ledger_account").get(pk=payment_id)
    assert payment.account is not None, "a receipt is queued only for a calling account's payment"
    send_templated(
        to=payment.account.holder.email,
        template="payment_receipt",
        context={
            "payment": payment,
            "account": payment.account,
            "balance_cents": ledger.balance_get(account=payment.account),
            "receipt_url": reverse("billing:receipt", args=[payment.pk]),
        },
    )
