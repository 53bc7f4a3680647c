from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from .states import US_STATES


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Español"


class HolderTimeZone(models.TextChoices):
    """The zone a holder reads times in (history, receipts)."""

    EASTERN = "America/New_York", _("Eastern time")
    CENTRAL = "America/Chicago", _("Central time")
    MOUNTAIN = "America/Denver", _("Mountain time")
    ARIZONA = "America/Phoenix", _("Arizona time")
    PACIFIC = "America/Los_Angeles", _("Pacific time")
    ALASKA = "America/Anchorage", _("Alaska time")
    HAWAII = "Pacific/Honolulu", _("Hawaii time")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """An account holder (family member) or a staff member. The email address is the login."""

    # The email address is the login: AbstractUser's username column is removed (Django's documented way).
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    preferred_language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, choices=US_STATES, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=40, choices=HolderTimeZone.choices, default=HolderTimeZone.EASTERN
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    # What the holder edits on the profile page.
    PROFILE_FIELDS = (
        "first_name",
        "last_name",
        "preferred_language",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "time_zone",
    )

    # Our manager creates users by email; the base class's manager type expects a username.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class AccountKind(models.TextChoices):
    ADVANCE_CONNECT = "advance_connect", "AdvanceConnect"
    DIRECT_BILL = "direct_bill", "Direct Bill"


class AccountStatus(models.TextChoices):
    PENDING_FUNDING = "pending_funding", _("Pending funding")
    PENDING_ACTIVATION = "pending_activation", _("Pending activation")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class SuspensionCode(models.TextChoices):
    STAFF = "staff", "Suspended by staff"
    STATEMENT_PAST_DUE = "statement_past_due", "Statement past due"


class CallingAccount(models.Model):
    """A prepaid AdvanceConnect or postpaid Direct Bill account. Its money lives in the ledger
    (billing.LedgerAccount, one per calling account); never store a balance here."""

    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calling_accounts")
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    status = models.CharField(max_length=20, choices=AccountStatus.choices, default=AccountStatus.PENDING_FUNDING)
    activates_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    credit_limit_cents = models.BigIntegerField(default=0)
    suspension_code = models.CharField(max_length=30, choices=SuspensionCode.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Read on the call path (no extra query): the holder's low-balance alert threshold, and the
    # auto-reload threshold while auto-reload is on (null when it is off; billing.AutoReload holds
    # the rest of the set-up).
    low_balance_threshold_cents = models.BigIntegerField(default=500)
    auto_reload_threshold_cents = models.BigIntegerField(null=True, blank=True)
    # The facility the holder said calls them, when opening (optional): its prices are shown up front.
    facility = models.ForeignKey("calls.Facility", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit_cents__gte=0), name="credit_limit_not_negative"),
            models.CheckConstraint(condition=Q(low_balance_threshold_cents__gte=0), name="low_balance_threshold_sane"),
            models.CheckConstraint(
                condition=Q(kind="direct_bill") | Q(credit_limit_cents=0), name="credit_limit_only_direct_bill"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.holder_id and self.holder.display_name})"

    @property
    def is_prepaid(self) -> bool:
        return self.kind == AccountKind.ADVANCE_CONNECT

    def status_at(self, now) -> str:
        """The status in force at `now`: an account whose `activates_at` has passed is active even
        if the periodic activation task has not run yet (so calls connect on time)."""
        return status_in_force(self.status, self.activates_at, now)


def status_in_force(status: str, activates_at, now) -> str:
    """`CallingAccount.status_at` for a status and activation time read without the model (the call
    path reads them with a plain cursor)."""
    if status == AccountStatus.PENDING_ACTIVATION and activates_at and activates_at <= now:
        return AccountStatus.ACTIVE
    return status


class LineType(models.TextChoices):
    LANDLINE = "landline", _("Landline")
    MOBILE = "mobile", _("Mobile")
    VOIP = "voip", "VoIP"
    UNKNOWN = "unknown", _("Unknown")


class PhoneNumber(models.Model):
    """A number an inmate may call. Active on at most one open account, so a call has one payer."""

    account = models.ForeignKey(CallingAccount, on_delete=models.PROTECT, related_name="phone_numbers")
    number = PhoneNumberField()
    label = models.CharField(max_length=60, blank=True)
    line_type = models.CharField(max_length=10, choices=LineType.choices, default=LineType.UNKNOWN)
    is_active = models.BooleanField(default=True)
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account_id", "added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=Q(is_active=True), name="number_active_on_one_account"
            ),
        ]
        indexes = [models.Index(fields=["number"], name="phone_number_idx")]

    def __str__(self) -> str:
        return f"{self.number.as_e164 if self.number else ''} ({self.label or self.get_line_type_display()})"


