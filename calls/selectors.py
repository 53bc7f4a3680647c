import datetime
import hashlib
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import CallingAccount, User
from billing import ledger

from .models import CallRecord, Facility, Inmate, InmateDebitSponsorship, PlatformToken, RatePlan
from .rating import local_date

logger = logging.getLogger(__name__)

FACILITY_CACHE_SECONDS = 300


@dataclass(frozen=True)
class PlanInfo:
    id: int
    effective_from_date: datetime.date
    effective_to_date: datetime.date | None
    rate_per_minute: Decimal
    tax_rate: Decimal

    @property
    def is_free(self) -> bool:
        return self.rate_per_minute == 0


@dataclass(frozen=True)
class FacilityInfo:
    """What the call path needs to know about a facility, cheap to cache."""

    id: int
    code: str
    name: str
    time_zone: str
    cell_phones_allowed: bool
    max_call_minutes: int
    plans: tuple[PlanInfo, ...]

    def plan_at(self, moment: datetime.datetime) -> PlanInfo | None:
        """The plan in force on the facility's local date of `moment`."""
        day = local_date(moment, self.time_zone)
        for plan in self.plans:  # newest first
            if plan.effective_from_date <= day and (plan.effective_to_date is None or day <= plan.effective_to_date):
                return plan
        return None


def _facility_cache_key(code: str) -> str:
    return f"calls:facility:v1:{code}"


def facility_info_get(*, code: str) -> FacilityInfo | None:
    """An active facility by its platform code with its rate plans, from the cache when it can
    (staff edits clear it; it also expires after a few minutes). None when there is no such
    active facility. Works, only slower, when the cache is down."""
    key = _facility_cache_key(code)
    try:
        info = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not stop calls
        logger.warning("facility cache unavailable", exc_info=True)
        info = None
    if info is not None:
        return info
    facility = Facility.objects.filter(code=code, is_active=True).first()
    if facility is None:
        return None
    plans = tuple(
        PlanInfo(p.id, p.effective_from_date, p.effective_to_date, p.rate_per_minute, p.tax_rate)
        for p in RatePlan.objects.filter(facility=facility).order_by("-effective_from_date", "-id")
    )
    info = FacilityInfo(
        id=facility.id,
        code=facility.code,
        name=facility.name,
        time_zone=facility.time_zone,
        cell_phones_allowed=facility.cell_phones_allowed,
        max_call_minutes=facility.max_call_minutes,
        plans=plans,
    )
    try:
        cache.set(key, info, FACILITY_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        logger.warning("facility cache unavailable", exc_info=True)
    return info


def facility_cache_clear(*, codes: list[str]) -> None:
    try:
        cache.delete_many([_facility_cache_key(code) for code in codes])
    except Exception:  # noqa: BLE001
        logger.warning("facility cache unavailable; entries expire by themselves", exc_info=True)


def call_history_for_account(*, account: CallingAccount) -> QuerySet[CallRecord]:
    return (
        CallRecord.objects.filter(account=account).select_related("facility", "inmate").order_by("-started_at", "-id")
    )


def account_get_for_holder(*, holder: User, pk: int) -> CallingAccount | None:
    return CallingAccount.objects.filter(holder=holder, pk=pk).select_related("ledger_account").first()


def sponsorship_list_for_account(*, account: CallingAccount) -> QuerySet[InmateDebitSponsorship]:
    return (
        InmateDebitSponsorship.objects.filter(account=account, ended_at__isnull=True)
        .select_related("inmate__facility")
        .order_by("-started_at", "-id")
    )


@dataclass(frozen=True)
class SponsoredCall:
    record: CallRecord
    number: str  # in full for the sponsor's own numbers, else the last two digits only


def sponsored_calls_for_account(*, account: CallingAccount, limit: int = 50) -> list[SponsoredCall]:
    """The newest calls this account paid for as a sponsor (inmate debit). Other families' numbers
    are theirs: only their last two digits are shown."""
    records = (
        CallRecord.objects.filter(account=account, billing="inmate_debit")
        .select_related("facility", "inmate")
        .order_by("-started_at", "-id")[:limit]
    )
    own = {str(n) for n in account.phone_numbers.values_list("number", flat=True)}
    calls = []
    for record in records:
        number = record.dialed_number.as_e164 if record.dialed_number else ""
        calls.append(SponsoredCall(record, number if number in own else f"•••••••••{number[-2:]}"))
    return calls


def facility_list_active() -> QuerySet[Facility]:
    return Facility.objects.filter(is_active=True).order_by("name", "id")


def inmate_find(*, facility: Facility, inmate_number: str) -> Inmate | None:
    return Inmate.objects.filter(facility=facility, inmate_number=inmate_number.strip(), is_active=True).first()


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# Active tokens by hash, reused in this process for PLATFORM_TOKEN_CACHE_SECONDS (so the hot path
# skips two queries) and never longer: a revocation takes effect within that many seconds.
_token_cache: dict[str, tuple[float, PlatformToken]] = {}
_clock = time.monotonic


def platform_token_authenticate(*, raw: str) -> PlatformToken | None:
    """The active token with this raw value, if any (looked up by its hash, never by the raw value),
    with `facility_codes`: the codes it is limited to (empty: every facility)."""
    digest = token_hash(raw)
    ttl = settings.PLATFORM_TOKEN_CACHE_SECONDS
    now = _clock()
    cached = _token_cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    token = PlatformToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if token is None:
        _token_cache.pop(digest, None)
        return None
    token.facility_codes = frozenset(token.facilities.values_list("code", flat=True))
    if ttl > 0:
        if len(_token_cache) > 1000:  # only issued tokens are kept, but stay bounded anyway
            _token_cache.clear()
        _token_cache[digest] = (now + ttl, token)
    return token


def call_was_authorized(*, call_id: str) -> bool:
    """Whether an authorization placed a hold for this call id (released or not)."""
    return ledger.hold_get(call_id=call_id) is not None


def platform_token_allows_facility(*, token: PlatformToken, facility_code: str) -> bool:
    """A token limited to some facilities may act only for those; one limited to none, for all."""
    codes = getattr(token, "facility_codes", None)
    if codes is None:
        codes = frozenset(token.facilities.values_list("code", flat=True))
    return not codes or facility_code in codes
