"""Writes of the calls app: the real-time call path (authorize, complete), holds, inmate-debit
sponsorships, blocked numbers and platform tokens."""

import datetime
import functools
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts import alerts, closed_charges
from accounts.emails import account_email_enqueue
from accounts.models import (
    AccountKind,
    AccountStatus,
    CallingAccount,
    LineType,
    SuspensionCode,
    User,
    status_in_force,
)
from billing import ledger
from billing.ledger.models import EntryKind, LedgerAccount, SystemAccount
from billing.ledger.rows import pipelined, row_insert
from billing.money import to_decimal

from . import payers, single_calls
from .announcements import announcement
from .models import (
    Billing,
    BlockedNumber,
    BlockSource,
    CallDecision,
    CallRecord,
    CallSource,
    Facility,
    Inmate,
    InmateDebitSponsorship,
    PlatformToken,
    SingleCall,
)
from .rating import Price, billable_minutes, format_rate, minutes_covered, price
from .selectors import (
    AuthorizeFacts,
    CompleteFacts,
    EarlierCall,
    FacilityInfo,
    PlanInfo,
    RecordedCall,
    Refusal,
    authorize_facts_get,
    call_id_lock,
    call_parties_get,
    call_record_locked_get,
    complete_facts_get,
    facility_cache_clear,
    facility_info_get,
    token_hash,
)

# A call record may say it started slightly in the future (clock skew between systems), not more.
CLOCK_SKEW = datetime.timedelta(minutes=5)


class DenyReason:
    """The reason codes of DESIGN.md §7 (other systems are written against these strings)."""

    UNKNOWN_FACILITY = "unknown_facility"
    UNKNOWN_INMATE = "unknown_inmate"
    NUMBER_NOT_REGISTERED = "number_not_registered"
    ACCOUNT_PENDING_ACTIVATION = "account_pending_activation"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_CLOSED = "account_closed"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NEGATIVE_BALANCE = "negative_balance"
    CREDIT_LIMIT_REACHED = "credit_limit_reached"
    STATEMENT_PAST_DUE = "statement_past_due"
    CELL_PHONE_NOT_ALLOWED = "cell_phone_not_allowed"
    NUMBER_BLOCKED = "number_blocked"

    ALL = (
        UNKNOWN_FACILITY,
        UNKNOWN_INMATE,
        NUMBER_NOT_REGISTERED,
        ACCOUNT_PENDING_ACTIVATION,
        ACCOUNT_SUSPENDED,
        ACCOUNT_CLOSED,
        INSUFFICIENT_FUNDS,
        NEGATIVE_BALANCE,
        CREDIT_LIMIT_REACHED,
        STATEMENT_PAST_DUE,
        CELL_PHONE_NOT_ALLOWED,
        NUMBER_BLOCKED,
    )


