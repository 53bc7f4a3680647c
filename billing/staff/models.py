"""The staff tools' models: reconciliation runs and the differences they found."""

from django.db import models
from django.utils import timezone

from billing.payments.models import Payment, Refund


class ReconciliationRun(models.Model):
    """One comparison of our payments and refunds with Stripe's records, and of the sums with the
    card clearing account. Zero differences is the expected state."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    payments_checked = models.PositiveIntegerField(default=0)
    refunds_checked = models.PositiveIntegerField(default=0)
    stripe_net_cents = models.BigIntegerField(default=0)
    ledger_card_clearing_cents = models.BigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [
            ("run_reconciliation", "Can run and read the reconciliation with Stripe"),
            ("view_reports", "Can read and download the financial reports"),
        ]

    def __str__(self) -> str:
        started = timezone.localtime(self.started_at) if self.started_at else None
        return f"Reconciliation #{self.pk}" + (f" ({started:%Y-%m-%d %H:%M %Z})" if started else "")


class ReconciliationDifference(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    kind = models.CharField(max_length=40)
    payment = models.ForeignKey(Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    refund = models.ForeignKey(Refund, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    stripe_id = models.CharField(max_length=255, blank=True)
    ours = models.CharField(max_length=200, blank=True)
    stripes = models.CharField("Stripe's", max_length=200, blank=True)
    suggested_action = models.CharField(max_length=500)

    class Meta:
        ordering = ["run_id", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_id or ''}".strip()
