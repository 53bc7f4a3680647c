"""Pure arithmetic of call prices: no database. Money is integer cents; rates are Decimal dollars per
minute; every rounding goes through billing.ledger.money.round_half_up."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.ledger.money import round_half_up

from .models import Disconnect, FacilityType, SizeTier

# FCC per-minute caps for calls from prisons and jails (2024 order, 47 CFR 64.6010), in dollars.
FCC_RATE_CAPS: dict[tuple[str, str], Decimal] = {
    (FacilityType.PRISON, SizeTier.NONE): Decimal("0.06"),
    (FacilityType.JAIL, SizeTier.LARGE): Decimal("0.06"),
    (FacilityType.JAIL, SizeTier.MEDIUM): Decimal("0.07"),
    (FacilityType.JAIL, SizeTier.SMALL): Decimal("0.09"),
    (FacilityType.JAIL, SizeTier.VERY_SMALL): Decimal("0.12"),
}

# Rate plans starting on or after this date must respect the caps above (earlier plans are history).
FCC_CAPS_EFFECTIVE_DATE = datetime.date(2025, 4, 1)

# A dropped call shorter than this is not charged at all.
DROPPED_GRACE_SECONDS = 60


@dataclass(frozen=True)
class Price:
    charge_cents: int
    tax_cents: int

    @property
    def total_cents(self) -> int:
        return self.charge_cents + self.tax_cents


def price(*, minutes: int, rate_per_minute: Decimal, tax_rate: Decimal) -> Price:
    """The charge for `minutes` started minutes, and the tax on that charge, each rounded half-up."""
    charge = round_half_up(Decimal(minutes) * rate_per_minute * 100)
    tax = round_half_up(Decimal(charge) * tax_rate)
    return Price(charge, tax)


def minutes_covered(*, available_cents: int, rate_per_minute: Decimal, tax_rate: Decimal, cap_minutes: int) -> int:
    """The most whole minutes (at most `cap_minutes`) whose price with tax fits in `available_cents`.
    A free rate covers the cap."""
    if rate_per_minute <= 0:
        return cap_minutes
    if available_cents < 0:
        return 0
    per_minute = rate_per_minute * 100 * (1 + tax_rate)
    # Rounding moves a price by at most 1.5 cents, so no affordable minute lies above this bound;
    # walk down from it (a step or two at real rates, never more than the cap).
    minutes = min(cap_minutes, int((Decimal(available_cents) + 2) / per_minute))
    while minutes > 0 and price(minutes=minutes, rate_per_minute=rate_per_minute, tax_rate=tax_rate).total_cents > (
        available_cents
    ):
        minutes -= 1
    return minutes


def billable_minutes(*, duration_seconds: int, disconnect: str, cap_minutes: int) -> int:
    """Per started minute; a dropped call under a minute is free; never more than the facility's
    maximum call length (a platform that overruns the cap does not bill the family for it)."""
    if duration_seconds <= 0:
        return 0
    if disconnect == Disconnect.DROPPED and duration_seconds < DROPPED_GRACE_SECONDS:
        return 0
    return min(-(-duration_seconds // 60), cap_minutes)


def local_date(moment: datetime.datetime, time_zone: str) -> datetime.date:
    """The calendar date at the facility, which decides the rate plan in force."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def rate_cap_for(*, facility_type: str, size_tier: str) -> Decimal | None:
    return FCC_RATE_CAPS.get((facility_type, size_tier or SizeTier.NONE))


def format_rate(rate: Decimal) -> str:
    """Decimal("0.2100") -> "0.21"; Decimal("0.0725") -> "0.0725": at least two decimals."""
    cents = rate.quantize(Decimal("0.01"))
    if cents == rate:
        return str(cents)
    return str(rate.normalize())


def first_overlap(
    spans: list[tuple[datetime.date, datetime.date | None]],
) -> tuple[datetime.date, datetime.date] | None:
    """The start dates of the first two plans whose date ranges (inclusive; None = open-ended)
    overlap, or None: a facility has one plan in force on any day."""
    ordered = sorted((start, end or datetime.date.max) for start, end in spans)
    for (start, end), (next_start, _) in zip(ordered, ordered[1:], strict=False):
        if next_start <= end:
            return start, next_start
    return None


class RateCapError(ValueError):
    """A rate plan above its FCC cap. The message is fit to show staff."""


def rate_plan_check(
    *, facility_type: str, size_tier: str, rate_per_minute: Decimal, effective_from_date: datetime.date
) -> None:
    """Refuse (RateCapError) a plan starting on or after FCC_CAPS_EFFECTIVE_DATE whose rate is above the
    FCC cap for the facility's type and size. The admin calls it for new and existing facilities."""
    if effective_from_date < FCC_CAPS_EFFECTIVE_DATE:
        return
    cap = rate_cap_for(facility_type=facility_type, size_tier=size_tier)
    if cap is not None and rate_per_minute > cap:
        raise RateCapError(f"Above the FCC cap of ${cap} per minute for this facility.")