class CallInputError(Exception):
    """A call report that cannot be charged as sent. `field` names the request field at fault; `reason`
    is the code of a refusal no request schema can express (unknown facility, no payer...)."""

    def __init__(self, field: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


class CallConflict(Exception):
    """A call id already used for another call: `field` names what differs (facility, inmate or
    dialed_number). Nothing is held or charged."""

    def __init__(self, field: str):
        super().__init__(f"This call_id was already used for a call with another {field}.")
        self.field = field
        self.message = str(self)


class SponsorshipError(Exception):
    """A sponsorship request a holder can correct; the message is fit to show."""


class BlockError(Exception):
    """A block request staff can correct; the message is fit to show."""


# A phone number as a platform sends it: digits, at most one leading "+", and the usual separators.
# No letters (vanity numbers), no extension, no "++".
PHONE_TEXT = re.compile(r"\+?\(?[0-9][0-9 ().\-]*", re.ASCII)


@functools.lru_cache(maxsize=65_536)
def normalize_number(text: str) -> str:
    """E.164 for a number given in E.164 or US national form. Raises CallInputError otherwise.
    Remembered per text in this process (a pure function, asked twice per call and per imported row;
    a refusal is not remembered)."""
    if not isinstance(text, str) or not PHONE_TEXT.fullmatch(text.strip()):
        raise CallInputError(
            "dialed_number", "Enter a phone number in E.164 (+18605550123) or US form: digits only, no extension."
        )
    try:
        parsed = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        raise CallInputError(
            "dialed_number", "Enter a phone number in E.164 (+18605550123) or US form.", "not_a_phone_number"
        ) from None
    if not phonenumbers.is_possible_number(parsed):
        raise CallInputError("dialed_number", "This is not a possible phone number.", "not_a_phone_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- authorize -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    call_id: str
    decision: str
    reason: str | None
    max_seconds: int
    billing: str | None
    rate_per_minute: str
    announcement: str
    # A `number_not_registered` deny's offer of one paid call: {"phone", "code", "expires_at"}.
    single_call: dict[str, str] | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def as_dict(self) -> dict[str, object]:
        answer: dict[str, object] = {
            "call_id": self.call_id,
            "decision": self.decision,
            "reason": self.reason,
            "max_seconds": self.max_seconds,
            "billing": self.billing,
            "rate_per_minute": self.rate_per_minute,
            "announcement": self.announcement,
        }
        if self.single_call is not None:
            answer["single_call"] = self.single_call
        return answer


def _deny(call_id: str, reason: str, rate: Decimal | None = None) -> Authorization:
    return Authorization(call_id, "deny", reason, 0, None, format_rate(rate or Decimal("0")), "")


def _unregistered(
    *,
    call_id: str,
    info: FacilityInfo,
    plan: PlanInfo,
    inmate_id: int,
    inmate_name: str,
    e164: str,
    now: datetime.datetime,
) -> Authorization:
    """A number no open account holds (never registered, or freed when its account closed): denied
    `number_not_registered` with the offer of one paid call, or allowed as that call once it is
    paid. Only reached on this branch, so the ordinary call path pays nothing for it."""
    outcome = single_calls.offer_for_call(
        call_id=call_id,
        info=info,
        plan=plan,
        inmate_id=inmate_id,
        e164=e164,
        now=now,
        not_registered=DenyReason.NUMBER_NOT_REGISTERED,
        cell_phone_not_allowed=DenyReason.CELL_PHONE_NOT_ALLOWED,
    )
    if isinstance(outcome, single_calls.OtherCall):
        raise CallConflict(outcome.field)
    if isinstance(outcome, single_calls.NoOffer):
        return _deny(call_id, outcome.reason, plan.rate_per_minute)
    offer = outcome.offer
    if isinstance(outcome, single_calls.PaidCall):
        text = announcement(
            billing=Billing.SINGLE_CALL, inmate_name=inmate_name, facility_name=info.name, language="en"
        )
        minutes, rate_per_minute, _, _, _ = offer.price_paid()
        rate = format_rate(rate_per_minute)
        return Authorization(call_id, "allow", None, minutes * 60, Billing.SINGLE_CALL, rate, text)
    expires_at = offer.expires_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return replace(
        _deny(call_id, DenyReason.NUMBER_NOT_REGISTERED, plan.rate_per_minute),
        single_call={"phone": settings.TWILIO_PHONE_NUMBER, "code": offer.code, "expires_at": expires_at},
    )


def _status_reason(account: CallingAccount, now: datetime.datetime, *, free: bool) -> str | None:
    """Why the account cannot take a call now, if it cannot. A free call costs the account nothing,
    so only a closed account or a staff suspension stops it; paid calls need an active account."""
    return _standing_reason(account.status_at(now), account.suspension_code, free=free)


def _standing_reason(status: str, suspension_code: str, *, free: bool) -> str | None:
    if status == AccountStatus.CLOSED:
        return DenyReason.ACCOUNT_CLOSED
    if status == AccountStatus.SUSPENDED:
        if suspension_code == SuspensionCode.STATEMENT_PAST_DUE:
            return None if free else DenyReason.STATEMENT_PAST_DUE
        return DenyReason.ACCOUNT_SUSPENDED
    if status in (AccountStatus.PENDING_FUNDING, AccountStatus.PENDING_ACTIVATION) and not free:
        return DenyReason.ACCOUNT_PENDING_ACTIVATION
    return None


def call_authorize(
    *, call_id: str, facility_code: str, inmate_number: str, dialed_number: str, now: datetime.datetime | None = None
) -> Authorization:
    """Decide whether a call may connect and for how long.

    Callers may rely on: a deny holds and charges nothing; an allow of a paid call places a hold for the
    price of `max_seconds` on the payer's account, decided under a row lock on that account's
    ledger row, so two authorizations at once never spend the same dollars; the same `call_id`
    authorized again while its hold stands returns the first answer and places no second hold; a
    `call_id` already completed is answered from its record and places no hold. Every other answer,
    allow or deny, is decided afresh and recorded as the call id's latest decision (`CallDecision`,
    replacing the one before): a call reported complete after a deny is charged to no one. A number no
    open account holds is denied `number_not_registered` with the offer of a single call
    (`Authorization.single_call`; one offer per call id), and allowed, billed `single_call` with no
    hold, once that offer is paid (`single_calls.offer_for_call`). Raises CallInputError for a dialed
    number that cannot be a phone number, CallConflict for a call id used for another call.

    The usual allowed call costs seven statements in four round trips: one read of everything decided
    on (`selectors.authorize_facts_get`), then the kernel's lock and its read of funds and standing
    under the lock, the call id's lock, a second look for the call's record and the decision's upsert
    (`_check_not_completed`), and the kernel's insert of the hold (`ledger.hold_place`). A deny or a
    free call records its decision in one more statement. A number on no account adds the look for
    the call id's single call and, the first time, the offer's insert (and, at a facility without
    cell phones, one Lookup request per number ever). Facility, rate plan and token come from
    in-process caches; nothing on the way is compiled by the ORM."""
    now = now or timezone.now()
    call = _call_to_authorize(
        call_id=call_id, facility_code=facility_code, inmate_number=inmate_number, dialed_number=dialed_number, now=now
    )
    if isinstance(call, _Repeat):
        return call.answer
    if isinstance(call, Authorization):
        answer = call
    else:
        try:
            answer = _authorize(call)
        except _CompletedMeanwhile as done:
            _check_same_call(
                done.record,
                facility_id=call.info.id,
                inmate_id=call.inmate_id,
                e164=call.e164,
                parties=(facility_code, inmate_number),
            )
            return _answer_from_record(call_id, done.record)
        if answer.as_dict() in call.recorded:
            return answer
    with connection.cursor() as cursor:
        _decision_send(
            cursor,
            answer,
            facility_code=facility_code,
            inmate_number=inmate_number,
            e164=normalize_number(dialed_number),
            now=now,
        )
    return answer


@functools.cache
def _decision_upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(CallDecision._meta.db_table)
    columns = ("call_id", "decision", "reason", "facility_code", "inmate_number", "dialed_number", "decided_at")
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608 - names from the model
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT ({quote('call_id')}) DO UPDATE SET {updates}"
    )


def _decision_send(
    cursor: CursorWrapper,
    answer: Authorization,
    *,
    facility_code: str,
    inmate_number: str,
    e164: str,
    now: datetime.datetime,
) -> None:
    """Record `answer` as the call id's latest decision, replacing the one before. One plain statement
    whose answer is not read, so the allowed call sends it in a round trip it makes anyway."""
    cursor.execute(
        _decision_upsert_sql(),
        [
            answer.call_id,
            answer.decision,
            answer.reason or "",
            facility_code,
            inmate_number,
            e164,
            connection.ops.adapt_datetimefield_value(now),
        ],
    )


def call_decisions_purge(*, now: datetime.datetime | None = None) -> int:
    """Forget the authorization decisions made more than CALL_DECISIONS_KEPT_YEARS ago (the day
    before the same calendar date, for a 29 February). Returns how many were deleted."""
    now = now or timezone.now()
    years = settings.CALL_DECISIONS_KEPT_YEARS
    try:
        cutoff = now.replace(year=now.year - years)
    except ValueError:  # 29 February, in a year that has none
        cutoff = now.replace(year=now.year - years, day=28)
    deleted, _ = CallDecision.objects.filter(decided_at__lt=cutoff).delete()
    return deleted


def _authorize(call: "_Call") -> Authorization:
    """Who pays, in the payer order of DESIGN.md §4, and the hold on that payer's account."""
    call_id, now = call.call_id, call.now
    if call.plan.is_free:
        reason = _status_reason(call.callee, now, free=True)
        if reason:
            return _deny(call_id, reason, call.plan.rate_per_minute)
        return _allow_free(call)
    if call.has_sponsors:
        sponsorships = payers.sponsorships_now(inmate_id=call.inmate_id)
        own = next((s for s in sponsorships if s.account_id == call.callee.pk), None)
        if own is not None:
            # The callee's own sponsorship pays first for calls to its own number, within its cap.
            answer = _authorize_by_own_sponsorship(call, own)
            if answer is not None:
                return answer
            sponsorships = [s for s in sponsorships if s is not own]
        answer = _authorize_by_a_sponsor(call, sponsorships)
        if answer is not None:
            return answer
    return _authorize_on(call, account=call.callee, billing=payers.collect_billing(call.callee))


@dataclass(frozen=True)
class _Repeat:
    """The answer already given for this call id (a hold's, or its record's): not a new decision."""

    answer: Authorization


def _call_to_authorize(
    *, call_id: str, facility_code: str, inmate_number: str, dialed_number: str, now: datetime.datetime
) -> "_Call | Authorization | _Repeat":
    """The call's facility, plan, inmate and callee, or the answer that stops it before any money:
    a deny, or the answer already given for this call id."""
    e164 = normalize_number(dialed_number)
    info = facility_info_get(code=facility_code)
    facts = authorize_facts_get(
        call_id=call_id, facility_id=info.id if info else None, inmate_number=inmate_number, e164=e164
    )
    earlier = facts.hold or facts.record
    if earlier is not None:
        parties = (facility_code, inmate_number)
        _check_same_call(
            earlier, facility_id=info.id if info else None, inmate_id=facts.inmate_id, e164=e164, parties=parties
        )
        return _Repeat(_answer_again(call_id, facts))
    plan = info.plan_at(now) if info else None
    if info is None or plan is None:
        # A facility without a rate plan in force is not open for calls.
        return _deny(call_id, DenyReason.UNKNOWN_FACILITY)
    if facts.inmate_id is None:
        return _deny(call_id, DenyReason.UNKNOWN_INMATE, plan.rate_per_minute)
    if facts.blocked:
        return _deny(call_id, DenyReason.NUMBER_BLOCKED, plan.rate_per_minute)
    if facts.callee is None:
        return _unregistered(
            call_id=call_id,
            info=info,
            plan=plan,
            inmate_id=facts.inmate_id,
            inmate_name=facts.inmate_name,
            e164=e164,
            now=now,
        )
    if facts.line_type in (LineType.MOBILE, LineType.UNKNOWN) and not info.cell_phones_allowed:
        return _deny(call_id, DenyReason.CELL_PHONE_NOT_ALLOWED, plan.rate_per_minute)
    return _Call(
        call_id=call_id,
        facility_code=facility_code,
        inmate_number=inmate_number,
        info=info,
        plan=plan,
        inmate_id=facts.inmate_id,
        inmate_name=facts.inmate_name,
        e164=e164,
        callee=facts.callee,
        language=facts.language,
        has_sponsors=facts.has_sponsors,
        now=now,
    )


def _check_same_call(
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


def _answer_again(call_id: str, facts: AuthorizeFacts) -> Authorization:
    """The answer for a call id seen before: its authorization's first answer (a retry); or, for a
    call completed without one, what its record says it was allowed (no new hold either way: the
    call is over or already held for)."""
    if facts.hold is not None:
        assert facts.hold.answer is not None, "a hold keeps the answer it was placed with"
        return Authorization(**facts.hold.answer)
    assert facts.record is not None, "asked again only for a call id with a hold or a record"
    return _answer_from_record(call_id, facts.record)


def _answer_from_record(call_id: str, record: RecordedCall) -> Authorization:
    """What the record says the call was: refused (the latest answer before it was reported), or
    allowed for the minutes it was charged."""
    if record.refused_reason:
        return _deny(call_id, record.refused_reason, record.rate_per_minute)
    return Authorization(
        call_id, "allow", None, record.billable_minutes * 60, record.billing, format_rate(record.rate_per_minute), ""
    )


class _CompletedMeanwhile(Exception):
    """The call's record committed after its authorization read the facts: it is answered from the
    record, with no hold (raised under the payer's lock, so nothing was written)."""

    def __init__(self, record: RecordedCall):
        super().__init__()
        self.record = record


def _check_not_completed(call: "_Call", terms: ledger.HoldTerms | None = None) -> ledger.HoldTerms | None:
    """Under the payer's lock, before a hold is placed: take the call id's lock and look for the
    call's record again (a late record can arrive with its own authorization). A completion that
    committed since the facts were read raises _CompletedMeanwhile; one still being written is waited
    for; one that comes later finds this hold and releases it (`_call_hold_release`).

    `terms` that allow the call: its decision is recorded in the same round trip, in the hold's
    transaction (undone with it when the record is found). Returns `terms`."""
    if terms is None:
        record = call_record_locked_get(call_id=call.call_id)
    else:
        answer = Authorization(**terms.response)

        def record_decision(cursor: CursorWrapper) -> None:
            _decision_send(
                cursor,
                answer,
                facility_code=call.facility_code,
                inmate_number=call.inmate_number,
                e164=call.e164,
                now=call.now,
            )

        record = call_record_locked_get(call_id=call.call_id, also=record_decision)
    if record is not None:
        raise _CompletedMeanwhile(record)
    if terms is not None:
        call.recorded.append(terms.response)
    return terms


@dataclass(frozen=True)
class _Call:
    call_id: str
    facility_code: str  # and inmate number, as the platform sent them
    inmate_number: str
    info: FacilityInfo
    plan: PlanInfo
    inmate_id: int
    inmate_name: str
    e164: str
    callee: CallingAccount
    language: str  # of the callee's holder: the called party hears the announcement
    has_sponsors: bool
    now: datetime.datetime
    # The answers already recorded as the call id's decision in a hold's transaction.
    recorded: list[dict[str, Any]] = field(default_factory=list, compare=False)

    @property
    def rate(self) -> str:
        return format_rate(self.plan.rate_per_minute)

    def minutes_for(self, cents: int) -> int:
        return minutes_covered(
            available_cents=cents,
            rate_per_minute=self.plan.rate_per_minute,
            tax_rate=self.plan.tax_rate,
            cap_minutes=self.info.max_call_minutes,
        )

    def announcement(self, billing: str) -> str:
        return announcement(
            billing=billing, inmate_name=self.inmate_name, facility_name=self.info.name, language=self.language
        )

    @property
    def hold_expires_at(self) -> datetime.datetime:
        """A hold outlives the longest call it may allow (the facility's cap) by CALL_HOLD_MARGIN,
        and lives at least CALL_HOLD_TTL: it never lapses while its call may still be running."""
        longest = datetime.timedelta(minutes=self.info.max_call_minutes) + settings.CALL_HOLD_MARGIN
        return self.now + max(settings.CALL_HOLD_TTL, longest)


def _allow_free(call: _Call) -> Authorization:
    text = call.announcement(Billing.FREE)
    return Authorization(call.call_id, "allow", None, call.info.max_call_minutes * 60, Billing.FREE, call.rate, text)


def _authorize_on(call: _Call, *, account: CallingAccount, billing: str) -> Authorization:
    """The callee's own account pays (collect or Direct Bill)."""
    reason = _status_reason(account, call.now, free=False)
    if reason:
        return _deny(call.call_id, reason, call.plan.rate_per_minute)
    direct_bill = account.kind == AccountKind.DIRECT_BILL
    stopped = []  # a status change that committed while this call waited for the lock

    def decide(funds: ledger.Funds) -> ledger.HoldTerms | None:
        reason = _status_reason_now(funds, call.now)
        if reason:
            stopped.append(reason)
            return _check_not_completed(call)
        if not direct_bill and funds.balance_cents < 0:
            return _check_not_completed(call)
        terms = _terms(call, billing=billing, minutes=call.minutes_for(funds.available_cents), at_least=1)
        return _check_not_completed(call, terms)

    result = _place(call, account=account, billing=billing, decide=decide)
    if result.response is not None:
        return Authorization(**result.response)
    if stopped:
        reason = stopped[0]
    elif direct_bill:
        reason = DenyReason.CREDIT_LIMIT_REACHED
    elif result.funds is not None and result.funds.balance_cents < 0:
        reason = DenyReason.NEGATIVE_BALANCE
    else:
        reason = DenyReason.INSUFFICIENT_FUNDS
    return _deny(call.call_id, reason, call.plan.rate_per_minute)


def _authorize_by_a_sponsor(call: _Call, sponsorships: list[InmateDebitSponsorship]) -> Authorization | None:
    """Another family's sponsorship, oldest first, if one can pay now at least as long a call as
    the callee's own account could (one minute when it cannot pay). None when every sponsor is
    skipped; then the callee's account is asked as for a collect call."""
    if not sponsorships:
        return None
    reason = _status_reason(call.callee, call.now, free=True)
    if reason:  # a closed or staff-suspended callee takes no calls, whoever pays
        return _deny(call.call_id, reason, call.plan.rate_per_minute)
    callee_minutes = _callee_minutes(call)
    for sponsorship in sponsorships:
        if not payers.sponsor_is_active(sponsorship, call.now):
            continue
        result = _place(
            call,
            account=sponsorship.account,
            billing=Billing.INMATE_DEBIT,
            decide=_sponsor_decision(call, sponsorship, at_least=max(1, callee_minutes)),
        )
        if result.response is not None:
            return Authorization(**result.response)
        _sponsor_skipped(sponsorship, now=call.now)
    return None


def _callee_minutes(call: _Call) -> int:
    """The minutes the callee's own account would allow (a sponsorship must cover at least as many)."""
    if _status_reason(call.callee, call.now, free=False) is not None:
        return 0
    return call.minutes_for(payers.callee_available_cents(account=call.callee, now=call.now))


def _authorize_by_own_sponsorship(call: _Call, sponsorship: InmateDebitSponsorship) -> Authorization | None:
    """The callee's own sponsorship, if its account is active and its monthly cap leaves at least
    the call its account would allow as a collect call; None sends the call on down the payer order
    (other sponsors, then the same account as a collect call). The cap limits inmate-debit billing
    only, never the call."""
    if not payers.sponsor_is_active(sponsorship, call.now):
        return None
    result = _place(
        call,
        account=sponsorship.account,
        billing=Billing.INMATE_DEBIT,
        decide=_sponsor_decision(call, sponsorship, at_least=max(1, _callee_minutes(call))),
    )
    return Authorization(**result.response) if result.response is not None else None


def _status_reason_now(funds: ledger.Funds, now: datetime.datetime) -> str | None:
    """The payer's status as the kernel read it under its ledger-row lock (which every status change
    takes first): a close or suspension that committed while this call waited is seen, never a hold
    placed on a closed or suspended account."""
    status = status_in_force(funds.account["status"], funds.account["activates_at"], now)
    return _standing_reason(status, funds.account["suspension_code"] or "", free=False)


def _sponsor_decision(
    call: _Call, sponsorship: InmateDebitSponsorship, *, at_least: int
) -> Callable[[ledger.Funds], ledger.HoldTerms | None]:
    def decide(funds: ledger.Funds) -> ledger.HoldTerms | None:
        if _status_reason_now(funds, call.now) or not payers.sponsorship_in_force(sponsorship):
            return _check_not_completed(call)
        if funds.balance_cents < 0:
            return _check_not_completed(call)
        minutes = call.minutes_for(funds.available_cents)
        if sponsorship.monthly_cap_cents is not None:
            # Under the sponsor's ledger-row lock, so two calls at once cannot both pass the cap.
            left = sponsorship.monthly_cap_cents - payers.sponsorship_spent_cents(sponsorship=sponsorship, now=call.now)
            minutes = min(minutes, call.minutes_for(left))
        return _check_not_completed(
            call, _terms(call, billing=Billing.INMATE_DEBIT, minutes=minutes, at_least=at_least)
        )

    return decide


def _terms(call: _Call, *, billing: str, minutes: int, at_least: int) -> ledger.HoldTerms | None:
    if minutes < at_least:
        return None
    answer = Authorization(call.call_id, "allow", None, minutes * 60, billing, call.rate, call.announcement(billing))
    cost = price(minutes=minutes, rate_per_minute=call.plan.rate_per_minute, tax_rate=call.plan.tax_rate)
    return ledger.HoldTerms(amount_cents=cost.total_cents, max_seconds=minutes * 60, response=answer.as_dict())


def _place(
    call: _Call,
    *,
    account: CallingAccount,
    billing: str,
    decide: Callable[[ledger.Funds], ledger.HoldTerms | None],
) -> ledger.HoldResult:
    """The kernel decides funds and places the hold under the payer's ledger-row lock: the second
    of two concurrent calls waits there and then sees the first one's hold. A platform retrying an
    authorization gets its first answer, not a second look at funds its hold ties up."""
    return ledger.hold_place(
        account=account,
        call_id=call.call_id,
        on_credit=account.kind == AccountKind.DIRECT_BILL,
        expires_at=call.hold_expires_at,
        decide=decide,
        details={
            "facility_id": call.info.id,
            "inmate_id": call.inmate_id,
            "dialed_number": call.e164,
            "billing": billing,
        },
        now=call.now,
    )


def _sponsor_skipped(sponsorship: InmateDebitSponsorship, *, now: datetime.datetime) -> None:
    """Tell the sponsor, at most once a day, that a call was billed elsewhere for lack of funds."""
    recently = now - settings.SPONSOR_SKIP_NOTICE_EVERY
    claimed = (
        InmateDebitSponsorship.objects.filter(pk=sponsorship.pk)
        .filter(Q(skip_notified_at__isnull=True) | Q(skip_notified_at__lt=recently))
        .update(skip_notified_at=now)
    )
    if claimed:
        account_email_enqueue(
            account_id=sponsorship.account_id,
            template="sponsorship_skipped",
            inmate_name=sponsorship.inmate.full_name,
            sponsorships_url=reverse("calls:sponsorships", args=[sponsorship.account_id]),
        )


# --- complete ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    call_id: str
    billable_minutes: int
    charge_cents: int
    tax_cents: int
    balance_after_cents: int | None
    created: bool = field(default=False, compare=False)  # False when the call was already recorded
    authorized: bool = field(default=False, compare=False)  # an authorization placed a hold for it
    refused_reason: str = ""  # the deny the call connected after, when its latest authorization was one

    @classmethod
    def of(
        cls,
        record: CallRecord | RecordedCall,
        *,
        call_id: str | None = None,
        created: bool = False,
        authorized: bool = False,
    ) -> "Completion":
        """From a CallRecord, or from the record as the call path read it (`selectors.RecordedCall`)."""
        if not call_id:
            assert isinstance(record, CallRecord), "the call path's record comes with its call id"
            call_id = record.call_id
        return cls(
            call_id,
            record.billable_minutes,
            record.charge_cents,
            record.tax_cents,
            record.balance_after_cents,
            created,
            authorized,
            record.refused_reason,
        )

    def as_dict(self) -> dict[str, object]:
        balance = self.balance_after_cents
        return {
            "call_id": self.call_id,
            "billable_minutes": self.billable_minutes,
            "charge": str(to_decimal(self.charge_cents)),
            "tax": str(to_decimal(self.tax_cents)),
            "total": str(to_decimal(self.charge_cents + self.tax_cents)),
            "balance_after": None if balance is None else str(to_decimal(balance)),
            "refused_reason": self.refused_reason or None,
        }


@dataclass(frozen=True)
class _RatedCall:
    info: FacilityInfo
    plan: PlanInfo
    inmate_id: int
    e164: str
    minutes: int
    cost: Price


def _rate_reported_call(
    *,
    info: FacilityInfo | None,
    inmate_id: int | None,
    e164: str,
    started_at: datetime.datetime,
    duration_seconds: int,
    disconnect: str,
    now: datetime.datetime,
) -> _RatedCall:
    """Check and rate a call report: per started minute at the plan in force on the facility's
    local date when the call started. Raises CallInputError."""
    if info is None:
        raise CallInputError("facility", "No facility has this code.", "unknown_facility")
    if started_at > now + CLOCK_SKEW:
        raise CallInputError("started_at", "The call cannot start in the future.", "started_in_future")
    plan = info.plan_at(started_at)
    if plan is None:
        raise CallInputError("started_at", "No rate plan is in force at this facility on that date.", "no_rate_plan")
    # A late record may name an inmate released since: inactive inmates are still charged for.
    if inmate_id is None:
        raise CallInputError("inmate", "No inmate has this number at this facility.", "unknown_inmate")
    minutes = billable_minutes(
        duration_seconds=duration_seconds, disconnect=disconnect, cap_minutes=info.max_call_minutes
    )
    cost = price(minutes=minutes, rate_per_minute=plan.rate_per_minute, tax_rate=plan.tax_rate)
    return _RatedCall(info, plan, inmate_id, e164, minutes, cost)


def call_complete(
    *,
    call_id: str,
    facility_code: str,
    inmate_number: str,
    dialed_number: str,
    started_at: datetime.datetime,
    duration_seconds: int,
    disconnect: str,
    source: str = CallSource.API,
    now: datetime.datetime | None = None,
) -> Completion:
    """Charge a finished call: per started minute at the plan in force on the facility's local date
    when it started, plus tax, posted through the ledger under `call:<call_id>`; release its hold.

    Callers may rely on: the same `call_id` is charged once and answered with the same body, even
    when reported many times at once; a call without a prior authorization is charged to the payer
    the authorization would have found, even into a negative balance; the payer found at
    authorization (its hold) is charged when there was one; a call that costs nothing posts no
    entry. A call whose call id's latest authorization was a deny is recorded with the refusal and
    charged to no one: nothing is posted, its hold (if any) is released, and the payer's balance is
    answered unchanged. Raises CallInputError (and changes nothing) when the call cannot be rated or
    has no payer (a refused call may have none), CallConflict (nothing charged) when the call id was
    used (held, recorded or refused) for another facility, inmate or number.

    The usual call costs seven statements: one read of everything decided on
    (`selectors.complete_facts_get`), the kernel's post (balance update that is also the lock, entry,
    postings), then the call record, the call id's lock and the release of the call's hold, sent
    together."""
    now = now or timezone.now()
    e164 = normalize_number(dialed_number)
    info = facility_info_get(code=facility_code)
    facility_id = info.id if info else None
    facts = complete_facts_get(call_id=call_id, facility_id=facility_id, inmate_number=inmate_number)
    _check_same_as_earlier(facts, facility_id=facility_id, e164=e164, parties=(facility_code, inmate_number))
    if facts.record is not None:
        return Completion.of(facts.record, call_id=call_id, authorized=facts.hold is not None)
    call = _rate_reported_call(
        info=info,
        inmate_id=facts.inmate_id,
        e164=e164,
        started_at=started_at,
        duration_seconds=duration_seconds,
        disconnect=disconnect,
        now=now,
    )
    refusal = _refusal_of(facts.refusal, facility_code=facility_code, inmate_number=inmate_number, e164=e164)
    hold = facts.hold
    billing: str | None
    if hold is not None:
        account, billing = hold.account, hold.billing
    else:
        account, billing = payers.payer_at(inmate_id=call.inmate_id, e164=call.e164, started_at=started_at)
    if facts.single_call_id is not None and hold is None and refusal is None:
        return _single_call_complete(
            facts.single_call_id,
            call=call,
            started_at=started_at,
            duration_seconds=duration_seconds,
            disconnect=disconnect,
            source=source,
            now=now,
        )
    if call.plan.is_free:
        billing = Billing.FREE
    elif account is None and refusal is None:
        raise CallInputError(
            "dialed_number", "No FamilyLine account has this number registered; the call has no payer.", "no_payer"
        )
    if refusal is not None:
        call = replace(call, cost=Price(0, 0))
    fields = {
        "call_id": call_id,
        "account_id": account.pk if account is not None else None,
        "facility_id": call.info.id,
        "inmate_id": call.inmate_id,
        "dialed_number": call.e164,
        "started_at": started_at,
        "duration_seconds": duration_seconds,
        "disconnect": disconnect,
        # A refused call to a number no account held has no payer: it is recorded as a collect call.
        "billing": billing or Billing.COLLECT,
        "rate_plan_id": call.plan.id,
        "rate_per_minute": call.plan.rate_per_minute,
        "tax_rate": call.plan.tax_rate,
        "billable_minutes": call.minutes,
        "charge_cents": call.cost.charge_cents,
        "tax_cents": call.cost.tax_cents,
        "source": source,
        "completed_at": now,
        "refused_reason": refusal.reason if refusal is not None else "",
    }
    ledgers = None
    if call.cost.total_cents:
        # Read (or, the first time, created) before the charge's transaction begins.
        system = facts.system_ledgers or ledger.system_accounts(SystemAccount.CALL_REVENUE, SystemAccount.TAX_PAYABLE)
        assert account is not None, "a charged call has its payer (checked above)"
        ledgers = (ledger.account_ledger(account), *system)
    with transaction.atomic():
        if ledgers is not None:
            assert account is not None, "a charged call has its payer (checked above)"
            completion = _record_charged_call(fields=fields, ledgers=ledgers, account=account, call=call, now=now)
        else:
            completion = _record_uncharged_call(fields=fields, account=account)
            with pipelined():
                _call_hold_release(call_id, now)
    return replace(completion, authorized=hold is not None)


def _check_same_as_earlier(
    facts: CompleteFacts, *, facility_id: int | None, e164: str, parties: tuple[str, str]
) -> None:
    for earlier in (facts.record, facts.hold):
        if earlier is not None:
            _check_same_call(earlier, facility_id=facility_id, inmate_id=facts.inmate_id, e164=e164, parties=parties)


def _single_call_complete(
    single_call_id: int,
    *,
    call: _RatedCall,
    started_at: datetime.datetime,
    duration_seconds: int,
    disconnect: str,
    source: str,
    now: datetime.datetime,
) -> Completion:
    """A single call whose paid call was allowed: the real minutes charged from what was paid, the
    rest refunded to the card (`single_calls.single_call_charge`)."""
    offer = SingleCall.objects.get(pk=single_call_id)
    other = single_calls.differs(offer, facility_id=call.info.id, inmate_id=call.inmate_id, e164=call.e164)
    if other:
        raise CallConflict(other)
    fields = {
        "call_id": offer.call_id,
        "facility_id": call.info.id,
        "inmate_id": call.inmate_id,
        "dialed_number": call.e164,
        "started_at": started_at,
        "duration_seconds": duration_seconds,
        "disconnect": disconnect,
        "source": source,
    }
    record, created = single_calls.single_call_charge(offer=offer, fields=fields, minutes=call.minutes, now=now)
    return Completion.of(record, created=created, authorized=True)


def _refusal_of(refusal: Refusal | None, *, facility_code: str, inmate_number: str, e164: str) -> Refusal | None:
    """The deny that governs this reported call: the call id's latest decision, when it was a deny.
    Raises CallConflict (nothing charged) when that deny was given for another facility, inmate or
    number: the call id names the refused call, as it would name an allowed one."""
    if refusal is None:
        return None
    differs = refusal.differs(facility_code=facility_code, inmate_number=inmate_number, e164=e164)
    if differs:
        raise CallConflict(differs)
    return refusal


def _call_hold_release(call_id: str, now: datetime.datetime) -> None:
    """Release the call's hold, whichever it is, under the call id's lock (`selectors.call_id_lock`),
    whether or not the facts showed one: an authorization of this call placing its hold right now
    commits first and its hold is released here, or it waits, finds this call's record and places
    none (`_check_not_completed`). Two plain statements whose answers are not read."""
    call_id_lock(call_id)
    ledger.hold_release(call_id=call_id, now=now)


def _record_charged_call(
    *,
    fields: dict[str, Any],
    ledgers: tuple[LedgerAccount, ...],
    account: CallingAccount,
    call: _RatedCall,
    now: datetime.datetime,
) -> Completion:
    """Post the charge (the kernel locks the payer's ledger row first), then record the call and
    release its hold. The entry's key `call:<call_id>` decides a race between two reports of one
    call. `ledgers`: the payer's, call revenue's and tax payable's ledger accounts."""
    account_ledger, revenue, tax = ledgers
    lines = [(account_ledger, -call.cost.total_cents), (revenue, call.cost.charge_cents)]
    if call.cost.tax_cents:
        lines.append((tax, call.cost.tax_cents))
    posted = ledger.post(
        idempotency_key=f"call:{fields['call_id']}",
        kind=EntryKind.CALL,
        lines=lines,
        memo=f"Call {fields['call_id']}: {call.minutes} min from {call.info.code}",
    )
    if not posted.created:
        # Another report of this call won the race and committed its record with its entry. It may
        # have read its facts before the authorization's hold existed: release the hold here too.
        winner = CallRecord.objects.filter(call_id=fields["call_id"]).first()
        if winner is not None:
            with pipelined():
                _call_hold_release(fields["call_id"], now)
            return Completion.of(winner)
    # This transaction created the entry `call:<call_id>`, so no other can hold this call id: a
    # plain insert (a record already there is an IntegrityError that undoes the charge).
    balance = posted.balances[account_ledger.pk]
    alerts.balance_charged(account=account, balance_after_cents=balance, charged_cents=call.cost.total_cents)
    closed_charges.account_charged(
        account=account,
        balance_after_cents=balance,
        charged_cents=call.cost.total_cents,
        cause=f"call:{fields['call_id']}",
    )
    values = {**fields, "entry_id": posted.entry.pk, "balance_after_cents": balance}
    with pipelined():  # one round trip for the three; no answer is read
        row_insert(CallRecord, values, as_is=_AS_IS, returning=False)
        _call_hold_release(fields["call_id"], now)
    return _completion(fields, balance)


def _record_uncharged_call(*, fields: dict[str, Any], account: CallingAccount | None) -> Completion:
    balance = ledger.balance_get(account=account) if account is not None else None
    values = {**fields, "balance_after_cents": balance}
    if row_insert(CallRecord, values, as_is=_AS_IS, on_conflict_skip="call_id") is None:
        # A call that costs nothing reported twice at once: the unique call_id decided the winner.
        return Completion.of(CallRecord.objects.get(call_id=fields["call_id"]))
    return _completion(fields, balance)


# The record's number is E.164 text already (checked by normalize_number): stored without a parse.
_AS_IS = frozenset({"dialed_number"})


def _completion(fields: dict[str, Any], balance_after_cents: int | None) -> Completion:
    return Completion(
        fields["call_id"],
        fields["billable_minutes"],
        fields["charge_cents"],
        fields["tax_cents"],
        balance_after_cents,
        created=True,
        refused_reason=fields["refused_reason"],
    )


def call_holds_expire(*, now: datetime.datetime | None = None) -> int:
    """Release the holds of calls authorized but never completed. Returns how many were released."""
    return ledger.holds_expire(now=now)


# --- inmate debit --------------------------------------------------------------------------------


def sponsorship_start(
    *,
    account: CallingAccount,
    facility: Facility,
    inmate_number: str,
    actor: User,
    confirmed: bool,
    monthly_cap_cents: int | None = None,
) -> InmateDebitSponsorship:
    """Start paying for an inmate's calls from an active, funded AdvanceConnect account, once the
    holder has confirmed the inmate's name FamilyLine showed (`confirmed`). Several families may
    sponsor one inmate; starting again an active sponsorship returns it. The sponsor is emailed
    after commit. Raises SponsorshipError with a message fit to show; nothing is started then."""
    if account.kind != AccountKind.ADVANCE_CONNECT:
        raise SponsorshipError(gettext("Only an AdvanceConnect (prepaid) account can pay for an inmate's calls."))
    inmate = Inmate.objects.filter(facility=facility, inmate_number=inmate_number.strip(), is_active=True).first()
    if inmate is None:
        raise SponsorshipError(
            gettext("No inmate with number %(number)s is at %(facility)s.")
            % {"number": inmate_number.strip(), "facility": facility.name}
        )
    if not confirmed:
        raise SponsorshipError(
            gettext("Please confirm that %(name)s at %(facility)s is the person whose calls you will pay for.")
            % {"name": inmate.full_name, "facility": facility.name}
        )
    _check_cap(monthly_cap_cents)
    with transaction.atomic():
        # Lock order step 1: a close of this account either finished (we see it closed) or waits,
        # and the balance it is funded with is the one in force.
        balance = ledger.balance_lock(account=account)
        account = CallingAccount.objects.get(pk=account.pk)
        _check_can_sponsor(account, balance=balance)
        same = InmateDebitSponsorship.objects.filter(inmate=inmate, account=account, ended_at__isnull=True).first()
        if same is not None:
            return same
        sponsorship = InmateDebitSponsorship.objects.create(
            inmate=inmate, account=account, started_by=actor, monthly_cap_cents=monthly_cap_cents
        )
        account_email_enqueue(
            account_id=account.pk,
            template="sponsorship_started",
            inmate_name=inmate.full_name,
            facility_name=facility.name,
            sponsorships_url=reverse("calls:sponsorships", args=[account.pk]),
        )
    return sponsorship


def _check_can_sponsor(account: CallingAccount, *, balance: int) -> None:
    status = account.status_at(timezone.now())
    if status == AccountStatus.CLOSED:
        raise SponsorshipError(gettext("This account is closed."))
    if status != AccountStatus.ACTIVE:
        raise SponsorshipError(
            gettext("This account is not active yet. You can pay for an inmate's calls once it is funded and active.")
        )
    if balance <= 0:
        raise SponsorshipError(gettext("Add money to this account first: the inmate's calls are paid from it."))


def _check_cap(monthly_cap_cents: int | None) -> None:
    if monthly_cap_cents is not None and monthly_cap_cents <= 0:
        raise SponsorshipError(gettext("A monthly limit is more than $0.00, or leave it empty for no limit."))


def sponsorship_cap_set(
    *, sponsorship: InmateDebitSponsorship, monthly_cap_cents: int | None
) -> InmateDebitSponsorship:
    """Set or clear (None) the sponsor's monthly limit; it applies to the next call."""
    _check_cap(monthly_cap_cents)
    InmateDebitSponsorship.objects.filter(pk=sponsorship.pk).update(monthly_cap_cents=monthly_cap_cents)
    sponsorship.refresh_from_db()
    return sponsorship


def sponsorship_end(*, sponsorship: InmateDebitSponsorship, actor: User) -> InmateDebitSponsorship:
    """Stop paying for an inmate's calls. Ending an ended sponsorship changes nothing."""
    with transaction.atomic():
        InmateDebitSponsorship.objects.filter(pk=sponsorship.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(), ended_by=actor
        )
    sponsorship.refresh_from_db()
    return sponsorship


# --- staff: blocked numbers, platform tokens, facilities -----------------------------------------


def number_block(*, number: str, facility: Facility | None, reason: str, actor: User | None) -> BlockedNumber:
    """Stop inmates (at one facility, or everywhere) from calling a number."""
    try:
        e164 = normalize_number(number)
    except CallInputError as exc:
        raise BlockError(exc.message) from None
    if not reason.strip():
        raise BlockError("Say why the number is blocked.")
    try:
        with transaction.atomic():
            return BlockedNumber.objects.create(number=e164, facility=facility, reason=reason.strip(), created_by=actor)
    except IntegrityError:
        raise BlockError("This number is already blocked there.") from None


def number_unblock(*, block: BlockedNumber) -> None:
    """Lift a staff block (a block the number's owner placed is theirs to lift)."""
    BlockedNumber.objects.filter(pk=block.pk, source=BlockSource.STAFF, lifted_at__isnull=True).update(
        lifted_at=timezone.now()
    )


@transaction.atomic
def platform_token_create(
    *, name: str, actor: User | None, facilities: Iterable[Facility] = ()
) -> tuple[PlatformToken, str]:
    """A new bearer token, limited to `facilities` when some are given. The raw token is returned once
    and never stored."""
    raw = "flp_" + secrets.token_urlsafe(32)
    token = PlatformToken.objects.create(name=name, token_prefix=raw[:10], token_hash=token_hash(raw), created_by=actor)
    if facilities:
        token.facilities.set(facilities)
    return token, raw


def platform_token_revoke(*, token: PlatformToken) -> None:
    PlatformToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def facility_changed(*, facility: Facility, previous_code: str | None = None) -> None:
    """Staff changed a facility or its rate plans: the call path must see it at once."""
    facility_cache_clear(codes=[c for c in {facility.code, previous_code} if c])
