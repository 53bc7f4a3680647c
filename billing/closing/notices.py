"""A check refund marked sent, with the holder told (the check's number, amount and where it went)."""

from django.db import transaction

from accounts.emails import account_email_enqueue
from accounts.models import User
from billing.closing import services as closing
from billing.payments.models import Refund


def refund_check_sent_record(*, refund: Refund, check_number: str, actor: User) -> Refund:
    """Mark a pending check refund mailed (`closing.refund_check_mark_sent`) and email the holder in the
    same transaction (through the outbox). Raises closing.CloseError with a message fit to show."""
    with transaction.atomic():
        refund = closing.refund_check_mark_sent(refund=refund, check_number=check_number, actor=actor)
        assert refund.account_id is not None, "check refunds are made only for calling accounts"
        account_email_enqueue(
            account_id=refund.account_id,
            template="refund_check_sent",
            amount_cents=refund.amount_cents,
            check_number=refund.check_number,
            mailing_address=refund.mailing_address,
        )
    return refund
