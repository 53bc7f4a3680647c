"""Prices up front: what calls from the facilities that call a family cost, and how many minutes
its balance buys there. Read-only; the facilities are the one named when the account was opened
plus every facility in its call history."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import AccountKind, CallingAccount

from .models import CallRecord, Facility, RatePlan
from .rating import format_rate, local_date, minutes_covered

NO_CAP = 10**6


@dataclass(frozen=True)
class FacilityPrice:
    facility: Facility
    rate_per_minute: Decimal
    tax_rate: Decimal
    minutes: int | None  # what the balance buys (None for a Direct Bill account)

    @property
    def is_free(self) -> bool:
        return self.rate_per_minute == 0

    @property
    def rate_display(self) -> str:
        return format_rate(self.rate_per_minute)

    @property
    def tax_percent(self) -> str:
        return f"{(self.tax_rate * 100).quantize(Decimal('0.01'))}"


def _plan_on(facility: Facility, day: datetime.date) -> RatePlan | None:
    plans = [p for p in facility.rate_plans.all() if p.effective_from_date <= day]
    plans = [p for p in plans if p.effective_to_date is None or day <= p.effective_to_date]
    return max(plans, key=lambda p: p.effective_from_date, default=None)


def facility_prices_for_account(
    *, account: CallingAccount, balance_cents: int, now: datetime.datetime | None = None
) -> list[FacilityPrice]:
    """The price in force today at each facility that calls this account, by facility name."""
    now = now or timezone.now()
    ids = set(CallRecord.objects.filter(account=account).values_list("facility_id", flat=True).distinct())
    if account.facility_id:
        ids.add(account.facility_id)
    prices = []
    for facility in Facility.objects.filter(pk__in=ids).prefetch_related("rate_plans").order_by("name", "id"):
        plan = _plan_on(facility, local_date(now, facility.time_zone))
        if plan is None:
            continue
        minutes = None
        if account.kind == AccountKind.ADVANCE_CONNECT:
            minutes = minutes_covered(
                available_cents=balance_cents,
                rate_per_minute=plan.rate_per_minute,
                tax_rate=plan.tax_rate,
                cap_minutes=NO_CAP,
            )
        prices.append(FacilityPrice(facility, plan.rate_per_minute, plan.tax_rate, minutes))
    return prices


def only_free_facilities(prices: list[FacilityPrice]) -> bool:
    """Every facility that calls this family is free (Connecticut): no money is needed to connect."""
    return bool(prices) and all(price.is_free for price in prices)
