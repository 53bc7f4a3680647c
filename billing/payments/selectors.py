from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import CallingAccount, User
from billing.ledger import kernel as ledger
from billing.payments.autoreload import NOT_COUNTED, RELOAD_EVERY
from billing.payments.models import AutoReload, Channel, Payment, PaymentStatus, Refund

OFFLINE_RECORDED_CHANNELS = (Channel.MAIL, Channel.PHONE_AGENT)


def account_owed_cents(*, account) -> int:
    """What the holder owes now (a ledger balance below zero is money owed)."""
    return ledger.owed_cents(account=account)


def payment_list_for_account(*, account) -> QuerySet[Payment]:
    return Payment.objects.filter(account=account).order_by("-created_at", "-id")


def payment_get_for_holder(*, holder, pk: int) -> Payment:
    """The holder's own payment, or 404."""
    return get_object_or_404(
        Payment.objects.select_related("account__ledger_account", "account__holder"), pk=pk, account__holder=holder
    )


@dataclass(frozen=True)
class AutoReloadNow:
    """What auto-reload does for an account at this moment: `config` when it is on (None when off),
    and `reload`, its reload of the last day (being charged or done), if there is one."""

    config: AutoReload | None
    reload: Payment | None

    @property
    def reload_done(self) -> bool:
        return self.reload is not None and self.reload.status == PaymentStatus.SUCCEEDED


def auto_reload_now(*, account: CallingAccount, now: datetime | None = None) -> AutoReloadNow:
    """Read when a low balance is told to the holder: a reload recorded in the same moment (its card
    charge follows after commit) is found here, so the holder is not asked to turn on what runs."""
    config = AutoReload.objects.filter(account=account, enabled=True).first()
    if config is None:
        return AutoReloadNow(config=None, reload=None)
    since = (now or timezone.now()) - RELOAD_EVERY
    reload = (
        Payment.objects.filter(account=account, auto_reload=True, created_at__gt=since)
        .exclude(status__in=NOT_COUNTED)
        .order_by("-created_at", "-id")
        .first()
    )
    return AutoReloadNow(config=config, reload=reload)


def refund_list_for_account(*, account) -> QuerySet[Refund]:
    return Refund.objects.filter(account=account).select_related("payment").order_by("created_at", "id")


def ledger_violations() -> list[ledger.Violation]:
    """Every ledger invariant: the kernel's own and those each workflow registered with it."""
    return ledger.check()


@dataclass
class StaffDay:
    """What one staff member recorded by hand on one day: mail and card-terminal payments."""

    day: date
    staff: User
    payments: list[Payment] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.payments)

    @property
    def total_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments)


def offline_payments_by_staff_day(*, first_day: date, last_day: date) -> list[StaffDay]:
    """Payments staff recorded (mail, card terminal), grouped by local day (newest first) and staff
    member (by email), each group's payments by id. For the separation-of-duties review."""
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first_day, time.min), zone)
    end = timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min), zone)
    payments = (
        Payment.objects.filter(
            channel__in=OFFLINE_RECORDED_CHANNELS,
            recorded_by__isnull=False,
            created_at__gte=start,
            created_at__lt=end,
        )
        .select_related("recorded_by", "account")
        .order_by("id")
    )
    groups: dict[tuple[date, int], StaffDay] = {}
    for payment in payments:
        assert payment.recorded_by is not None, "filtered to payments staff recorded"
        day = timezone.localdate(payment.created_at, zone)
        key = (day, payment.recorded_by.pk)
        groups.setdefault(key, StaffDay(day=day, staff=payment.recorded_by)).payments.append(payment)
    return sorted(groups.values(), key=lambda g: (-g.day.toordinal(), g.staff.email))
