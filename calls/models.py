from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from phonenumber_field.modelfields import PhoneNumberField

from accounts.states import US_STATES
from billing.ledger.money import format_cents


class FacilityType(models.TextChoices):
    PRISON = "prison", "Prison"
    JAIL = "jail", "Jail"


class SizeTier(models.TextChoices):
    """Jail sizes by average daily population, as the FCC rate caps distinguish them."""

    NONE = "", "Not a jail"
    LARGE = "large", "Large jail (1,000 or more)"
    MEDIUM = "medium", "Medium jail (350 to 999)"
    SMALL = "small", "Small jail (100 to 349)"
    VERY_SMALL = "very_small", "Very small jail (under 100)"


class TimeZone(models.TextChoices):
    EASTERN = "America/New_York", "Eastern"
    CENTRAL = "America/Chicago", "Central"
    MOUNTAIN = "America/Denver", "Mountain"
    ARIZONA = "America/Phoenix", "Mountain (Arizona)"
    PACIFIC = "America/Los_Angeles", "Pacific"
    ALASKA = "America/Anchorage", "Alaska"
    HAWAII = "Pacific/Honolulu", "Hawaii"


class Facility(models.Model):
    """A prison or jail whose phone platform asks FamilyLine about calls. `code` is what the
    platform sends."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    town = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=US_STATES)
    facility_type = models.CharField(max_length=10, choices=FacilityType.choices)
    size_tier = models.CharField(max_length=12, choices=SizeTier.choices, blank=True)
    time_zone = models.CharField(max_length=40, choices=TimeZone.choices, default=TimeZone.EASTERN)
    cell_phones_allowed = models.BooleanField(default=True)
    max_call_minutes = models.PositiveSmallIntegerField(default=15)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "facilities"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_call_minutes__gte=1) & Q(max_call_minutes__lte=240), name="facility_call_length_sane"
            ),
            models.CheckConstraint(
                condition=(Q(facility_type="prison") & Q(size_tier="")) | (Q(facility_type="jail") & ~Q(size_tier="")),
                name="facility_size_tier_only_for_jails",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RatePlan(models.Model):
    """What a facility's calls cost from `effective_from_date` to `effective_to_date` (inclusive,
    open-ended when empty), as dates in the facility's time zone. A call is rated at the plan in
    force on the local date it started. A $0.00 plan makes calls free (no funds needed)."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="rate_plans")
    name = models.CharField(max_length=200)
    rate_per_minute = models.DecimalField(max_digits=6, decimal_places=4, help_text="Dollars per started minute.")
    tax_rate = models.DecimalField(max_digits=6, decimal_places=5, help_text="0.06350 for 6.35%.")
    effective_from_date = models.DateField()
    effective_to_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["facility_id", "-effective_from_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_per_minute__gte=0), name="rate_not_negative"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lt=1), name="tax_rate_fraction"),
            models.CheckConstraint(
                condition=Q(effective_to_date__isnull=True) | Q(effective_to_date__gte=F("effective_from_date")),
                name="rate_plan_dates_ordered",
            ),
            models.UniqueConstraint(fields=["facility", "effective_from_date"], name="one_rate_plan_per_start"),
        ]

    def __str__(self) -> str:
        until = self.effective_to_date.isoformat() if self.effective_to_date else "onwards"
        price = f"${self.rate_per_minute}/min + {self.tax_rate * 100:.2f}% tax"
        return f"{self.facility_id and self.facility.code} {self.name}: {price}, {self.effective_from_date} to {until}"

    @property
    def is_free(self) -> bool:
        return self.rate_per_minute == 0


