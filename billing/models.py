from django.conf import settings
from django.db import models
from django.db.models import Q


class SystemAccount(models.TextChoices):
    """The ledger's own accounts. Postings to a calling account's ledger account are signed from the
    holder's side: positive adds to what the holder has, negative is what the holder owes."""

    CARD_CLEARING = "card_clearing", "Card clearing"
    MAIL_CLEARING = "mail_clearing", "Mail clearing"
    FEE_REVENUE = "fee_revenue", "Payment fee revenue"
    CALL_REVENUE = "call_revenue", "Call revenue"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    REFUNDS_PAYABLE = "refunds_payable", "Refunds payable"
    ADJUSTMENTS = "adjustments", "Adjustments"


class LedgerAccount(models.Model):
    """One per calling account (prepaid balance or Direct Bill receivable) plus the system accounts.

    Only calling accounts keep a cached balance: system accounts take a posting from almost every
    entry, and one hot row locked by every payment and call would serialize all money movement."""

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    calling_account = models.OneToOneField(
        "accounts.CallingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_account"
    )
    balance_cents = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(calling_account__isnull=True) | Q(balance_cents__isnull=False),
                name="calling_ledger_keeps_balance",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EntryKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    CALL = "call", "Call charge"
    ADJUSTMENT = "adjustment", "Adjustment"
    REFUND = "refund", "Refund"
    REVERSAL = "reversal", "Reversal"


class JournalEntry(models.Model):
    """A balanced set of postings. `idempotency_key` names the cause (`payment:<id>`, `call:<id>`…)
    so applying one cause twice posts once."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    memo = models.CharField(max_length=300, blank=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} [{self.idempotency_key}]"


class Posting(models.Model):
    """Append-only: never updated or deleted. A mistake is corrected by a reversing entry."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    ledger_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount_cents = models.BigIntegerField()

    class Meta:
        ordering = ["entry_id", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount_cents=0), name="posting_not_zero")]
        indexes = [models.Index(fields=["ledger_account", "entry"], name="posting_account_entry_idx")]

    def __str__(self) -> str:
        return f"{self.ledger_account_id}: {self.amount_cents}"
