"""Manual adjustments by staff: a reason is required, and the money moves through the ledger."""

from django.conf import settings
from django.db import transaction

from accounts.models import AccountKind, CallingAccount, User
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.models import EntryKind, SystemAccount
from billing.statements import dunning
from billing.statements.models import Adjustment


class AdjustmentError(DomainError):
    """An adjustment that cannot be made as asked; `message` is fit to show."""


DESCRIPTION_MAX_LENGTH = 200


def adjustment_create(
    *, account: CallingAccount, amount_cents: int, reason: str, actor: User, description: str = ""
) -> Adjustment:
    """Post a correction of `amount_cents` (from the holder's side: positive is a credit, negative a
    debit) against the adjustments account, under the key `adjustment:<id>`, with the staff member and
    the staff-only note (`reason`) recorded. `description` is what the family reads (statements,
    history; the entry's memo carries it, never the note). A credit that clears a past-due Direct Bill
    statement restores service at once. Raises AdjustmentError (nothing posted) without a note or a
    description, for one too long, or for a zero amount."""
    reason = reason.strip()
    description = " ".join(description.split()) or "Account adjustment"
    if not reason:
        raise AdjustmentError("Give a reason for the adjustment.")
    if len(reason) > settings.REASON_MAX_LENGTH:
        raise AdjustmentError(f"Keep the reason under {settings.REASON_MAX_LENGTH} characters.")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise AdjustmentError(f"Keep the description for the family under {DESCRIPTION_MAX_LENGTH} characters.")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents == 0:
        raise AdjustmentError("Enter an amount other than $0.00.")
    with transaction.atomic():
        ledger.balance_lock(account=account)  # lock order step 1 (billing/ledger/balances.py)
        adjustment = Adjustment.objects.create(
            account=account, amount_cents=amount_cents, reason=reason, description=description, created_by=actor
        )
        result = ledger.post(
            idempotency_key=f"adjustment:{adjustment.pk}",
            kind=EntryKind.ADJUSTMENT,
            lines=[
                (ledger.account_ledger(account), amount_cents),
                (ledger.system_account(SystemAccount.ADJUSTMENTS), -amount_cents),
            ],
            memo=description,
            created_by=actor,
        )
        adjustment.entry = result.entry
        adjustment.save(update_fields=["entry"])
        if account.kind == AccountKind.DIRECT_BILL and amount_cents > 0:
            dunning.account_payment_received(account=account)
    return adjustment
