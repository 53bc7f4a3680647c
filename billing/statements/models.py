"""The Direct Bill statements' models: a statement and its lines."""

from django.db import models


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
