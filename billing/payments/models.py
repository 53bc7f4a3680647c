"""The payments workflow's models: the fee per channel, payments, auto-reload, Stripe's events, card
disputes, and refunds (of a closed account's money, of a single call's unused part) with what late
charges took off them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrPromise


class Channel(models.TextChoices):
    WEB = "web", "Online (web)"
    PHONE_IVR = "phone_ivr", "Phone (automated)"
    PHONE_AGENT = "phone_agent", "Phone (live agent)"
    MAIL = "mail", "Mail (check or money order)"


# The one home of the fee caps (47 CFR 64.6020): automated payments (web, IVR) at most $3.00, a live
# agent at most $5.95, mail never a fee. The service, the admin and the database constraints below
# are all built from it.
FEE_CAPS_CENTS: dict[str, int] = {
    Channel.WEB: 300,
    Channel.PHONE_IVR: 300,
    Channel.PHONE_AGENT: 595,
    Channel.MAIL: 0,
}


FEE_CAP_CENTS = max(FEE_CAPS_CENTS.values())


def fee_within_caps() -> Q:
    """Each channel's fee between 0 and its own cap (a check constraint)."""
    condition = Q(fee_cents__gte=0)
    for channel, cap in FEE_CAPS_CENTS.items():
        condition &= ~Q(channel=channel) | Q(fee_cents__lte=cap)
    return condition


class FeeSchedule(models.Model):
    """The payment processing fee per channel, editable by staff. Never above its channel's cap
    (FEE_CAPS_CENTS)."""

    channel = models.CharField(max_length=20, choices=Channel.choices, unique=True)
    fee_cents = models.BigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel"]
        constraints = [
            models.CheckConstraint(condition=fee_within_caps(), name="fee_within_channel_cap"),
        ]

    def __str__(self) -> str:
        whole, frac = divmod(self.fee_cents, 100)
        return f"{self.get_channel_display()}: ${whole}.{frac:02d}"


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    REQUIRES_ACTION = "requires_action", _("Waiting for card authentication")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    CHECK = "check", _("Check")
    MONEY_ORDER = "money_order", _("Money order")


def one_payer_of(field: str = "account") -> Q:
    """Exactly one of a calling account and a single call (a check constraint)."""
    return Q(**{f"{field}__isnull": False, "single_call__isnull": True}) | Q(
        **{f"{field}__isnull": True, "single_call__isnull": False}
    )