class AccountEvent(models.Model):
    """Audit trail of what happened to an account and who did it."""

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        FUNDED = "funded", "First funded"
        ACTIVATED = "activated", "Activated"
        SUSPENDED = "suspended", "Suspended"
        REINSTATED = "reinstated", "Reinstated"
        CLOSED = "closed", "Closed"
        CREDIT_LIMIT_CHANGED = "credit_limit_changed", "Credit limit changed"
        NUMBER_ADDED = "number_added", "Number added"
        NUMBER_REMOVED = "number_removed", "Number removed"
        PHONE_PIN_SET = "phone_pin_set", "Phone PIN set by the holder"
        PHONE_PIN_RESET = "phone_pin_reset", "Phone PIN reset by staff"
        PHONE_LOCKED = "phone_locked", "Phone access locked (wrong PINs)"
        PHONE_UNLOCKED = "phone_unlocked", "Phone access unlocked"

    account = models.ForeignKey(CallingAccount, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=30, choices=Action.choices)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.account_id} at {self.created_at:%Y-%m-%d %H:%M}"


class DirectBillApplication(models.Model):
    """An application for a Direct Bill account and its credit decision. Never holds a full SSN."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    legal_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, choices=US_STATES)
    postal_code = models.CharField(max_length=10)
    ssn_last4 = models.CharField(max_length=4, blank=True)
    consented_at = models.DateTimeField()
    provider = models.CharField(max_length=40, blank=True)
    credit_limit_cents = models.BigIntegerField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    account = models.OneToOneField(
        CallingAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="application"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit_cents__isnull=True) | Q(credit_limit_cents__gte=0),
                name="application_limit_not_negative",
            ),
            # A double-clicked submit or two tabs cannot queue two applications for one person.
            models.UniqueConstraint(
                fields=["applicant"], condition=Q(status="pending"), name="one_pending_application_per_applicant"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(credit_limit_cents__isnull=False, account__isnull=False),
                name="approved_application_has_account_and_limit",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decision_reason=""), name="declined_application_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Application #{self.pk} ({self.legal_name}, {self.get_status_display()})"


class OutboxMessage(models.Model):
    """Work a service wants done once its transaction commits: an email, a card refund, a reload.

    Written in the same transaction as the change it follows, so it exists exactly when that change
    does; drained right after commit and by a periodic sweep, so a broker outage delays the work
    and never loses it or fails the request. Handlers must be idempotent: a crash after a handler
    ran and before `done_at` was saved runs it again."""

    kind = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["available_at", "id"], condition=Q(done_at__isnull=True), name="outbox_pending_idx")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class TextPurpose(models.TextChoices):
    ALERT = "alert", "Alert"
    RECEIPT = "receipt", "Receipt"
    CODE = "code", "Code"


class TextMessage(models.Model):
    """One text (or voice call reading a code) FamilyLine sends, sent at most once: it is marked
    "sending" (committed) before the provider is asked, so a crash or a timeout leaves it "sending" or
    "unknown" for staff and nothing sends it again by itself."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (not sent)"
        UNKNOWN = "unknown", "Unknown (may have been sent: check with Twilio)"
        CANCELED = "canceled", "Canceled (the number stopped texts)"

    class Channel(models.TextChoices):
        SMS = "sms", "Text"
        VOICE = "voice", "Voice call"

    to_number = PhoneNumberField()
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.SMS)
    purpose = models.CharField(max_length=10, choices=TextPurpose.choices)
    template = models.CharField(max_length=60, blank=True)
    # Codes are never kept: their digits are replaced in the stored body.
    body = models.TextField()
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    segments = models.PositiveSmallIntegerField(default=1)
    account = models.ForeignKey(
        CallingAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="text_messages"
    )
    # The cause (an outbox message): one text per cause and number, however often the cause is replayed.
    dedupe_key = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    send_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    provider_sid = models.CharField(max_length=64, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    delivery_status = models.CharField(max_length=20, blank=True, help_text="The last status Twilio reported.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key", "to_number"], condition=~Q(dedupe_key=""), name="one_text_per_cause_and_number"
            ),
            models.UniqueConstraint(fields=["provider_sid"], condition=~Q(provider_sid=""), name="text_sid_unique"),
        ]
        indexes = [
            models.Index(fields=["send_after", "id"], condition=Q(status="queued"), name="text_queued_idx"),
            models.Index(fields=["attempted_at"], condition=Q(status="sending"), name="text_sending_idx"),
            models.Index(fields=["to_number", "created_at"], name="text_number_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_channel_display().lower()} to {self.to_number} ({self.status})"


class TextStatusEvent(models.Model):
    """A delivery status Twilio reported for a message (its status callback), kept as received."""

    message = models.ForeignKey(
        TextMessage, on_delete=models.PROTECT, null=True, blank=True, related_name="status_events"
    )
    provider_sid = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    error_code = models.IntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider_sid} {self.status}"


class TextReceived(models.Model):
    """A text someone sent to FamilyLine's number, with the keyword it was read as and the reply."""

    from_number = models.CharField(max_length=40)
    body = models.TextField()
    keyword = models.CharField(max_length=20, blank=True)
    reply = models.TextField(blank=True)
    provider_sid = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "texts received"

    def __str__(self) -> str:
        return f"From {self.from_number}: {self.keyword or 'text'}"


class TextConsent(models.Model):
    """A holder's consent to texts about an account at one number, given on the web and confirmed by a
    code texted to that number: who, which number, when, and the exact words they agreed to."""

    class Withdrawn(models.TextChoices):
        WEB = "web", "Turned off on the web"

    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="text_consents")
    account = models.ForeignKey(CallingAccount, on_delete=models.PROTECT, related_name="text_consents")
    number = PhoneNumberField()
    wording = models.TextField()
    language = models.CharField(max_length=2, choices=Language.choices)
    confirmed_at = models.DateTimeField()
    client_address = models.GenericIPAddressField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_how = models.CharField(max_length=10, choices=Withdrawn.choices, blank=True)

    class Meta:
        ordering = ["-confirmed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "number"], condition=Q(withdrawn_at__isnull=True), name="one_active_text_consent"
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.withdrawn_at is None else "withdrawn"
        return f"Texts to {self.number} for account #{self.account_id} ({state})"


class TextOptOut(models.Model):
    """A number that replied STOP (or that the carrier reports opted out): nothing but the reply to
    its own keywords is sent to it until it replies START."""

    number = PhoneNumberField(unique=True)
    keyword = models.CharField(max_length=20)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opted_out_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {'stopped' if self.opted_out_at else 'resumed'}"


class PossessionCode(models.Model):
    """A one-time code sent to a number (by text or read out by a voice call): whoever types it back
    holds that number. Only a keyed hash of the code is kept."""

    class Purpose(models.TextChoices):
        TEXT_OPT_IN = "text_opt_in", "Confirm texts"
        SELF_BLOCK = "self_block", "Block calls"
        SELF_UNBLOCK = "self_unblock", "Unblock calls"

    number = PhoneNumberField()
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    channel = models.CharField(max_length=5, choices=TextMessage.Channel.choices)
    code_hash = models.CharField(max_length=64)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    account = models.ForeignKey(CallingAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["number", "created_at"], name="possession_number_idx"),
            models.Index(fields=["client_address", "created_at"], name="possession_client_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} code for {self.number} by {self.channel}"


# --- the phone channel ----------------------------------------------------------------------------


class PhonePin(models.Model):
    """The PIN a caller keys in to reach an account by phone (4-8 digits), set by the holder on the
    web. Only its hash is kept (Django's password hashers)."""

    account = models.OneToOneField(CallingAccount, on_delete=models.CASCADE, related_name="phone_pin")
    pin_hash = models.CharField(max_length=200)
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id"]

    def __str__(self) -> str:
        return f"Phone PIN of account #{self.account_id}"


class PhoneLock(models.Model):
    """Wrong PINs keyed in from one calling number for one account. Five in a row lock phone access
    from that number (and only that number) to that account until `locked_until`."""

    account = models.ForeignKey(CallingAccount, on_delete=models.CASCADE, related_name="phone_locks")
    # The caller ID the tries came from, in E.164, or "withheld".
    calling_number = models.CharField(max_length=20)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account_id", "calling_number"]
        constraints = [
            models.UniqueConstraint(fields=["account", "calling_number"], name="one_phone_lock_per_caller_account")
        ]

    def __str__(self) -> str:
        return f"Phone PIN tries from {self.calling_number} on account #{self.account_id}"


class PhoneSession(models.Model):
    """One phone call to the voice menu (Twilio's CallSid): who is calling, whether the PIN was
    proved, the language, and the amount the caller confirmed before keying in a card."""

    call_sid = models.CharField(max_length=64, unique=True)
    calling_number = models.CharField(max_length=20)
    account = models.ForeignKey(
        CallingAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="phone_sessions"
    )
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    # The caller pressed a key for the language (remembered as the holder's once the PIN is proved).
    language_chosen = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    number_tries = models.PositiveSmallIntegerField(default=0)
    amount_cents = models.BigIntegerField(null=True, blank=True)
    total_cents = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Phone call {self.call_sid}"
