"""Statement periods: calendar months on the New York calendar (settings.TIME_ZONE)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Period:
    start_date: date
    end_date: date  # the last day, inclusive

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start_date, time.min, tzinfo=zone())

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (midnight starting the next month)."""
        return datetime.combine(self.end_date + timedelta(days=1), time.min, tzinfo=zone())

    @property
    def due_date(self) -> date:
        return self.end_date + timedelta(days=1 + settings.STATEMENT_DUE_DAYS)


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def month_period(day: date) -> Period:
    """The calendar month containing `day`."""
    start = day.replace(day=1)
    next_start = (start + timedelta(days=32)).replace(day=1)
    return Period(start_date=start, end_date=next_start - timedelta(days=1))


def previous_month(now: datetime | None = None) -> Period:
    """The month before the one `now` falls in, on the New York calendar."""
    today = timezone.localtime(now or timezone.now(), zone()).date()
    return month_period(today.replace(day=1) - timedelta(days=1))
