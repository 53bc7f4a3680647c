"""The closing workflow's model: the notices sent before an inactive account is closed. (Its refunds
are the payments workflow's rows: `billing.payments.models.Refund`.)"""

from django.db import models
from django.db.models import Q


class InactivityNotice(models.Model):
    """The notice a holder gets before an inactive prepaid balance is refunded (47 CFR 64.6130).

    One per (account, last activity date), enforced by the database, so a re-run or two workers
    record one; new activity gives a new last activity date and so a new notice. `sent_at` is set
    when the email went out: the refund waits for a notice actually sent."""

    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="inactivity_notices")
    for_last_activity_date = models.DateField()
    # What the email told the holder: the balance then, and the date the refund is due.
    balance_cents = models.BigIntegerField(null=True, blank=True)
    refund_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-for_last_activity_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "for_last_activity_date"], name="one_inactivity_notice_per_activity_date"
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(refund_date__isnull=False, balance_cents__isnull=False),
                name="sent_inactivity_notice_has_terms",
            ),
        ]

    def __str__(self) -> str:
        return f"Inactivity notice for account #{self.account_id} (last activity {self.for_last_activity_date})"
