"""Authorizing a call: whether it may connect, for how long, and the hold on its payer's account,
decided under that account's ledger-row lock (the real-time path)."""

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.emails import account_email_enqueue
from accounts.models import AccountKind, AccountStatus, CallingAccount, LineType, SuspensionCode, status_in_force
from billing.ledger import kernel as ledger

from .. import payers, single_calls
from ..announcements import announcement
from ..models import Billing, CallDecision, InmateDebitSponsorship
from ..rating import format_rate, minutes_covered, price
from ..selectors import (
    AuthorizeFacts,
    FacilityInfo,
    PlanInfo,
    RecordedCall,
    authorize_facts_get,
    call_record_locked_get,
    facility_info_get,
)
from .charging import check_same_call
from .errors import CallConflict, DenyReason, normalize_number


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
            check_same_call(
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


# The decision's columns, as `_decision_send` passes them (every column of the model but its id).
DECISION_COLUMNS = ("call_id", "decision", "reason", "facility_code", "inmate_number", "dialed_number", "decided_at")


@functools.cache
def _decision_upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(CallDecision._meta.db_table)
    columns = DECISION_COLUMNS
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
    """Who pays, in the payer order (docs/calls.md, "Authorize, in order"), and the hold on that payer's account."""
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
        check_same_call(
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
    for; one that comes later finds this hold and releases it (`complete._call_hold_release`).

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


def call_holds_expire(*, now: datetime.datetime | None = None) -> int:
    """Release the holds of calls authorized but never completed. Returns how many were released."""
    return ledger.holds_expire(now=now)
