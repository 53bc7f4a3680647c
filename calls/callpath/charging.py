"""Charging a finished call: the one set of rules the platform API (`complete`) and CSV files
(`importing`) both follow, so one call is charged alike whichever way it is reported.

A report is rated per started minute at the plan in force when the call started (`call_rate`); a
call whose call id's latest authorization was a deny is recorded with the refusal and charged to no
one (`refusal_for`); the payer is its hold's, else the one in force when it started, into a negative
balance if need be, and a paid call nobody can pay for is refused (`charge_decide`); its entry is
`call:<call_id>` (`entry_spec`) and its record has the columns `record_values` names. A single call
is charged from what was paid (`single_call_charge`). The adapters read the facts (one statement per
call, or a handful per batch) and write; nothing here reads or writes the database, except the single
call's charge."""

import datetime
from dataclasses import dataclass
from typing import Any

from accounts.models import CallingAccount
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, LedgerAccount

from .. import single_calls
from ..models import Billing, CallRecord, SingleCall
from ..rating import Price, billable_minutes, price
from ..selectors import EarlierCall, FacilityInfo, PlanInfo, Refusal, call_parties_get
from .errors import CallConflict, CallInputError

# A call record may say it started slightly in the future (clock skew between systems), not more.
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class FinishedCall:
    """A call report as checked on the way in: the API's body or a CSV row."""

    call_id: str
    facility_code: str
    inmate_number: str
    e164: str
    started_at: datetime.datetime
    duration_seconds: int
    disconnect: str
    source: str


@dataclass(frozen=True)
class RatedCall:
    info: FacilityInfo
    plan: PlanInfo
    inmate_id: int
    e164: str
    minutes: int
    cost: Price


@dataclass(frozen=True)
class Charge:
    """Who pays a rated call and what is posted: `account` is None only for a free or refused call
    no account held; `cost` is nothing for a refused call."""

    account: CallingAccount | None
    billing: str
    cost: Price
    refused_reason: str


def call_rate(
    *, call: FinishedCall, info: FacilityInfo | None, inmate_id: int | None, now: datetime.datetime
) -> RatedCall:
    """Check and rate a call report: per started minute at the plan in force on the facility's
    local date when the call started. Raises CallInputError."""
    if info is None:
        raise CallInputError("facility", "No facility has this code.", "unknown_facility")
    if call.started_at > now + CLOCK_SKEW:
        raise CallInputError("started_at", "The call cannot start in the future.", "started_in_future")
    plan = info.plan_at(call.started_at)
    if plan is None:
        raise CallInputError("started_at", "No rate plan is in force at this facility on that date.", "no_rate_plan")
    # A late record may name an inmate released since: inactive inmates are still charged for.
    if inmate_id is None:
        raise CallInputError("inmate", "No inmate has this number at this facility.", "unknown_inmate")
    minutes = billable_minutes(
        duration_seconds=call.duration_seconds, disconnect=call.disconnect, cap_minutes=info.max_call_minutes
    )
    cost = price(minutes=minutes, rate_per_minute=plan.rate_per_minute, tax_rate=plan.tax_rate)
    return RatedCall(info, plan, inmate_id, call.e164, minutes, cost)


def check_same_call(
    earlier: EarlierCall, *, facility_id: int | None, inmate_id: int | None, e164: str, parties: tuple[str, str]
) -> None:
    """A call id names one call: the same facility, inmate and number each time it is sent.
    `parties`: the facility code and inmate number sent, looked up whatever their status when the
    call path found no active facility or inmate for them (closed or released since the call)."""
    if facility_id is None or inmate_id is None:
        facility_id, inmate_id = call_parties_get(facility_code=parties[0], inmate_number=parties[1])
    if earlier.facility_id != facility_id:
        raise CallConflict("facility")
    if earlier.inmate_id != inmate_id:
        raise CallConflict("inmate")
    if str(earlier.dialed_number) != e164:
        raise CallConflict("dialed_number")


def refusal_for(refusal: Refusal | None, *, call: FinishedCall) -> Refusal | None:
    """The deny that governs this reported call: the call id's latest decision, when it was a deny.
    Raises CallConflict (nothing charged) when that deny was given for another facility, inmate or
    number: the call id names the refused call, as it would name an allowed one."""
    if refusal is None:
        return None
    differs = refusal.differs(facility_code=call.facility_code, inmate_number=call.inmate_number, e164=call.e164)
    if differs:
        raise CallConflict(differs)
    return refusal


