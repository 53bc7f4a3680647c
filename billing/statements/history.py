"""What a family reads of its account's past: one list of calls and money movements in plain words,
sorted by when each happened, filtered by dates, number and inmate; the totals the CSV exports
add up to; and the monthly spending (calls, taxes, fees) for the chart. Read-only."""

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import CallingAccount
from billing.ledger.money import format_cents
from billing.payments.models import Channel, Payment, PaymentStatus, Refund, RefundMethod, RefundStatus
from billing.statements.models import Adjustment, CallCreditRequest, CallCreditStatus
from calls.models import CallRecord


def channel_words(channel: str) -> str:
    """How a payment was made, in the reader's language."""
    words: dict[str, str] = {
        Channel.WEB: _("Online"),
        Channel.PHONE_IVR: _("By phone (automated)"),
        Channel.PHONE_AGENT: _("By phone (live agent)"),
        Channel.MAIL: _("By mail (check or money order)"),
    }
    return words.get(channel, channel)


def short_date(moment: datetime.datetime | datetime.date, zone: str | None = None) -> str:
    """A day as the family pages write it ("Dec 6, 2026"), on the reader's clock when given a moment."""
    if isinstance(moment, datetime.datetime) and zone:
        moment = timezone.localtime(moment, ZoneInfo(zone))
    return date_format(moment, _("M j, Y"))


def call_credit_words(credit: CallCreditRequest, zone: str, *, with_amount: bool = True) -> str:
    """ "Credit for the call from Maria Lopez on Dec 6, 2026 · $0.96"."""
    words = _("Credit for the call from %(inmate)s on %(date)s") % {
        "inmate": credit.call.inmate.full_name,
        "date": short_date(credit.call.started_at, zone),
    }
    return f"{words} · {format_cents(credit.amount_cents)}" if with_amount else words


def statement_line_words(line, zone: str | None = None) -> str:
    """A statement line's description in the reader's language (the stored one is English)."""
    credit = _line_call_credit(line)
    if credit is not None:
        return call_credit_words(credit, zone or settings.TIME_ZONE, with_amount=False)
    if line.kind == "call":
        return _("Call from %(facility)s") % {"facility": line.facility} if line.facility else _("Call")
    payment = getattr(line.entry, "payment", None) if line.entry_id else None
    if line.kind == "payment" and payment is not None:
        return _("Payment") + " · " + channel_words(payment.channel)
    if line.kind == "adjustment" and line.description.startswith("Adjustment: "):
        return _("Adjustment: %(description)s") % {"description": line.description.removeprefix("Adjustment: ")}
    return line.description


def _line_call_credit(line) -> CallCreditRequest | None:
    if line.kind != "adjustment" or not line.entry_id:
        return None
    return getattr(line.entry, "call_credit", None)


def payment_state_words(payment: Payment) -> str:
    """A payment's state, saying plainly whether money was taken."""
    words: dict[str, str] = {
        PaymentStatus.SUCCEEDED: _("Paid"),
        PaymentStatus.FAILED: _("Failed: nothing was charged"),
        PaymentStatus.CANCELED: _("Canceled: nothing was charged"),
        PaymentStatus.REQUIRES_ACTION: _("Waiting for your bank's confirmation: not charged yet"),
        PaymentStatus.PROCESSING: _("Processing"),
        PaymentStatus.CREATED: _("Processing"),
    }
    return words.get(payment.status, payment.status)


def call_words(call: CallRecord) -> str:
    """ "Call from Maria Lopez at Cheshire CI · 12 min · $2.53"."""
    if call.refused_reason:
        cost = _("not charged: FamilyLine did not allow this call")
    elif call.charge_cents + call.tax_cents == 0:
        cost = _("free")
    else:
        cost = format_cents(call.charge_cents + call.tax_cents)
    return _("Call from %(inmate)s at %(facility)s · %(minutes)s min · %(cost)s") % {
        "inmate": call.inmate.full_name,
        "facility": call.facility.name,
        "minutes": call.billable_minutes,
        "cost": cost,
    }


