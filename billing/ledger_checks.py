"""The invariants of the billing workflows, registered with the ledger's check (`ledger.check()`,
`manage.py ledger_check`): each payment and refund posted once as it should be, every calling
account has its ledger account, and what the single calls account holds for each single call."""

import re
from collections import defaultdict

from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import CallingAccount
from billing.ledger import checks
from billing.ledger import kernel as ledger
from billing.ledger.models import JournalEntry, Posting, SystemAccount
from billing.payments.models import Payment, PaymentStatus, Refund, RefundReduction, RefundStatus
from calls.models import SingleCall, SingleCallStatus


@checks.register
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
            to_single_calls=_single_calls_sum(),
        )
        .values_list(
            "pk",
            "entry__idempotency_key",
            "amount_cents",
            "fee_cents",
            "to_account",
            "to_fees",
            "to_single_calls",
            "single_call__call_id",
        )
        .order_by("id")
    )
    for pk, key, amount, fee, to_account, to_fees, to_single_calls, call_id in posted:
        # A single call's payment goes to the single calls account under its call's key.
        expected = f"single_call:{call_id}:payment" if call_id is not None else f"payment:{pk}"
        if key != expected:
            violations.append(ledger.Violation("payment_wrong_entry", f"payment #{pk} is posted as {key}"))
        elif (to_single_calls if call_id is not None else to_account) != amount or to_fees != fee:
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
    orphans = orphans | JournalEntry.objects.filter(
        idempotency_key__startswith="single_call:", idempotency_key__endswith=":payment", payment__isnull=True
    )
    for pk, key in orphans.order_by("id").values_list("pk", "idempotency_key"):
        violations.append(ledger.Violation("payment_entry_without_payment", f"entry #{pk} ({key})"))
    return violations


def _single_calls_sum() -> Coalesce:
    return Coalesce(
        Sum(
            "entry__postings__amount_cents",
            filter=Q(entry__postings__ledger_account__code=f"system:{SystemAccount.SINGLE_CALLS}"),
        ),
        0,
    )


@checks.register
def _refund_violations() -> list[ledger.Violation]:
    """A check refund is posted (`refund:<id>`) from its creation and settled (`refund:<id>:sent`)
    once mailed; a card refund is posted only once sent; each takes its amount off its account, a
    check refund what it was before charges reported after the close reduced it (each reduction of
    a check puts its amount back on the account under its own entry); no refund entry lacks its
    refund."""
    violations = []
    reduced = (
        RefundReduction.objects.filter(refund=OuterRef("pk"))
        .order_by()
        .values("refund")
        .annotate(total=Sum("amount_cents"))
        .values("total")
    )
    refunds = Refund.objects.annotate(
        to_account=Coalesce(
            Sum(
                "entry__postings__amount_cents",
                filter=Q(entry__postings__ledger_account__calling_account=F("account")),
            ),
            0,
        ),
        reduced=Coalesce(Subquery(reduced), 0),
        to_single_calls=_single_calls_sum(),
    ).order_by("id")
    for refund in refunds.select_related("entry", "sent_entry", "single_call"):
        posted = refund.method == "check" or refund.status == "succeeded"
        sent = refund.method == "check" and refund.status == "succeeded"
        if refund.single_call is not None:  # back to the card from the single calls account
            key, taken = f"single_call:{refund.single_call.call_id}:refund", -refund.to_single_calls
        else:
            # A card refund is reduced before it is posted: it posts what is left.
            key = f"refund:{refund.pk}"
            taken = -refund.to_account - (refund.reduced if refund.method == "check" else 0)
        if posted != (refund.entry_id is not None) or sent != (refund.sent_entry_id is not None):
            violations.append(ledger.Violation("refund_posting_state", f"refund #{refund.pk} is {refund.status}"))
        elif (
            posted
            and refund.entry is not None
            and (refund.entry.idempotency_key != key or taken != refund.amount_cents)
        ):
            violations.append(ledger.Violation("refund_wrong_entry", f"refund #{refund.pk}"))
        elif sent and refund.sent_entry is not None and refund.sent_entry.idempotency_key != f"refund:{refund.pk}:sent":
            violations.append(ledger.Violation("refund_wrong_entry", f"refund #{refund.pk} (sent)"))
    orphans = JournalEntry.objects.filter(idempotency_key__regex=r"^refund:[0-9]+$", refund__isnull=True).order_by("id")
    for pk, key in orphans.values_list("pk", "idempotency_key"):
        violations.append(ledger.Violation("refund_entry_without_refund", f"entry #{pk} ({key})"))
    reductions = RefundReduction.objects.select_related("refund", "entry").order_by("id")
    for reduction in reductions:
        owner = reduction.refund
        expected = f"refund:{owner.pk}:reduced:{reduction.cause}"
        if (owner.method == "check") != (reduction.entry_id is not None) or (
            reduction.entry is not None
            and (
                reduction.entry.idempotency_key != expected
                or _to_calling_account(reduction.entry, owner.account_id) != reduction.amount_cents
            )
        ):
            violations.append(
                ledger.Violation("refund_reduction_wrong_entry", f"reduction #{reduction.pk} of refund #{owner.pk}")
            )
    stray = JournalEntry.objects.filter(
        idempotency_key__regex=r"^refund:[0-9]+:reduced:", refund_reduction__isnull=True
    ).order_by("id")
    for pk, key in stray.values_list("pk", "idempotency_key"):
        violations.append(ledger.Violation("refund_entry_without_refund", f"entry #{pk} ({key})"))
    return violations


def _to_calling_account(entry: JournalEntry, calling_account_id: int | None) -> int:
    total: int = entry.postings.filter(ledger_account__calling_account_id=calling_account_id).aggregate(
        total=Coalesce(Sum("amount_cents"), 0)
    )["total"]
    return total


@checks.register
def _calling_account_violations() -> list[ledger.Violation]:
    missing = CallingAccount.objects.filter(ledger_account__isnull=True).order_by("id")
    return [ledger.Violation("calling_account_without_ledger", f"calling account #{c.pk}") for c in missing]


_SINGLE_CALL_KEY = re.compile(r"single_call:(.+):(payment|charge|refund)")


@checks.register
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
