"""The staff tools' models: adjustments, call credit requests and reconciliation runs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.payments.models import Payment, Refund


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