class Payment(models.Model):
    """Money a holder pays into a calling account. `amount_cents` reaches the balance; `fee_cents`
    is revenue. Credited once, through the ledger, under the key `payment:<id>`.

    Or the price of a single call (`single_call`, no account, never a fee), posted under
    `single_call:<call_id>:payment` to the single calls system account."""

    account = models.ForeignKey(
        "accounts.CallingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    single_call = models.ForeignKey(
        "calls.SingleCall", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.CARD)
    amount_cents = models.BigIntegerField()
    fee_cents = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED)
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # The confirmed card (SetupIntent) a web payment charges: unique, so a double submit charges once.
    stripe_setup_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # A card collected by the phone menu (a one-time Stripe PaymentMethod) is charged under the key
    # `phone:<call>:<card token>`: unique, so a repeated callback charges once.
    charge_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # The card a single call was paid with (the PaymentMethod id the phone's card entry gave): the
    # same card entry sent again for the same single call is the same payment.
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    # Charged off-session from the saved card of the account's auto-reload (billing.AutoReload).
    auto_reload = models.BooleanField(default=False)
    reference = models.CharField("check / money order number", max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="payment"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=fee_within_caps(), name="payment_fee_within_channel_cap"),
            models.CheckConstraint(condition=one_payer_of(), name="payment_for_account_or_single_call"),
            models.CheckConstraint(
                condition=Q(single_call__isnull=True) | Q(fee_cents=0), name="single_call_payment_has_no_fee"
            ),
            # One payment per single call on its way or taken (a declined card may be followed by another).
            models.UniqueConstraint(
                fields=["single_call"],
                condition=Q(single_call__isnull=False)
                & Q(status__in=("created", "requires_action", "processing", "succeeded")),
                name="one_live_payment_per_single_call",
            ),
            models.UniqueConstraint(
                fields=["single_call", "stripe_payment_method_id"],
                condition=Q(single_call__isnull=False),
                name="one_payment_per_single_call_card_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} to account #{self.account_id} ({self.get_status_display()})"

    @property
    def total_cents(self) -> int:
        return self.amount_cents + self.fee_cents

    @property
    def reference_label(self) -> str:
        """What the reference is, for receipts: "Check number 1042", "Card terminal confirmation TERM-88812"."""
        if not self.reference:
            return ""
        labels: dict[str, StrPromise] = {
            PaymentMethod.CHECK: _("Check number %(reference)s"),
            PaymentMethod.MONEY_ORDER: _("Money order number %(reference)s"),
            PaymentMethod.CARD: _("Card terminal confirmation %(reference)s"),
        }
        return labels.get(self.method, _("Reference %(reference)s")) % {"reference": self.reference}


class AutoReload(models.Model):
    """A prepaid account's auto-reload: the saved card (the SetupIntent's payment method, kept on
    the holder's Stripe customer), how much to add and below which balance, and a monthly cap.
    Reloads are off-session card payments (`Payment.auto_reload`), at most one a day."""

    class Stopped(models.TextChoices):
        AUTHENTICATION = "authentication_required", _("your bank asked to confirm the payment")
        DECLINED = "declined", _("your card was declined")
        HOLDER = "holder", _("you turned it off")
        CAP_BELOW_COST = "cap_below_cost", _("its monthly limit no longer covers one reload with its fee")

    account = models.OneToOneField("accounts.CallingAccount", on_delete=models.PROTECT, related_name="auto_reload")
    enabled = models.BooleanField(default=False)
    amount_cents = models.BigIntegerField()
    threshold_cents = models.BigIntegerField()
    monthly_cap_cents = models.BigIntegerField()
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    stopped_reason = models.CharField(max_length=30, choices=Stopped.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="auto_reload_amount_positive"),
            models.CheckConstraint(condition=Q(threshold_cents__gte=0), name="auto_reload_threshold_sane"),
            models.CheckConstraint(
                condition=Q(monthly_cap_cents__gte=models.F("amount_cents")), name="auto_reload_cap_covers_one"
            ),
            models.CheckConstraint(
                condition=Q(enabled=False) | ~Q(stripe_payment_method_id=""), name="auto_reload_on_has_card"
            ),
        ]

    def __str__(self) -> str:
        return f"Auto-reload of account #{self.account_id} ({'on' if self.enabled else 'off'})"


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored before it is processed (unique event id)."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Set when the event failed STRIPE_EVENT_MAX_ATTEMPTS times: the sweep stops retrying it and staff
    # see it in the admin's parked list ("Process now" retries it once more).
    parked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [("process_stripeevent", "Can process a stored Stripe event again")]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="stripe_event_pending_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open: the amount is held for review"
    PARKED = "parked", "Parked: not matched to a payment, nothing posted"
    WON = "won", "Won: the amount is back"
    LOST = "lost", "Lost: a loss to FamilyLine"


class DisputeParkedReason(models.TextChoices):
    UNKNOWN_PAYMENT = "unknown_payment", "No payment of ours has this charge"
    PAYMENT_NOT_PAID = "payment_not_paid", "Our payment for this charge never succeeded"
    ABOVE_PAYMENT = "above_payment", "More than the payment took (less its card refunds and other disputes)"
    CURRENCY = "currency", "Not in dollars"


class Dispute(models.Model):
    """A chargeback on one of our card charges (Stripe's Dispute object). Opening it moves the
    disputed amount from card clearing to disputes (`dispute:<stripe id>:hold`); closing it moves
    it back (won) or to dispute losses (lost), under `dispute:<stripe id>:close`. The family's balance
    and calls are never touched and no fee is charged (docs/domain.md)."""

    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    stripe_charge_id = models.CharField(max_length=255, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    reason = models.CharField("bank's reason", max_length=100, blank=True)
    stripe_status = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    # Why a dispute was not posted (status parked): staff match it by hand, with Stripe's record.
    parked_reason = models.CharField(max_length=20, choices=DisputeParkedReason.choices, blank=True)
    hold_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="dispute_hold"
    )
    close_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="dispute_close"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "parked"]) | Q(close_entry__isnull=False),
                name="closed_dispute_is_posted",
            ),
            # A parked dispute has its reason and nothing on the ledger; any other has no reason.
            models.CheckConstraint(
                condition=(Q(status="parked") & ~Q(parked_reason="") & Q(hold_entry__isnull=True))
                | (~Q(status="parked") & Q(parked_reason="")),
                name="parked_dispute_has_reason_and_no_hold",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.stripe_dispute_id}"


