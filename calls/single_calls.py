"""The single call on the call path: a number on no open account is offered one paid call (a code
the called person takes to FamilyLine's phone number), the paid call is allowed for the minutes
paid, and its completion charges the real minutes from the `single_calls` system account and sends
the rest back to the card (through the outbox). Payment itself is a billing workflow
(`billing.payments.single_call`); everything here runs only on the branch where no account holds
the number, so ordinary calls pay nothing for it."""

import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import LineType
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount

from . import line_types
from .models import Billing, CallRecord, SingleCall, SingleCallStatus
from .rating import Price, price
from .selectors import FacilityInfo, PlanInfo

# The outbox kind whose handler sends a single call's refund to the card (billing.payments.single_call).
REFUND_SEND = "single_call.refund_send"

# Recording the refund of an offer's unused part writes a refund row, which is billing's: billing
# registers the function when the apps are ready (`billing.payments.single_call.refund_queue`), so
# this layer needs no import of the workflows above it. It runs in the caller's transaction.
RefundQueue = Callable[..., object]
_refund_queue: list[RefundQueue] = []


def refund_queue_register(func: RefundQueue) -> RefundQueue:
    """Register the one function that records a refund: `func(offer=…, amount_cents=…)`."""
    if _refund_queue and _refund_queue[0] is not func:
        raise RuntimeError("two functions record single-call refunds")
    _refund_queue[:] = [func]
    return func


def refund_queue(*, offer: SingleCall, amount_cents: int) -> object:
    """Record the refund of `amount_cents` of the offer's payment to its card, sent after commit (the
    caller holds the offer's row lock and the transaction)."""
    if not _refund_queue:
        raise RuntimeError("no function records single-call refunds: is the billing app installed?")
    return _refund_queue[0](offer=offer, amount_cents=amount_cents)


CODE_ATTEMPTS = 20


def payment_key(call_id: str) -> str:
    return f"single_call:{call_id}:payment"


def charge_key(call_id: str) -> str:
    return f"single_call:{call_id}:charge"


def refund_key(call_id: str) -> str:
    return f"single_call:{call_id}:refund"


def single_call_price(*, info: FacilityInfo, plan: PlanInfo) -> tuple[int, Price]:
    """The price of a single call: the facility's per-call maximum at the rate in force, with tax. No
    fee (a single call's charge is passed through, never marked up)."""
    minutes = info.max_call_minutes
    return minutes, price(minutes=minutes, rate_per_minute=plan.rate_per_minute, tax_rate=plan.tax_rate)


@dataclass(frozen=True)
class Offered:
    """Deny, with this offer (new, or the one already made for the call id)."""

    offer: SingleCall


@dataclass(frozen=True)
class PaidCall:
    """Allow: the offer was paid; the call may last the minutes paid for."""

    offer: SingleCall


@dataclass(frozen=True)
class NoOffer:
    """Deny with `reason` and no offer."""

    reason: str


@dataclass(frozen=True)
class OtherCall:
    """The call id's offer was made for another call: `field` names what differs."""

    field: str


def differs(offer: SingleCall, *, facility_id: int, inmate_id: int, e164: str) -> str | None:
    """What about this call differs from the one the offer was made for (None: the same call)."""
    if offer.facility_id != facility_id:
        return "facility"
    if offer.inmate_id != inmate_id:
        return "inmate"
    if str(offer.dialed_number) != e164:
        return "dialed_number"
    return None


def offer_for_call(
    *,
    call_id: str,
    info: FacilityInfo,
    plan: PlanInfo,
    inmate_id: int,
    e164: str,
    now: datetime.datetime,
    not_registered: str,
    cell_phone_not_allowed: str,
) -> Offered | PaidCall | NoOffer | OtherCall:
    """What `authorize` answers for a call to a number no open account holds: the paid call allowed
    (once, under the offer's row lock, while the offer is unexpired; a retry of the allowed call is
    allowed again), the offer already made while it lasts, or a new offer. No offer at a free
    facility (nothing to pay), nor for a mobile number where cell phones are forbidden (the line type
    is looked up, once per number, only here)."""
    offer = SingleCall.objects.filter(call_id=call_id).first()
    if offer is not None:
        answer = _answer_for_offer(offer, info=info, inmate_id=inmate_id, e164=e164, now=now)
        if answer is not None:
            return NoOffer(not_registered) if answer is _PAID_BEFORE else answer
    if plan.is_free:
        return NoOffer(not_registered)
    if not info.cell_phones_allowed and line_types.line_type_of(e164=e164) in (LineType.MOBILE, LineType.UNKNOWN):
        return NoOffer(cell_phone_not_allowed)
    made = _offer_make(
        call_id=call_id, facility_id=info.id, inmate_id=inmate_id, e164=e164, now=now, renew=offer is not None
    )
    if difference := differs(made, facility_id=info.id, inmate_id=inmate_id, e164=e164):
        return OtherCall(difference)
    if made.status != SingleCallStatus.OFFERED:  # paid meanwhile (a race with its own retry)
        return offer_for_call(
            call_id=call_id,
            info=info,
            plan=plan,
            inmate_id=inmate_id,
            e164=e164,
            now=now,
            not_registered=not_registered,
            cell_phone_not_allowed=cell_phone_not_allowed,
        )
    return Offered(made)


# An offer paid once already and now used, refunded or expired: no second offer for its call id.
_PAID_BEFORE = NoOffer("")


