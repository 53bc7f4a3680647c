"""The ledger's models: its accounts, journal entries, postings and holds. Their tables kept the
names they had when these models lived in the billing app (`db_table` pinned)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField


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
    # Card money a family's bank disputes (a chargeback), held here for staff review (docs/domain.md).
    DISPUTES = "disputes", "Disputes"
    # Disputes FamilyLine lost: its own loss, never the family's.
    DISPUTE_LOSSES = "dispute_losses", "Dispute losses"
    # What called persons paid for single calls, until each call is charged or the rest refunded.
    SINGLE_CALLS = "single_calls", "Single calls (paid, not yet charged or refunded)"


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
        db_table = "billing_ledgeraccount"
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
        db_table = "billing_journalentry"
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
        db_table = "billing_posting"
        ordering = ["entry_id", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount_cents=0), name="posting_not_zero")]
        indexes = [models.Index(fields=["ledger_account", "entry"], name="posting_account_entry_idx")]

    def __str__(self) -> str:
        return f"{self.ledger_account_id}: {self.amount_cents}"


class Hold(models.Model):
    """Money reserved on a calling account for a cause (a call in progress, keyed by the platform's
    call id), so two calls at once cannot spend the same dollars. Placed by `ledger.hold_place` under
    the account's ledger-row lock; released when its call completes, or when it expires.

    The call's details (facility, inmate, number, billing, the answer given) ride along so a retried
    authorization gets its first answer; the kernel reads only account, amount and times."""

    call_id = models.CharField(max_length=100, unique=True)
    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="holds")
    # Ids of calls.Facility and calls.Inmate (foreign keys in the database; plain ids here, so the
    # kernel names no other app's models).
    facility_id = models.BigIntegerField()
    inmate_id = models.BigIntegerField()
    dialed_number = PhoneNumberField()
    billing = models.CharField(max_length=20)
    amount_cents = models.BigIntegerField()
    max_seconds = models.PositiveIntegerField()
    response = models.JSONField(help_text="The authorization answer, returned again for a repeated call id.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "calls_callhold"
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gte=0), name="hold_not_negative")]
        indexes = [
            models.Index(
                fields=["account", "expires_at"], condition=Q(released_at__isnull=True), name="hold_open_account_idx"
            ),
            models.Index(fields=["expires_at"], condition=Q(released_at__isnull=True), name="hold_open_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"Hold {self.call_id} on account #{self.account_id}: {self.amount_cents} cents"