def charge_decide(
    *, rated: RatedCall, payer: tuple[CallingAccount | None, str | None], refusal: Refusal | None
) -> Charge:
    """The charge of a rated call (not a single call) given its payer, (account, billing): its hold's,
    else `payers.payer_at` when it started. A free plan bills `free`; a refused call costs nothing and,
    when no account held its number, is recorded as a collect call. Raises CallInputError for a paid
    call with no payer."""
    account, billing = payer
    if rated.plan.is_free:
        billing = Billing.FREE
    elif account is None and refusal is None:
        raise CallInputError(
            "dialed_number", "No FamilyLine account has this number registered; the call has no payer.", "no_payer"
        )
    cost = Price(0, 0) if refusal is not None else rated.cost
    return Charge(account, billing or Billing.COLLECT, cost, refusal.reason if refusal is not None else "")


def entry_spec(
    *, call: FinishedCall, rated: RatedCall, charge: Charge, ledgers: tuple[LedgerAccount, LedgerAccount, LedgerAccount]
) -> ledger.EntrySpec:
    """The call's entry, `call:<call_id>`: the payer debited charge and tax, call revenue and tax
    payable credited. `ledgers`: the payer's, call revenue's and tax payable's ledger accounts. Only
    for a call that costs something (`charge.cost.total_cents`)."""
    account_ledger, revenue, tax = ledgers
    lines = [(account_ledger, -charge.cost.total_cents), (revenue, charge.cost.charge_cents)]
    if charge.cost.tax_cents:
        lines.append((tax, charge.cost.tax_cents))
    memo = f"Call {call.call_id}: {rated.minutes} min from {rated.info.code}"
    return ledger.EntrySpec(f"call:{call.call_id}", EntryKind.CALL, lines, memo)


# The call record's columns, by attribute name: every one the call path sets. The record's inserts
# (one row at a time on the API, in bulk for a file) write exactly these.
RECORD_COLUMNS = (
    "call_id",
    "account_id",
    "facility_id",
    "inmate_id",
    "dialed_number",
    "started_at",
    "duration_seconds",
    "disconnect",
    "billing",
    "rate_plan_id",
    "rate_per_minute",
    "tax_rate",
    "billable_minutes",
    "charge_cents",
    "tax_cents",
    "balance_after_cents",
    "entry_id",
    "source",
    "completed_at",
    "refused_reason",
)


def record_values(
    *,
    call: FinishedCall,
    rated: RatedCall,
    charge: Charge,
    balance_after_cents: int | None,
    entry_id: int | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The call record's values, one for each of RECORD_COLUMNS."""
    return {
        "call_id": call.call_id,
        "account_id": charge.account.pk if charge.account is not None else None,
        "facility_id": rated.info.id,
        "inmate_id": rated.inmate_id,
        "dialed_number": call.e164,
        "started_at": call.started_at,
        "duration_seconds": call.duration_seconds,
        "disconnect": call.disconnect,
        "billing": charge.billing,
        "rate_plan_id": rated.plan.id,
        "rate_per_minute": rated.plan.rate_per_minute,
        "tax_rate": rated.plan.tax_rate,
        "billable_minutes": rated.minutes,
        "charge_cents": charge.cost.charge_cents,
        "tax_cents": charge.cost.tax_cents,
        "balance_after_cents": balance_after_cents,
        "entry_id": entry_id,
        "source": call.source,
        "completed_at": now,
        "refused_reason": charge.refused_reason,
    }


def single_call_charge(
    *, offer: SingleCall, call: FinishedCall, rated: RatedCall, now: datetime.datetime
) -> tuple[CallRecord, bool]:
    """A single call whose paid call was allowed: the real minutes charged from what was paid, the
    rest refunded to the card (`single_calls.single_call_charge`). Returns (record, created). Raises
    CallConflict when the offer was made for another call."""
    other = single_calls.differs(offer, facility_id=rated.info.id, inmate_id=rated.inmate_id, e164=call.e164)
    if other:
        raise CallConflict(other)
    fields = {
        "call_id": offer.call_id,
        "facility_id": rated.info.id,
        "inmate_id": rated.inmate_id,
        "dialed_number": call.e164,
        "started_at": call.started_at,
        "duration_seconds": call.duration_seconds,
        "disconnect": call.disconnect,
        "source": call.source,
    }
    return single_calls.single_call_charge(offer=offer, fields=fields, minutes=rated.minutes, now=now)
