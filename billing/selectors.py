from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from accounts.models import CallingAccount

from . import ledger
from .models import JournalEntry, Payment, PaymentStatus, Posting, Refund, SystemAccount


def account_owed_cents(*, account) -> int:
    """What the holder owes now (a ledger balance below zero is money owed)."""
    return max(0, -(ledger.account_ledger(account).balance_cents or 0))


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
    return (
        Posting.objects.filter(ledger_account__calling_account=account)
        .select_related("entry")
        .order_by("-entry__created_at", "-id")
    )


def _payment_violations() -> list[ledger.Violation]:
    """Every succeeded payment has exactly its own entry (`payment:<id>`) adding its amount to its
    account and its fee to revenue; no other payment has an entry; no payment entry lacks a payment."""
    violations = []
    succeeded = Payment.objects.filter(status=PaymentStatus.SUCCEEDED)
    for pk in succeeded.filter(entry__isnull=True).order_by("id").values_list("pk", flat=True):
        violations.append(ledger.Violation("payment_not_posted", f"payment #{pk} succeeded without an entry"))
    posted = (
        succeeded.filter(entry__isnull=False)
        .annotate(
            to_account=Coalesce(
                Sum(
                    "entry__postings__amount_cents",
                    filter=Q(entry__postings__ledger_account__calling_account=F("account")),
                ),
                0,
            ),
            to_fees=Coalesce(
                Sum(
                    "entry__postings__amount_cents",
                    filter=Q(entry__postings__ledger_account__code=f"system:{SystemAccount.FEE_REVENUE}"),
                ),
                0,
            ),
        )
        .values_list("pk", "entry__idempotency_key", "amount_cents", "fee_cents", "to_account", "to_fees")
        .order_by("id")
    )
    for pk, key, amount, fee, to_account, to_fees in posted:
        if key != f"payment:{pk}":
            violations.append(ledger.Violation("payment_wrong_entry", f"payment #{pk} is posted as {key}"))
        elif to_account != amount or to_fees != fee:
            violations.append(
                ledger.Violation(
                    "payment_amount_mismatch",
                    f"payment #{pk} of {amount}+{fee} cents posted {to_account} to the account, {to_fees} to fees",
                )
            )
    stray = Payment.objects.exclude(status=PaymentStatus.SUCCEEDED).filter(entry__isnull=False).order_by("id")
    for pk, status in stray.values_list("pk", "status"):
        violations.append(ledger.Violation("payment_entry_without_success", f"payment #{pk} is {status}"))
    orphans = JournalEntry.objects.filter(idempotency_key__regex=r"^payment:[0-9]+$", payment__isnull=True).order_by(
        "id"
    )
    for pk, key in orphans.values_list("pk", "idempotency_key"):
        violations.append(ledger.Violation("payment_entry_without_payment", f"entry #{pk} ({key})"))
    return violations


def _refund_violations() -> list[ledger.Violation]:
    """A check refund is posted (`refund:<id>`) from its creation and settled (`refund:<id>:sent`)
    once mailed; a card refund is posted only once sent; each takes its amount off its account;
    no refund entry lacks its refund."""
    violations = []
    refunds = Refund.objects.annotate(
        to_account=Coalesce(
            Sum(
                "entry__postings__amount_cents",
                filter=Q(entry__postings__ledger_account__calling_account=F("account")),
            ),
            0,
        )
    ).order_by("id")
    for refund in refunds.select_related("entry", "sent_entry"):
        posted = refund.method == "check" or refund.status == "succeeded"
        sent = refund.method == "check" and refund.status == "succeeded"
        if posted != (refund.entry_id is not None) or sent != (refund.sent_entry_id is not None):
            violations.append(ledger.Violation("refund_posting_state", f"refund #{refund.pk} is {refund.status}"))
        elif posted and (
            refund.entry.idempotency_key != f"refund:{refund.pk}" or refund.to_account != -refund.amount_cents
        ):
            violations.append(ledger.Violation("refund_wrong_entry", f"refund #{refund.pk}"))
        elif sent and refund.sent_entry.idempotency_key != f"refund:{refund.pk}:sent":
            violations.append(ledger.Violation("refund_wrong_entry", f"refund #{refund.pk} (sent)"))
    orphans = JournalEntry.objects.filter(idempotency_key__regex=r"^refund:[0-9]+$", refund__isnull=True).order_by("id")
    for pk, key in orphans.values_list("pk", "idempotency_key"):
        violations.append(ledger.Violation("refund_entry_without_refund", f"entry #{pk} ({key})"))
    return violations


def _calling_account_violations() -> list[ledger.Violation]:
    missing = CallingAccount.objects.filter(ledger_account__isnull=True).order_by("id")
    return [ledger.Violation("calling_account_without_ledger", f"calling account #{c.pk}") for c in missing]


# The kernel checks the ledger's own rules; these add what only billing knows (each external id
# applied once, every calling account has its ledger account).
EXTRA_LEDGER_CHECKS: list = [_payment_violations, _refund_violations, _calling_account_violations]


def ledger_violations() -> list[ledger.Violation]:
    return ledger.check(EXTRA_LEDGER_CHECKS)
