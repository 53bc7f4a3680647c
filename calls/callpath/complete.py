"""Completing a call reported by the platform API: one call at a time, charged by the rules of
`charging`, in a handful of statements (the real-time path)."""

import datetime
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import alerts, closed_charges
from accounts.models import CallingAccount
from billing.ledger import kernel as ledger
from billing.ledger.models import LedgerAccount, SystemAccount
from billing.ledger.money import to_decimal
from billing.ledger.rows import pipelined, row_insert

from .. import payers
from ..models import CallRecord, CallSource, SingleCall
from ..selectors import CompleteFacts, RecordedCall, call_id_lock, complete_facts_get, facility_info_get
from .charging import (
    Charge,
    FinishedCall,
    RatedCall,
    call_rate,
    charge_decide,
    check_same_call,
    entry_spec,
    record_values,
    refusal_for,
    single_call_charge,
)
from .errors import normalize_number


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
    call = FinishedCall(call_id, facility_code, inmate_number, e164, started_at, duration_seconds, disconnect, source)
    rated = call_rate(call=call, info=info, inmate_id=facts.inmate_id, now=now)
    refusal = refusal_for(facts.refusal, call=call)
    hold = facts.hold
    payer: tuple[CallingAccount | None, str | None]
    if hold is not None:
        payer = (hold.account, hold.billing)
    else:
        payer = payers.payer_at(inmate_id=rated.inmate_id, e164=e164, started_at=started_at)
    if facts.single_call_id is not None and hold is None and refusal is None:
        offer = SingleCall.objects.get(pk=facts.single_call_id)
        record, created = single_call_charge(offer=offer, call=call, rated=rated, now=now)
        return Completion.of(record, created=created, authorized=True)
    charge = charge_decide(rated=rated, payer=payer, refusal=refusal)
    ledgers = None
    if charge.cost.total_cents:
        # Read (or, the first time, created) before the charge's transaction begins.
        revenue, tax = facts.system_ledgers or ledger.system_accounts(
            SystemAccount.CALL_REVENUE, SystemAccount.TAX_PAYABLE
        )
        assert charge.account is not None, "a charged call has its payer (charge_decide)"
        ledgers = (ledger.account_ledger(charge.account), revenue, tax)
    with transaction.atomic():
        if ledgers is not None:
            completion = _record_charged_call(call=call, rated=rated, charge=charge, ledgers=ledgers, now=now)
        else:
            completion = _record_uncharged_call(call=call, rated=rated, charge=charge, now=now)
            with pipelined():
                _call_hold_release(call_id, now)
    return replace(completion, authorized=hold is not None)


def _check_same_as_earlier(
    facts: CompleteFacts, *, facility_id: int | None, e164: str, parties: tuple[str, str]
) -> None:
    for earlier in (facts.record, facts.hold):
        if earlier is not None:
            check_same_call(earlier, facility_id=facility_id, inmate_id=facts.inmate_id, e164=e164, parties=parties)


def _call_hold_release(call_id: str, now: datetime.datetime) -> None:
    """Release the call's hold, whichever it is, under the call id's lock (`selectors.call_id_lock`),
    whether or not the facts showed one: an authorization of this call placing its hold right now
    commits first and its hold is released here, or it waits, finds this call's record and places
    none (`_check_not_completed`). Two plain statements whose answers are not read."""
    call_id_lock(call_id)
    ledger.hold_release(call_id=call_id, now=now)


def _record_charged_call(
    *,
    call: FinishedCall,
    rated: RatedCall,
    charge: Charge,
    ledgers: tuple[LedgerAccount, LedgerAccount, LedgerAccount],
    now: datetime.datetime,
) -> Completion:
    """Post the charge (the kernel locks the payer's ledger row first), then record the call and
    release its hold. The entry's key `call:<call_id>` decides a race between two reports of one
    call. `ledgers`: the payer's, call revenue's and tax payable's ledger accounts."""
    spec = entry_spec(call=call, rated=rated, charge=charge, ledgers=ledgers)
    posted = ledger.post(idempotency_key=spec.idempotency_key, kind=spec.kind, lines=spec.lines, memo=spec.memo)
    if not posted.created:
        # Another report of this call won the race and committed its record with its entry. It may
        # have read its facts before the authorization's hold existed: release the hold here too.
        winner = CallRecord.objects.filter(call_id=call.call_id).first()
        if winner is not None:
            with pipelined():
                _call_hold_release(call.call_id, now)
            return Completion.of(winner)
    # This transaction created the entry `call:<call_id>`, so no other can hold this call id: a
    # plain insert (a record already there is an IntegrityError that undoes the charge).
    balance = posted.balances[ledgers[0].pk]
    total = charge.cost.total_cents
    account = charge.account
    assert account is not None, "a charged call has its payer (charge_decide)"
    alerts.balance_charged(account=account, balance_after_cents=balance, charged_cents=total)
    closed_charges.account_charged(
        account=account, balance_after_cents=balance, charged_cents=total, cause=spec.idempotency_key
    )
    values = record_values(
        call=call, rated=rated, charge=charge, balance_after_cents=balance, entry_id=posted.entry.pk, now=now
    )
    with pipelined():  # one round trip for the three; no answer is read
        row_insert(CallRecord, values, as_is=_AS_IS, returning=False)
        _call_hold_release(call.call_id, now)
    return _completion(values)


def _record_uncharged_call(
    *, call: FinishedCall, rated: RatedCall, charge: Charge, now: datetime.datetime
) -> Completion:
    account = charge.account
    balance = ledger.balance_get(account=account) if account is not None else None
    values = record_values(call=call, rated=rated, charge=charge, balance_after_cents=balance, entry_id=None, now=now)
    if row_insert(CallRecord, values, as_is=_AS_IS, on_conflict_skip="call_id") is None:
        # A call that costs nothing reported twice at once: the unique call_id decided the winner.
        return Completion.of(CallRecord.objects.get(call_id=call.call_id))
    return _completion(values)


# The record's number is E.164 text already (checked by normalize_number): stored without a parse.
_AS_IS = frozenset({"dialed_number"})


def _completion(values: dict[str, Any]) -> Completion:
    return Completion(
        values["call_id"],
        values["billable_minutes"],
        values["charge_cents"],
        values["tax_cents"],
        values["balance_after_cents"],
        created=True,
        refused_reason=values["refused_reason"],
    )