class Inmate(models.Model):
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="inmates")
    inmate_number = models.CharField(max_length=30)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "inmate_number"], name="inmate_number_unique_per_facility"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} #{self.inmate_number} ({self.facility_id and self.facility.code})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class InmateDebitSponsorship(models.Model):
    """A holder pays, from an AdvanceConnect account, for an inmate's calls to any registered
    number. Several families may sponsor one inmate: each call has one payer, found by the payer
    order (docs/domain.md, inmate debit; calls/payers.py)."""

    inmate = models.ForeignKey(Inmate, on_delete=models.PROTECT, related_name="sponsorships")
    account = models.ForeignKey("accounts.CallingAccount", on_delete=models.PROTECT, related_name="sponsorships")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Optional, set by the sponsor: at most this much inmate-debit billing per calendar month
    # (calls and the holds of calls in progress).
    monthly_cap_cents = models.BigIntegerField(null=True, blank=True)
    # The last "your sponsorship was skipped for lack of funds" email (at most one a day).
    skip_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inmate", "account"],
                condition=Q(ended_at__isnull=True),
                name="one_active_sponsorship_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(monthly_cap_cents__isnull=True) | Q(monthly_cap_cents__gt=0),
                name="sponsorship_cap_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "ended_at"], name="sponsorship_account_idx"),
            models.Index(fields=["inmate", "started_at"], name="sponsorship_inmate_idx"),
        ]

    def __str__(self) -> str:
        state = "active" if self.ended_at is None else "ended"
        return f"Sponsorship #{self.pk} of inmate #{self.inmate_id} by account #{self.account_id} ({state})"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class BlockSource(models.TextChoices):
    STAFF = "staff", "Staff"
    SELF = "self", "The number's owner"


class BlockProof(models.TextChoices):
    """How the owner of a number proved it is theirs (a code sent to it)."""

    SMS = "sms", "Code by text"
    VOICE = "voice", "Code by voice call"


class BlockedNumber(models.Model):
    """A number inmates may not call: at one facility, or at every facility when `facility` is empty.
    Staff block (for example at a victim's request), and the owner of a number may block it for
    themselves; each source's block is lifted only by that source, and any active block refuses calls."""

    number = PhoneNumberField()
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="blocked_numbers"
    )
    source = models.CharField(max_length=5, choices=BlockSource.choices, default=BlockSource.STAFF)
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A self-block: how possession of the number was proven, and from which client address.
    proven_by = models.CharField(max_length=5, choices=BlockProof.choices, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_proven_by = models.CharField(max_length=5, choices=BlockProof.choices, blank=True)
    lifted_client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["number", "facility", "source"],
                condition=Q(lifted_at__isnull=True, facility__isnull=False),
                name="one_active_block_per_number_facility_source",
            ),
            models.UniqueConstraint(
                fields=["number", "source"],
                condition=Q(lifted_at__isnull=True, facility__isnull=True),
                name="one_active_block_everywhere_per_source",
            ),
            models.CheckConstraint(
                condition=Q(source="staff", proven_by="") | Q(source="self", facility__isnull=True) & ~Q(proven_by=""),
                name="self_block_everywhere_and_proven",
            ),
        ]
        indexes = [
            models.Index(fields=["number"], condition=Q(lifted_at__isnull=True), name="blocked_number_active_idx")
        ]

    def __str__(self) -> str:
        where = f"at facility #{self.facility_id}" if self.facility_id else "everywhere"
        return f"{self.number.as_e164 if self.number else ''} blocked {where} ({self.source})"


class PlatformToken(models.Model):
    """A bearer token for a phone platform. Only its SHA-256 is stored; the raw token is shown
    once, when staff create it."""

    # Set on a token read for the API (`platform_token_get`): the codes of its facilities, read once.
    facility_codes: frozenset[str]

    name = models.CharField(max_length=100)
    token_prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    facilities: "models.ManyToManyField[Facility, Any]" = models.ManyToManyField(
        "Facility",
        blank=True,
        related_name="+",
        help_text="The facilities this token may authorize and charge calls for. Empty: every facility.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"{self.name} ({self.token_prefix}…, {state})"

    @property
    def is_authenticated(self) -> bool:
        """DRF treats `request.user` as a principal; a token acting for a platform is one."""
        return self.revoked_at is None


class PlatformTokenAlert(models.Model):
    """Raised for staff when a token reports more completes without a prior authorization in an
    hour than PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR allows (a leaked token charging
    families directly). One row per token and hour."""

    class Kind(models.TextChoices):
        UNAUTHORIZED_COMPLETES = "unauthorized_completes", "Completes without an authorization"

    token = models.ForeignKey(PlatformToken, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    hour_started_at = models.DateTimeField()
    count = models.PositiveIntegerField(help_text="How many were seen when the alert was raised.")
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["token", "kind", "hour_started_at"], name="token_alert_once_per_hour")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.token.name} at {self.hour_started_at:%Y-%m-%d %H:00} ({self.count})"