def payment_words(payment: Payment) -> str:
    card = _(", card ending %(last4)s") % {"last4": payment.card_last4} if payment.card_last4 else ""
    if payment.auto_reload:
        how = _("Automatic reload") + card
    else:
        how = _("Payment") + " · " + channel_words(payment.channel) + card
    if payment.status == PaymentStatus.SUCCEEDED:
        return _("%(how)s · %(amount)s added") % {"how": how, "amount": format_cents(payment.amount_cents)}
    return _("%(how)s · %(amount)s · %(state)s") % {
        "how": how,
        "amount": format_cents(payment.amount_cents),
        "state": payment_state_words(payment),
    }


def refund_words(refund: Refund) -> str:
    where = _("Refund to your card") if refund.method == RefundMethod.CARD else _("Refund by check")
    states: dict[str, str] = {
        RefundStatus.SUCCEEDED: _("sent"),
        RefundStatus.FAILED: _("refused by the card processor"),
    }
    state = states.get(refund.status, _("on its way"))
    return f"{where} · {format_cents(refund.amount_cents)} · {state}"


def adjustment_words(adjustment: Adjustment) -> str:
    if adjustment.amount_cents > 0:
        return _("Credit from FamilyLine · %(amount)s") % {"amount": format_cents(adjustment.amount_cents)}
    return _("Correction by FamilyLine · %(amount)s") % {"amount": format_cents(-adjustment.amount_cents)}


@dataclass(frozen=True)
class Entry:
    at: datetime.datetime
    kind: str  # "call", "payment", "refund", "adjustment"
    text: str
    amount_cents: int  # the effect on the balance: negative for a call, 0 for money not taken
    call: CallRecord | None = None
    payment: Payment | None = None
    credit: CallCreditRequest | None = None


@dataclass(frozen=True)
class Filters:
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    number: str = ""  # E.164
    inmate_id: int | None = None
    zone: str = "America/New_York"

    @property
    def calls_only(self) -> bool:
        return bool(self.number or self.inmate_id)

    def bounds(self) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        tz = ZoneInfo(self.zone)
        start = datetime.datetime.combine(self.date_from, datetime.time(), tz) if self.date_from else None
        end = (
            datetime.datetime.combine(self.date_to + datetime.timedelta(days=1), datetime.time(), tz)
            if self.date_to
            else None
        )
        return start, end


def _between(queryset: QuerySet, name: str, filters: Filters) -> QuerySet:
    start, end = filters.bounds()
    if start:
        queryset = queryset.filter(**{f"{name}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{name}__lt": end})
    return queryset


def calls_for(*, account: CallingAccount, filters: Filters) -> QuerySet[CallRecord]:
    calls = CallRecord.objects.filter(account=account).select_related("facility", "inmate", "credit_request")
    if filters.number:
        calls = calls.filter(dialed_number=filters.number)
    if filters.inmate_id:
        calls = calls.filter(inmate_id=filters.inmate_id)
    return _between(calls, "started_at", filters).order_by("-started_at", "-id")


def call_credits_for(*, account: CallingAccount, filters: Filters) -> QuerySet[CallCreditRequest]:
    """Approved call credits, dated when they were given; a number or inmate filter keeps the credits
    of the calls it keeps."""
    credits = CallCreditRequest.objects.filter(account=account, status=CallCreditStatus.APPROVED)
    if filters.number:
        credits = credits.filter(call__dialed_number=filters.number)
    if filters.inmate_id:
        credits = credits.filter(call__inmate_id=filters.inmate_id)
    credits = credits.select_related("call__facility", "call__inmate")
    return _between(credits, "decided_at", filters).order_by("-decided_at", "-id")


def payments_for(*, account: CallingAccount, filters: Filters) -> QuerySet[Payment]:
    payments = Payment.objects.filter(account=account).exclude(status=PaymentStatus.CREATED, auto_reload=True)
    start, end = filters.bounds()
    if start:
        payments = payments.filter(Q(succeeded_at__gte=start) | Q(succeeded_at__isnull=True, created_at__gte=start))
    if end:
        payments = payments.filter(Q(succeeded_at__lt=end) | Q(succeeded_at__isnull=True, created_at__lt=end))
    return payments.order_by("-created_at", "-id")


