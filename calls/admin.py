import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter, RelatedOnlyFieldListFilter
from django.utils import timezone
from django.utils.html import format_html

from billing.ledger.models import Hold
from config.admin_base import ReadOnlyAdmin, money_column, time_column

from .blocks import BlockError, number_block, number_unblock
from .facilities import facility_changed
from .models import (
    Billing,
    BlockedNumber,
    BlockSource,
    CallDecision,
    CallRecord,
    Facility,
    Inmate,
    InmateDebitSponsorship,
    PlatformToken,
    PlatformTokenAlert,
    RatePlan,
    SingleCall,
)
from .rating import RateCapError, first_overlap, rate_plan_check
from .sponsorships import sponsorship_end
from .tokens import platform_token_create, platform_token_revoke


class RatePlanForm(forms.ModelForm):
    class Meta:
        model = RatePlan
        fields = ["name", "rate_per_minute", "tax_rate", "effective_from_date", "effective_to_date"]


class RatePlanFormSet(forms.BaseInlineFormSet):
    """The FCC cap is checked here, against the facility as the main form left it (`self.instance`):
    the same check for a new facility (not saved yet) and an existing one, after its type or size
    changed too."""

    def clean(self):
        super().clean()
        facility = self.instance
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or data.get("rate_per_minute") is None or not data.get("effective_from_date"):
                continue
            try:
                rate_plan_check(
                    facility_type=facility.facility_type,
                    size_tier=facility.size_tier,
                    rate_per_minute=data["rate_per_minute"],
                    effective_from_date=data["effective_from_date"],
                )
            except RateCapError as exc:
                form.add_error("rate_per_minute", str(exc))
        spans = [
            (form.cleaned_data["effective_from_date"], form.cleaned_data.get("effective_to_date"))
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("effective_from_date")
        ]
        overlap = first_overlap(spans)
        if overlap:
            raise forms.ValidationError(
                f"The plans starting {overlap[0]} and {overlap[1]} overlap: end the earlier one first."
            )


class RatePlanInline(admin.TabularInline):
    model = RatePlan
    form = RatePlanForm
    formset = RatePlanFormSet
    extra = 0


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "town",
        "state",
        "facility_type",
        "cell_phones_allowed",
        "max_call_minutes",
        "is_active",
    ]
    list_filter = ["state", "facility_type", "is_active", "cell_phones_allowed"]
    search_fields = ["code", "name", "town"]
    inlines = [RatePlanInline]

    def save_model(self, request, obj, form, change):
        # Renaming a code must also drop the cache entry under the old code.
        obj._previous_code = form.initial.get("code") if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        facility_changed(facility=form.instance, previous_code=getattr(form.instance, "_previous_code", None))


@admin.register(Inmate)
class InmateAdmin(admin.ModelAdmin):
    list_display = ["inmate_number", "last_name", "first_name", "facility", "is_active"]
    list_filter = ["is_active", "facility"]
    search_fields = ["inmate_number", "last_name", "first_name"]
    list_select_related = ["facility"]


