from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import CallingAccount

from . import ledger
from .models import Payment, Posting, Refund


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


# The kernel checks the ledger's rules, payments and refunds; this adds what only the apps above it
# know: every calling account has its ledger account.
EXTRA_LEDGER_CHECKS: list = [_calling_account_violations]


def ledger_violations() -> list[ledger.Violation]:
    return ledger.check(EXTRA_LEDGER_CHECKS)