@dataclass
class History:
    entries: list[Entry] = field(default_factory=list)
    calls_total_cents: int = 0
    calls_count: int = 0
    credits_total_cents: int = 0
    paid_total_cents: int = 0
    fees_total_cents: int = 0


def history_for_account(*, account: CallingAccount, filters: Filters, limit: int | None = None) -> History:
    """Calls and money movements, newest first. Totals: what the listed calls cost (charge + tax)
    and what the listed successful payments added and cost in fees, as the CSV exports sum them.
    With `limit`, only the latest `limit` entries (the totals then cover those only)."""
    result = History()
    for call in calls_for(account=account, filters=filters)[:limit]:
        total = call.charge_cents + call.tax_cents
        result.entries.append(Entry(call.started_at, "call", call_words(call), -total, call=call))
        result.calls_total_cents += total
        result.calls_count += 1
    for credit in call_credits_for(account=account, filters=filters)[:limit]:
        text = call_credit_words(credit, filters.zone)
        assert credit.decided_at is not None, "an approved credit was decided"
        result.entries.append(Entry(credit.decided_at, "credit", text, credit.amount_cents, credit=credit))
        result.credits_total_cents += credit.amount_cents
    if not filters.calls_only:
        for payment in payments_for(account=account, filters=filters)[:limit]:
            paid = payment.status == PaymentStatus.SUCCEEDED
            at = payment.succeeded_at or payment.created_at
            amount = payment.amount_cents if paid else 0
            result.entries.append(Entry(at, "payment", payment_words(payment), amount, payment=payment))
            if paid:
                result.paid_total_cents += payment.amount_cents
                result.fees_total_cents += payment.fee_cents
        for refund in _between(Refund.objects.filter(account=account), "created_at", filters)[:limit]:
            result.entries.append(Entry(refund.created_at, "refund", refund_words(refund), -refund.amount_cents))
        for adjustment in _between(Adjustment.objects.filter(account=account), "created_at", filters)[:limit]:
            result.entries.append(
                Entry(adjustment.created_at, "adjustment", adjustment_words(adjustment), adjustment.amount_cents)
            )
    result.entries.sort(key=lambda entry: entry.at, reverse=True)
    if limit is not None:
        result.entries = result.entries[:limit]
    return result


@dataclass(frozen=True)
class Bar:
    label: datetime.date
    calls_cents: int
    taxes_cents: int
    fees_cents: int

    @property
    def total_cents(self) -> int:
        return self.calls_cents + self.taxes_cents + self.fees_cents


def _month_starts(now: datetime.datetime, zone: str, months: int) -> list[datetime.datetime]:
    local = timezone.localtime(now, ZoneInfo(zone)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [local]
    for _index in range(months):
        previous = (starts[0] - datetime.timedelta(days=1)).replace(day=1)
        starts.insert(0, previous)
    return starts[1:] + [(local + datetime.timedelta(days=32)).replace(day=1)]


def monthly_spending(
    *, account: CallingAccount, zone: str, months: int = 6, now: datetime.datetime | None = None
) -> list[Bar]:
    """Calls, taxes and payment fees of each of the last `months` months (this one included)."""
    bounds = _month_starts(now or timezone.now(), zone, months)
    calls = list(
        CallRecord.objects.filter(account=account, started_at__gte=bounds[0], started_at__lt=bounds[-1]).values_list(
            "started_at", "charge_cents", "tax_cents"
        )
    )
    # succeeded_at is never empty here (filtered by range); the comprehension says so to the type checker.
    fees = [
        (at, fee)
        for at, fee in Payment.objects.filter(
            account=account, status=PaymentStatus.SUCCEEDED, succeeded_at__gte=bounds[0], succeeded_at__lt=bounds[-1]
        ).values_list("succeeded_at", "fee_cents")
        if at is not None
    ]
    bars = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        month_calls = [(c, t) for at, c, t in calls if start <= at < end]
        bars.append(
            Bar(
                label=start.date(),
                calls_cents=sum(c for c, _t in month_calls),
                taxes_cents=sum(t for _c, t in month_calls),
                fees_cents=sum(f for at, f in fees if start <= at < end),
            )
        )
    return bars