@admin.register(InmateDebitSponsorship)
class InmateDebitSponsorshipAdmin(ReadOnlyAdmin):
    list_filter = [("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["inmate__inmate_number", "inmate__last_name", "inmate__first_name", "account__holder__email"]
    list_select_related = ["inmate__facility", "account__holder"]
    actions = ["end_sponsorships"]
    list_display = ["id", "inmate", "account", "started", "ended", "cap"]
    started = time_column("started_at", "started")
    ended = time_column("ended_at", "ended")
    cap = money_column("monthly_cap_cents", "monthly cap")

    def has_change_permission(self, request, obj=None):
        # The action needs change permission; the form itself stays read-only (no editable fields).
        return request.user.has_perm("calls.change_inmatedebitsponsorship")

    @admin.action(permissions=["change"], description="End the selected sponsorships")
    def end_sponsorships(self, request, queryset):
        for sponsorship in queryset.filter(ended_at__isnull=True):
            sponsorship_end(sponsorship=sponsorship, actor=request.user)
        messages.success(request, "Sponsorships ended.")


class BlockedNumberForm(forms.ModelForm):
    number = forms.CharField(help_text="E.164 (+18605550123) or US form.")

    class Meta:
        model = BlockedNumber
        fields = ["number", "facility", "reason"]


@admin.register(BlockedNumber)
class BlockedNumberAdmin(admin.ModelAdmin):
    form = BlockedNumberForm
    list_display = ["number", "facility", "source", "proven_by", "reason", "created", "lifted"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter), "source", "facility"]
    search_fields = ["number", "reason"]
    actions = ["lift_blocks"]
    created = time_column("created_at", "blocked")
    lifted = time_column("lifted_at", "lifted")

    shown = [
        "number",
        "facility",
        "source",
        "reason",
        "created_by",
        "proven_by",
        "client_address",
        "created",
        "lifted",
        "lifted_proven_by",
        "lifted_client_address",
    ]

    def get_fields(self, request, obj=None):
        return self.shown if obj else super().get_fields(request)

    def get_readonly_fields(self, request, obj=None):
        return self.shown if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # lifted, never deleted: the block history stays

    def save_model(self, request, obj, form, change):
        if change:
            return
        try:
            created = number_block(
                number=form.cleaned_data["number"],
                facility=form.cleaned_data["facility"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except BlockError as exc:
            messages.error(request, str(exc))
            return
        obj.pk, obj.number, obj.created_at = created.pk, created.number, created.created_at

    @admin.action(permissions=["change"], description="Lift the selected staff blocks")
    def lift_blocks(self, request, queryset):
        for block in queryset.filter(lifted_at__isnull=True):
            number_unblock(block=block)
        if queryset.filter(lifted_at__isnull=True, source=BlockSource.SELF).exists():
            messages.warning(request, "A block placed by the number's owner stays: only they can lift it.")
        messages.success(request, "Staff blocks lifted.")


class PlatformTokenForm(forms.ModelForm):
    class Meta:
        model = PlatformToken
        fields = ["name", "facilities"]


@admin.register(PlatformToken)
class PlatformTokenAdmin(admin.ModelAdmin):
    """Staff create a token here and copy it once; only its hash is kept."""

    form = PlatformTokenForm
    list_display = ["name", "token_prefix", "scope", "created", "revoked"]
    actions = ["revoke_tokens"]
    filter_horizontal = ["facilities"]
    created = time_column("created_at", "created")
    revoked = time_column("revoked_at", "revoked")

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request)
        return ["name", "token_prefix", "facilities", "created_by", "created", "revoked"]

    def get_readonly_fields(self, request, obj=None):
        # The facilities stay editable: staff narrow a token's scope without reissuing it.
        return ["name", "token_prefix", "created_by", "created", "revoked"] if obj else []

    @admin.display(description="facilities")
    def scope(self, obj):
        codes = sorted(obj.facilities.values_list("code", flat=True))
        return ", ".join(codes) if codes else "all"

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, raw = platform_token_create(
            name=form.cleaned_data["name"], actor=request.user, facilities=form.cleaned_data["facilities"]
        )
        obj.pk, obj.token_prefix, obj.token_hash, obj.created_at = (
            token.pk,
            token.token_prefix,
            token.token_hash,
            token.created_at,
        )
        # `obj` now stands for the saved token (the admin logs and links it).
        obj._state.adding, obj._state.db = False, token._state.db
        messages.warning(
            request,
            format_html(
                "Copy this token now, it will not be shown again: <code>{}</code> "
                "(the platform sends it as <code>Authorization: Bearer …</code>).",
                raw,
            ),
        )

    def save_related(self, request, form, formsets, change):
        # A new token's facilities were set by platform_token_create, in the same transaction.
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(permissions=["change"], description="Revoke the selected tokens")
    def revoke_tokens(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            platform_token_revoke(token=token)
        messages.success(request, "Tokens revoked.")


@admin.register(PlatformTokenAlert)
class PlatformTokenAlertAdmin(ReadOnlyAdmin):
    """Tokens that reported many charged calls without authorizing them first (a leaked token?)."""

    list_display = [
        "token",
        "kind",
        "hour_started_at_local",
        "count",
        "created_at_local",
        "acknowledged_at_local",
        "acknowledged_by",
    ]
    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    list_select_related = ["token", "acknowledged_by"]
    ordering = ["-created_at", "-id"]
    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request):
        return request.user.has_perm("calls.change_platformtokenalert")

    @admin.action(permissions=["acknowledge"], description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        done = queryset.filter(acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=request.user
        )
        messages.success(request, f"{done} alert(s) acknowledged.")


class AccountFilter(admin.SimpleListFilter):
    """By calling account, typed as its number (a list of every account would not load)."""

    title = "account"
    parameter_name = "account__id__exact"
    template = "admin/calls/account_filter.html"

    def lookups(self, request, model_admin):
        return [(self.value(), f"Account #{self.value()}")] if self.value() else [("", "")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(account_id=int(value))
        return queryset


class RefusedFilter(admin.SimpleListFilter):
    """Calls that connected after FamilyLine refused them (charged to no one): the work queue's list."""

    title = "refused by FamilyLine"
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [
            ("recent", f"Connected after a refusal, last {settings.REFUSED_CALLS_QUEUE_DAYS} days"),
            ("yes", "Connected after a refusal"),
            ("no", "Not refused"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "recent":
            since = timezone.now() - datetime.timedelta(days=settings.REFUSED_CALLS_QUEUE_DAYS)
            return queryset.exclude(refused_reason="").filter(completed_at__gte=since)
        if self.value() == "yes":
            return queryset.exclude(refused_reason="")
        if self.value() == "no":
            return queryset.filter(refused_reason="")
        return queryset


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "call_id",
        "started",
        "facility",
        "inmate",
        "dialed_number",
        "account",
        "billing",
        "billable_minutes",
        "charge",
        "tax",
        "refused_reason",
    ]
    list_filter = [
        ("started_at", DateFieldListFilter),
        RefusedFilter,
        "billing",
        ("facility", RelatedOnlyFieldListFilter),
        AccountFilter,
    ]
    date_hierarchy = "started_at"
    search_fields = [
        "=call_id",
        "dialed_number",
        "=account__id",
        "account__holder__email",
        "inmate__inmate_number",
        "inmate__last_name",
        "inmate__first_name",
    ]
    list_select_related = ["facility", "inmate__facility", "account__holder"]
    ordering = ["-started_at", "-id"]
    charge = money_column("charge_cents", "charge")
    tax = money_column("tax_cents", "tax")
    started = time_column("started_at", "started")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # "Maria Lopez" finds the inmate by first and last name together.
        words = search_term.split()
        if len(words) == 2:
            first, last = words
            queryset |= self.model.objects.filter(inmate__first_name__iexact=first, inmate__last_name__iexact=last)
        return queryset, may_have_duplicates


@admin.register(CallDecision)
class CallDecisionAdmin(ReadOnlyAdmin):
    """The latest authorize answer per call id, kept CALL_DECISIONS_KEPT_YEARS."""

    list_display = ["call_id", "decision", "reason", "facility_code", "inmate_number", "dialed_number", "decided"]
    list_filter = ["decision", "reason"]
    search_fields = ["=call_id", "=dialed_number", "=facility_code"]
    ordering = ["-decided_at", "-id"]
    decided = time_column("decided_at", "decided")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["call_id", "account", "amount", "created", "expires", "released"]
    fields = (
        "call_id",
        "account",
        "facility",
        "inmate",
        "dialed_number",
        "billing_label",
        "amount",
        "max_minutes",
        "response",
        "created",
        "expires",
        "released",
    )
    readonly_fields = fields
    code_labels = {"billing": Billing}
    amount = money_column("amount_cents", "amount held")
    created = time_column("created_at", "placed")
    expires = time_column("expires_at", "expires")
    released = time_column("released_at", "released")
    list_filter = [("released_at", admin.EmptyFieldListFilter)]
    search_fields = ["=call_id", "=account__id"]

    # The kernel keeps plain ids of the facility and inmate: staff read their names.
    @admin.display(description="facility")
    def facility(self, obj):
        return Facility.objects.filter(pk=obj.facility_id).first() or f"#{obj.facility_id}"

    @admin.display(description="inmate")
    def inmate(self, obj):
        return Inmate.objects.filter(pk=obj.inmate_id).first() or f"#{obj.inmate_id}"

    @admin.display(description="longest call allowed")
    def max_minutes(self, obj):
        return f"{obj.max_seconds // 60} min {obj.max_seconds % 60:02d} s"


@admin.register(SingleCall)
class SingleCallAdmin(ReadOnlyAdmin):
    """Single calls: the offer made when a call to a number on no account was refused, its price fixed
    when the called person paid, and what became of it (used and charged, refunded, expired). Its
    payment and refund are listed with every payment and refund."""

    list_display = ["call_id", "facility", "dialed_number", "status", "minutes", "price", "offered", "expires"]
    list_filter = ["status", "facility"]
    search_fields = ["=call_id", "=dialed_number"]
    list_select_related = ["facility"]
    ordering = ["-offered_at", "-id"]
    exclude = ["code"]  # a live code pays for the call: staff never need to read it
    price = money_column("charge_cents", "charge (before tax)")
    offered = time_column("offered_at", "offered")
    expires = time_column("expires_at", "expires")