def _answer_for_offer(offer: SingleCall, *, info: FacilityInfo, inmate_id: int, e164: str, now):
    """The answer the call id's existing offer gives, or None when a new offer may be made."""
    field = differs(offer, facility_id=info.id, inmate_id=inmate_id, e164=e164)
    if field:
        return OtherCall(field)
    if offer.status in (SingleCallStatus.PAID, SingleCallStatus.AUTHORIZED):
        allowed = _authorize_paid(offer, now=now)
        if allowed is not None:
            return PaidCall(allowed)
    if offer.status == SingleCallStatus.OFFERED and offer.expires_at > now:
        return Offered(offer)
    if offer.status not in (SingleCallStatus.OFFERED, SingleCallStatus.EXPIRED):
        return _PAID_BEFORE
    return None


def _authorize_paid(offer: SingleCall, *, now: datetime.datetime) -> SingleCall | None:
    """Mark the paid offer as used by its call, under its row lock. A paid offer is used only within
    its expiry; an allowed one is allowed again (the platform retrying the same authorize)."""
    with transaction.atomic():
        offer = SingleCall.objects.select_for_update().get(pk=offer.pk)
        if offer.status == SingleCallStatus.AUTHORIZED:
            return offer
        if offer.status != SingleCallStatus.PAID or offer.expires_at <= now:
            return None
        offer.status = SingleCallStatus.AUTHORIZED
        offer.authorized_at = now
        offer.save(update_fields=["status", "authorized_at"])
    return offer


def _new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _offer_make(
    *, call_id: str, facility_id: int, inmate_id: int, e164: str, now: datetime.datetime, renew: bool
) -> SingleCall:
    """A new offer for the call id (or, `renew`, the expired unpaid one renewed), with a code no live
    offer has. A code still held by an offer that expired unpaid is freed first."""
    expires_at = now + settings.SINGLE_CALL_OFFER_TTL
    for _ in range(CODE_ATTEMPTS):
        code = _new_code()
        try:
            with transaction.atomic():
                unpaid = (SingleCallStatus.OFFERED, SingleCallStatus.EXPIRED)
                renewed = renew and SingleCall.objects.filter(
                    call_id=call_id, status__in=unpaid, expires_at__lte=now
                ).update(status=SingleCallStatus.OFFERED, code=code, offered_at=now, expires_at=expires_at)
                if not renewed:
                    return SingleCall.objects.create(
                        call_id=call_id,
                        facility_id=facility_id,
                        inmate_id=inmate_id,
                        dialed_number=e164,
                        code=code,
                        offered_at=now,
                        expires_at=expires_at,
                    )
        except IntegrityError:
            existing = SingleCall.objects.filter(call_id=call_id).first()
            if existing is not None and existing.expires_at > now:
                return existing  # made at the same moment by another authorize of this call
            SingleCall.objects.filter(
                code=code, status=SingleCallStatus.OFFERED, expires_at__lte=now, payments__isnull=True
            ).update(status=SingleCallStatus.EXPIRED)
            continue
        return SingleCall.objects.get(call_id=call_id)
    raise RuntimeError("no free single-call code found")


def single_call_charge(
    *, offer: SingleCall, fields: dict, minutes: int, now: datetime.datetime
) -> tuple[CallRecord, bool]:
    """Charge a completed single call: the real minutes (never more than paid) at the price fixed when
    paid, from the single calls account to call revenue and tax (`single_call:<call_id>:charge`), and
    the rest back to the card: a refund row, sent to Stripe after commit through the outbox. Under
    the offer's row lock, so a repeated or racing completion charges and refunds once. `fields`: the
    call record's, as `call_complete` built them. Returns the call's record, and whether this
    completion made it."""
    with transaction.atomic():
        offer = SingleCall.objects.select_for_update().get(pk=offer.pk)
        if offer.status == SingleCallStatus.COMPLETED:
            return CallRecord.objects.get(call_id=offer.call_id), False
        # Reported only after its money went back in full (a call never reported for hours): recorded,
        # charged nothing.
        refunded = offer.status == SingleCallStatus.REFUNDED
        minutes_paid, rate_per_minute, tax_rate, _, _ = offer.price_paid()
        minutes = min(minutes, minutes_paid)
        cost = price(minutes=minutes, rate_per_minute=rate_per_minute, tax_rate=tax_rate)
        if refunded:
            cost = Price(0, 0)
        entry = None
        if cost.total_cents:
            single_calls, revenue, tax = ledger.system_accounts(
                SystemAccount.SINGLE_CALLS, SystemAccount.CALL_REVENUE, SystemAccount.TAX_PAYABLE
            )
            lines = [(single_calls, -cost.total_cents), (revenue, cost.charge_cents)]
            if cost.tax_cents:
                lines.append((tax, cost.tax_cents))
            entry = ledger.post(
                idempotency_key=charge_key(offer.call_id),
                kind=EntryKind.CALL,
                lines=lines,
                memo=f"Single call {offer.call_id}: {minutes} of {offer.minutes} min paid",
            ).entry
        record = CallRecord.objects.create(
            **{
                **fields,
                "account_id": None,
                "billing": Billing.SINGLE_CALL,
                "rate_plan_id": None,
                "rate_per_minute": offer.rate_per_minute,
                "tax_rate": offer.tax_rate,
                "billable_minutes": minutes,
                "charge_cents": cost.charge_cents,
                "tax_cents": cost.tax_cents,
                "balance_after_cents": None,
                "refused_reason": "",
            },
            entry=entry,
        )
        rest = offer.total_cents - cost.total_cents
        if not refunded:
            if rest > 0:
                refund_queue(offer=offer, amount_cents=rest)
            offer.status = SingleCallStatus.COMPLETED
            offer.completed_at = now
            offer.save(update_fields=["status", "completed_at"])
    return record, True
