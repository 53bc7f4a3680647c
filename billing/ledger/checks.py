"""The ledger check: every invariant, each reported as a `Violation`."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

from billing.ledger.models import JournalEntry, LedgerAccount, Posting


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


Check = Callable[[], Iterable[Violation]]

# The invariants of the workflows built on the ledger (payments, refunds…), which the kernel does not
# know: each app registers its own, from a `ledger_checks` module found when the apps are ready.
_REGISTERED: list[Check] = []


def register(fn: Check) -> Check:
    """Run `fn` (no arguments, returns violations) with every `check()`. Usable as a decorator;
    registering the same function twice runs it once."""
    if fn not in _REGISTERED:
        _REGISTERED.append(fn)
    return fn


def registered() -> tuple[Check, ...]:
    return tuple(_REGISTERED)


def check(extra_checks: Iterable[Check] = ()) -> list[Violation]:
    """Verify the ledger's invariants, then every registered check (and `extra_checks`); return every
    violation found (empty when all hold)."""
    violations: list[Violation] = []
    unbalanced = (
        Posting.objects.values("entry_id").annotate(total=Sum("amount_cents")).exclude(total=0).order_by("entry_id")
    )
    for row in unbalanced:
        violations.append(Violation("unbalanced_entry", f"entry #{row['entry_id']} sums to {row['total']} cents"))
    thin = JournalEntry.objects.annotate(n=Count("postings")).filter(n__lt=2).order_by("id")
    for entry in thin:
        violations.append(Violation("entry_without_two_postings", f"entry #{entry.pk} has {entry.n} posting(s)"))
    cached = (
        LedgerAccount.objects.filter(balance_cents__isnull=False)
        .annotate(posted=Coalesce(Sum("postings__amount_cents"), 0))
        .exclude(balance_cents=F("posted"))
        .order_by("id")
    )
    for account in cached:
        violations.append(
            Violation(
                "cached_balance_mismatch",
                f"{account.code} caches {account.balance_cents} cents but its postings sum to {account.posted}",
            )
        )
    for extra in (*_REGISTERED, *extra_checks):
        violations.extend(extra())
    return violations
