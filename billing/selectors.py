import re
from collections import defaultdict

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import CallingAccount
from calls.models import SingleCall, SingleCallStatus

from . import ledger
from .models import Payment, PaymentStatus, Posting, Refund, RefundStatus, SystemAccount


def account_owed_cents(*, account) -> int:
    """What the holder owes now (a ledger balance below zero is money owed)."""
    return ledger.owed_cents(account=account)


def payment_list_for_account(*, account) -> QuerySet[Payment]:
    return Payment.objects.filter(account=account).order_by("-created_at", "-id")


def payment_get_for_holder(*, holder, pk: int) -> Payment:
    """The holder's own payment, or 404."""
    return get_object_or_404(
        Payment.objects.select_related("account__ledger_account", "account__holder"), pk=pk, account__holder=holder
    )


def refund_list_for_account(*, account) -> QuerySet[Refund]:
    return Refund.objects.filter(account=account).select_related("payment").order_by("created_at", "id")


def posting_list_for_account(*, account) -> QuerySet[Posting]:
    """The account's ledger lines, newest first (amount signed from the holder's side)."""
    return ledger.postings_for_account(account=account)


def _calling_account_violations() -> list[ledger.Violation]:
    missing = CallingAccount.objects.filter(ledger_account__isnull=True).order_by("id")
    return [ledger.Violation("calling_account_without_ledger", f"calling account #{c.pk}") for c in missing]


_SINGLE_CALL_KEY = re.compile(r"single_call:(.+):(payment|charge|refund)")


def _single_call_violations() -> list[ledger.Violation]:
    """What the single calls account holds for each single call is what its state says: the price
    while paid and not yet charged or refunded, nothing once charged and refunded (or the part whose
    refund has not gone through yet); and it takes postings from single calls' entries only."""
    violations = []
    held: dict[str, int] = defaultdict(int)
    postings = Posting.objects.filter(ledger_account__code=f"system:{SystemAccount.SINGLE_CALLS}")
    for key, amount in postings.values_list("entry__idempotency_key", "amount_cents").order_by("id"):
        match = _SINGLE_CALL_KEY.fullmatch(key)
        if match is None:
            violations.append(ledger.Violation("single_calls_stray_posting", f"entry {key}"))
        else:
            held[match[1]] += amount
    paid = set(
        Payment.objects.filter(single_call__isnull=False, status=PaymentStatus.SUCCEEDED).values_list(
            "single_call__call_id", flat=True
        )
    )
    unsent = dict(
        Refund.objects.filter(single_call__isnull=False)
        .exclude(status=RefundStatus.SUCCEEDED)
        .values_list("single_call__call_id", "amount_cents")
    )
    offers = SingleCall.objects.filter(call_id__in=set(held) | paid).order_by("id")
    for call_id, status, charge, tax in offers.values_list("call_id", "status", "charge_cents", "tax_cents"):
        if status in (SingleCallStatus.COMPLETED, SingleCallStatus.REFUNDED):
            expected = unsent.get(call_id, 0)
        else:
            expected = (charge or 0) + (tax or 0) if call_id in paid else 0
        if held.get(call_id, 0) != expected:
            violations.append(
                ledger.Violation(
                    "single_call_held_mismatch",
                    f"single call {call_id} ({status}) holds {held.get(call_id, 0)} cents, expected {expected}",
                )
            )
    return violations


# The kernel checks the ledger's rules, payments and refunds; this adds what only the apps above it
# know: every calling account has its ledger account, and what the single calls account holds for each
# single call.
EXTRA_LEDGER_CHECKS: list = [_calling_account_violations, _single_call_violations]


def ledger_violations() -> list[ledger.Violation]:
    return ledger.check(EXTRA_LEDGER_CHECKS)