class Billing(models.TextChoices):
    COLLECT = "collect", "Collect (AdvanceConnect)"
    INMATE_DEBIT = "inmate_debit", "Inmate debit"
    DIRECT_BILL = "direct_bill", "Direct Bill"
    FREE = "free", "Free"
    # One call paid by the called person's card on the spot (a number on no open account).
    SINGLE_CALL = "single_call", "Single call"


class Disconnect(models.TextChoices):
    NORMAL = "normal", "Normal"
    DROPPED = "dropped", "Dropped"


class CallSource(models.TextChoices):
    API = "api", "Platform API"
    IMPORT = "import", "Bulk import"


class CallRecord(models.Model):
    """A finished call and what it cost. One per platform call id; its charge is the journal entry
    keyed `call:<call_id>` (none for a call that costs nothing)."""

    call_id = models.CharField(max_length=100, unique=True)
    account = models.ForeignKey(
        "accounts.CallingAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="call_records"
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="call_records")
    inmate = models.ForeignKey(Inmate, on_delete=models.PROTECT, related_name="call_records")
    dialed_number = PhoneNumberField()
    started_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField()
    disconnect = models.CharField(max_length=10, choices=Disconnect.choices, default=Disconnect.NORMAL)
    billing = models.CharField(max_length=20, choices=Billing.choices)
    rate_plan = models.ForeignKey(RatePlan, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rate_per_minute = models.DecimalField(max_digits=6, decimal_places=4)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=5)
    billable_minutes = models.PositiveIntegerField()
    charge_cents = models.BigIntegerField()
    tax_cents = models.BigIntegerField()
    balance_after_cents = models.BigIntegerField(null=True, blank=True)
    entry = models.OneToOneField(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="call_record"
    )
    source = models.CharField(max_length=10, choices=CallSource.choices, default=CallSource.API)
    completed_at = models.DateTimeField(auto_now_add=True)
    # The deny reason when the call id's latest authorization was a deny: the call connected anyway
    # and is recorded, charged to no one. Empty for every other call.
    refused_reason = models.CharField(max_length=40, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(charge_cents__gte=0) & Q(tax_cents__gte=0), name="call_charge_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(entry__isnull=True) | Q(account__isnull=False) | Q(billing="single_call"),
                name="charged_call_has_payer",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-started_at", "-id"], name="call_account_started_idx"),
            models.Index(fields=["facility", "-started_at"], name="call_facility_started_idx"),
            models.Index(fields=["started_at"], name="call_started_idx"),
            models.Index(
                fields=["facility", "-completed_at"], condition=~Q(refused_reason=""), name="call_refused_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Call {self.call_id} ({self.billable_minutes} min, {format_cents(self.charge_cents + self.tax_cents)})"

    @property
    def total_cents(self) -> int:
        return self.charge_cents + self.tax_cents


class CallDecision(models.Model):
    """The latest answer `authorize` gave a platform for a call id (allow, or deny with its reason).
    A later authorization of the same id replaces it. A call reported complete whose latest answer
    was a deny is charged to no one. Kept CALL_DECISIONS_KEPT_YEARS, then purged."""

    class Decision(models.TextChoices):
        ALLOW = "allow", "Allow"
        DENY = "deny", "Deny"

    call_id = models.CharField(max_length=100, unique=True)
    decision = models.CharField(max_length=5, choices=Decision.choices)
    reason = models.CharField(max_length=40, blank=True, default="")
    # As the platform sent them (the facility code even when no facility has it), number in E.164.
    facility_code = models.CharField(max_length=20)
    inmate_number = models.CharField(max_length=30)
    # E.164 may run past 15 digits for numbers some countries allow (up to 19): as long as the API takes.
    dialed_number = models.CharField(max_length=32)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(decision="allow") & Q(reason="")) | (Q(decision="deny") & ~Q(reason="")),
                name="call_decision_deny_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["decided_at"], name="call_decision_decided_idx")]

    def __str__(self) -> str:
        answer = f"deny ({self.reason})" if self.decision == self.Decision.DENY else "allow"
        return f"Call {self.call_id}: {answer} at {self.decided_at:%Y-%m-%d %H:%M}"


class SingleCallStatus(models.TextChoices):
    OFFERED = "offered", "Offered (code given, not paid)"
    PAID = "paid", "Paid, call not connected yet"
    AUTHORIZED = "authorized", "Paid and connected"
    COMPLETED = "completed", "Charged (the rest refunded)"
    REFUNDED = "refunded", "Paid, never used: refunded in full"
    EXPIRED = "expired", "Expired unpaid"


# An offer's code is looked up while it can still be paid or used: it is unique among these.
SINGLE_CALL_LIVE_STATUSES = (SingleCallStatus.OFFERED, SingleCallStatus.PAID)


class SingleCall(models.Model):
    """One paid call to a number on no open account: the offer made when `authorize` refused the
    call (`number_not_registered`), the price fixed when the called person paid by card, and what
    happened after. One per platform call id. The money sits on the `single_calls` system ledger
    account from payment (`single_call:<call_id>:payment`) until the call is charged
    (`single_call:<call_id>:charge`) and the rest refunded (`single_call:<call_id>:refund`).

    The code is kept as it is (not hashed): six digits are a short-lived bearer value that only
    unlocks a payment for this call, and a hash of a six-digit number protects nothing (all of them
    can be hashed in a second). It is unique among the offers still live."""

    call_id = models.CharField(max_length=100, unique=True)
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="single_calls")
    inmate = models.ForeignKey(Inmate, on_delete=models.PROTECT, related_name="single_calls")
    dialed_number = PhoneNumberField()
    code = models.CharField(max_length=6)
    status = models.CharField(max_length=12, choices=SingleCallStatus.choices, default=SingleCallStatus.OFFERED)
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Fixed when paid: the rate in force then, the facility's per-call maximum, and their price.
    rate_per_minute = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=5, null=True, blank=True)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    charge_cents = models.BigIntegerField(null=True, blank=True)
    tax_cents = models.BigIntegerField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(status__in=SINGLE_CALL_LIVE_STATUSES), name="single_call_live_code_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=(SingleCallStatus.OFFERED, SingleCallStatus.EXPIRED))
                | Q(paid_at__isnull=False, minutes__gt=0, charge_cents__gte=0, tax_cents__gte=0),
                name="paid_single_call_has_price",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(status__in=SINGLE_CALL_LIVE_STATUSES), name="single_call_live_idx"
            )
        ]

    def __str__(self) -> str:
        return f"Single call {self.call_id} ({self.get_status_display()})"

    @property
    def total_cents(self) -> int:
        return (self.charge_cents or 0) + (self.tax_cents or 0)

    def price_paid(self) -> tuple[int, Decimal, Decimal, int, int]:
        """(minutes, rate, tax rate, charge, tax) fixed when the offer was paid; only for a paid offer, whose
        price the payment wrote (the database holds its minutes, charge and tax set once paid)."""
        assert self.paid_at is not None, "only a paid offer has a price fixed"
        assert self.minutes is not None and self.charge_cents is not None and self.tax_cents is not None
        assert self.rate_per_minute is not None and self.tax_rate is not None
        return self.minutes, self.rate_per_minute, self.tax_rate, self.charge_cents, self.tax_cents


class LineTypeLookup(models.Model):
    """A number's line type as the carrier lookup (Twilio Lookup, line type intelligence) reported it,
    kept so each number is looked up once. `carrier_type` is the lookup's own word (mobile,
    landline, fixedVoip, nonFixedVoip, tollFree…); `line_type` is FamilyLine's reading of it."""

    number = PhoneNumberField(unique=True)
    line_type = models.CharField(max_length=10)
    carrier_type = models.CharField(max_length=30, blank=True)
    looked_up_at = models.DateTimeField()

    class Meta:
        ordering = ["-looked_up_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number.as_e164 if self.number else ''}: {self.line_type}"
