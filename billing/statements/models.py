"""What an account's record holds beside its ledger entries: Direct Bill statements and their lines,
staff adjustments, and call credit requests."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Statement(models.Model):
    """A Direct Bill monthly statement. Written once; never changed after it is issued."""

    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="statements")
    period_start_date = models.DateField()
    period_end_date = models.DateField()
    opening_balance_cents = models.BigIntegerField()
    charges_cents = models.BigIntegerField(default=0)
    tax_cents = models.BigIntegerField(default=0)
    payments_cents = models.BigIntegerField(default=0)
    adjustments_cents = models.BigIntegerField(default=0)
    closing_balance_cents = models.BigIntegerField()
    due_date = models.DateField()
    issued_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "period_start_date"], name="one_statement_per_account_month"),
        ]

    def __str__(self) -> str:
        return f"Statement {self.period_start_date:%Y-%m} for account #{self.account_id}"


class StatementLine(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        PAYMENT = "payment", "Payment"
        ADJUSTMENT = "adjustment", "Adjustment"

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    description = models.CharField(max_length=300)
    facility = models.CharField(max_length=200, blank=True)
    inmate = models.CharField(max_length=200, blank=True)
    number = models.CharField(max_length=20, blank=True)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    charge_cents = models.BigIntegerField(default=0)
    tax_cents = models.BigIntegerField(default=0)
    amount_cents = models.BigIntegerField()
    entry = models.ForeignKey("ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["statement_id", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}: {self.amount_cents}"


class Adjustment(models.Model):
    """A manual correction by staff, always with a reason, posted through the ledger under
    `adjustment:<id>`. `amount_cents` is signed from the holder's side: positive is a credit
    (reduces what is owed), negative a debit."""

    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="adjustments")
    amount_cents = models.BigIntegerField()
    # For staff only: why the adjustment was made (never shown to the family).
    reason = models.TextField("staff note")
    # What the family reads on its statement and history ("Credit for a dropped call").
    description = models.CharField(max_length=200, default="Account adjustment")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Set in the same transaction that creates the row (the key needs the row's id first).
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="adjustment"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="adjustment_not_zero"),
            models.CheckConstraint(condition=~Q(reason=""), name="adjustment_has_reason"),
            models.CheckConstraint(condition=~Q(description=""), name="adjustment_has_description"),
        ]

    def __str__(self) -> str:
        return f"Adjustment #{self.pk} on account #{self.account_id}"


class CallCreditReason(models.TextChoices):
    DROPPED = "dropped", _("The call dropped")
    POOR_QUALITY = "poor_quality", _("The sound was poor")
    WRONG_NUMBER = "wrong_number", _("It reached the wrong number")


class CallCreditStatus(models.TextChoices):
    OPEN = "open", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    DECLINED = "declined", _("Declined")


class CallCreditRequest(models.Model):
    """A family asks for a call's charge back (within CALL_CREDIT_WINDOW of the call). Approved, it
    is credited once through the ledger under `call_credit:<id>`; declined, it carries a reason."""

    call = models.OneToOneField("calls.CallRecord", on_delete=models.PROTECT, related_name="credit_request")
    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="call_credits")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=CallCreditReason.choices)
    details = models.CharField(max_length=500, blank=True)
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=CallCreditStatus.choices, default=CallCreditStatus.OPEN)
    decline_reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="call_credit"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="call_credit_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(entry__isnull=False), name="approved_call_credit_is_posted"
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""), name="declined_call_credit_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Call credit request #{self.pk} on account #{self.account_id}"