class RefundMethod(models.TextChoices):
    CARD = "card", "Back to the card"
    CHECK = "check", "By check"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # A check refund owed to a holder with no mailing address: no check is prepared until there is one.
    NEEDS_ADDRESS = "needs_address", "Waiting for a mailing address"
    SUCCEEDED = "succeeded", "Sent"
    FAILED = "failed", "Failed"
    # Reduced to nothing by charges reported after the account closed, before it was sent.
    CANCELED = "canceled", "Canceled"


# Refunds that have not left FamilyLine yet: a charge reported after the close may still reduce them.
CHECK_UNSENT_STATUSES = (RefundStatus.PENDING, RefundStatus.NEEDS_ADDRESS)


class Refund(models.Model):
    """Money given back to the holder when an account closes, never with a fee.

    A card refund goes back to the card of one payment (`payment`) through Stripe and is posted
    under `refund:<id>` (account to card clearing) once Stripe accepts it. A check refund is posted
    at close under `refund:<id>` (account to refunds payable: FamilyLine now owes the holder) and
    settled under `refund:<id>:sent` (refunds payable to mail clearing) when staff mail the check.

    `amount_cents` is what is (or will be) sent: a charge reported after the close reduces a refund
    not yet sent (`RefundReduction`), down to nothing (`canceled`). A check refund of an account that
    received a payment recorded by staff shortly before needs a second staff member's approval
    (`approval_needed`, `approved_by`) before it may be marked sent."""

    account = models.ForeignKey(
        "accounts.CallingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    # Or the unused part of a single call's payment, back to its card (`single_call:<call_id>:refund`).
    single_call = models.OneToOneField(
        "calls.SingleCall", on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds")
    method = models.CharField(max_length=10, choices=RefundMethod.choices)
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    check_number = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )
    sent_entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="refund_sent"
    )
    # Where a check goes, as the holder gave it when the refund was decided (one line per line).
    mailing_address = models.TextField(blank=True)
    approval_needed = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_cents__gt=0) | Q(status="canceled", amount_cents=0), name="refund_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(method="check", status__in=["pending", "succeeded"]) | ~Q(mailing_address=""),
                name="check_refund_has_address",
            ),
            models.CheckConstraint(
                condition=~Q(method="check", status="succeeded", approval_needed=True) | Q(approved_by__isnull=False),
                name="sent_check_refund_approved",
            ),
            models.CheckConstraint(
                condition=~Q(method="card") | Q(payment__isnull=False), name="card_refund_has_payment"
            ),
            models.CheckConstraint(
                condition=~Q(method="check", status="succeeded") | ~Q(check_number=""),
                name="sent_check_refund_has_number",
            ),
            models.CheckConstraint(condition=one_payer_of(), name="refund_for_account_or_single_call"),
            models.CheckConstraint(
                condition=Q(single_call__isnull=True) | Q(method="card"), name="single_call_refund_to_card"
            ),
        ]
        indexes = [models.Index(fields=["status", "method"], name="refund_status_method_idx")]

    def __str__(self) -> str:
        return f"Refund #{self.pk} {self.get_method_display().lower()} to account #{self.account_id}"

    @property
    def mailing_address_line(self) -> str:
        return ", ".join(line for line in self.mailing_address.splitlines() if line.strip())


class RefundReduction(models.Model):
    """A charge reported after an account closed, taken from a refund not yet sent (docs/domain.md).

    For a check refund the money comes back from refunds payable to the account
    (`refund:<id>:reduced:<cause>`); a card refund not yet sent to the processor is simply sent
    smaller, so it has no entry of its own. One row per (refund, cause): the cause is the charge's
    own key (`call:<platform call id>`), so a charge reduces refunds once."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="reductions")
    cause = models.CharField(max_length=200)
    amount_cents = models.BigIntegerField()
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="refund_reduction"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "cause"], name="refund_reduction_once_per_cause"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="refund_reduction_positive"),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.refund_id} reduced by {self.amount_cents} cents ({self.cause})"
