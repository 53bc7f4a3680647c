"""Call records a platform sends in bulk (CSV): the same rules and idempotency as the API, set-based.

Each row is charged by the rules of `charging`, as `complete` charges one call: rated per started
minute at the plan in force when it started, charged to the payer of its hold or the payer in force
then, into a negative balance if need be; a call whose call id's latest authorization was a deny is
recorded with the refusal and charged to no one (rejected when the deny named another call); a
single call is charged from what was paid and the rest refunded (one call at a time: such calls are
few). Only the reading of facts and the writes are done for a batch at once.

Rows are read in batches of BATCH_ROWS. Each batch costs a fixed handful of statements, whatever its
size: the calls already recorded, the inmates, the holds of authorized calls, the payers of the
others (numbers and sponsorships at `started_at`), then one ledger batch (`ledger.post_batch`: one
entry per call, `call:<call_id>`), the call records and the holds' release, in one transaction per
batch."""

import csv
import datetime
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.closed_charges import accounts_charged
from accounts.models import CallingAccount
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold, SystemAccount

from .. import payers
from ..models import CallRecord, CallSource, Facility, Inmate, SingleCall, SingleCallStatus
from ..selectors import Refusal, call_ids_lock, facility_info_get, refusals_get
from . import fields
from .charging import (
    Charge,
    FinishedCall,
    RatedCall,
    call_rate,
    charge_decide,
    entry_spec,
    record_values,
    refusal_for,
    single_call_charge,
)
from .errors import CallConflict, CallInputError

COLUMNS = ["call_id", "facility", "inmate", "dialed_number", "started_at", "duration_seconds", "disconnect"]
BATCH_ROWS = 1000
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


class ImportFileError(Exception):
    """A file that cannot be read as call records at all (the message says why)."""


@dataclass
class ImportSummary:
    posted: int = 0
    duplicate: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def rows(self) -> int:
        return self.posted + self.duplicate + len(self.rejected)


@dataclass
class _Row:
    line: int
    call_id: str
    facility_code: str
    inmate_number: str
    e164: str
    started_at: datetime.datetime
    duration_seconds: int
    disconnect: str
    facility_id: int | None = None
    inmate_id: int | None = None
    refusal: Refusal | None = None  # the deny this call connected after, if its latest authorization was one

    @functools.cached_property
    def call(self) -> FinishedCall:
        return FinishedCall(
            self.call_id, self.facility_code, self.inmate_number, self.e164, self.started_at,
            self.duration_seconds, self.disconnect, CallSource.IMPORT,
        )  # fmt: skip


# A call rated from its row: (row, its hold, the call rated); then the row, the call rated and its charge.
_Rated = tuple[_Row, Hold | None, RatedCall]
_Charged = tuple[_Row, RatedCall, Charge]


def _reason(errors: Mapping[str, Iterable[object]]) -> str:
    return "; ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in errors.items())


def call_records_import(
    *, lines: Iterable[str], progress: Callable[[ImportSummary], None] | None = None
) -> ImportSummary:
    """Charge every row of a CSV of finished calls. A bad row is rejected with its reason and never
    stops the rest; a call id already recorded (by the API, an earlier import or an earlier row)
    counts as a duplicate, or is rejected when it names another facility, inmate or number.
    `progress` is told the running summary after each batch."""
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c != "disconnect" and c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFileError(f"The header lacks the column(s): {', '.join(missing)}.")
    summary = ImportSummary()
    seen: dict[str, tuple[str, str, str]] = {}  # call id -> (facility, inmate, number) of its first row in the file
    batch: list[_Row] = []
    for row in reader:
        valid = _valid_row(reader.line_num, row, summary)
        if valid is not None and _first_in_file(valid, seen, summary):
            batch.append(valid)
        if len(batch) >= BATCH_ROWS:
            _import_batch(batch, summary)
            batch = []
            if progress:
                progress(summary)
    if batch:
        _import_batch(batch, summary)
    if progress:
        progress(summary)
    return summary


def _valid_row(line: int, row: Mapping[str | Any, str | Any], summary: ImportSummary) -> _Row | None:
    data = {name: (row.get(name) or "").strip() for name in COLUMNS}
    data["disconnect"] = data["disconnect"] or "normal"
    # CSV is text: a duration written as an integer is one (the API takes JSON integers only).
    if INTEGER_TEXT.fullmatch(data["duration_seconds"]):
        data["duration_seconds"] = int(data["duration_seconds"])
    try:
        v = fields.complete_request(data)
    except fields.RequestInvalid as exc:
        summary.rejected.append((line, _reason(exc.errors)))
        return None
    return _Row(
        line, v["call_id"], v["facility_code"], v["inmate_number"], v["dialed_number"], v["started_at"],
        v["duration_seconds"], v["disconnect"],
    )  # fmt: skip


def _first_in_file(row: _Row, seen: dict[str, tuple[str, str, str]], summary: ImportSummary) -> bool:
    key = (row.facility_code, row.inmate_number, row.e164)
    earlier = seen.setdefault(row.call_id, key)
    if earlier is key:
        return True
    if earlier == key:
        summary.duplicate += 1
    else:
        summary.rejected.append((row.line, "call_id: This call_id was already used for another call."))
    return False


def _conflict(row: _Row, facility_id: int | None, inmate_id: int | None, dialed_number: object) -> str | None:
    for name, mine, theirs in (
        ("facility", row.facility_id, facility_id),
        ("inmate", row.inmate_id, inmate_id),
        ("dialed_number", row.e164, str(dialed_number)),
    ):
        if mine != theirs:
            return f"call_id: This call_id was already used for a call with another {name}."
    return None


def _import_batch(rows: list[_Row], summary: ImportSummary) -> None:
    now = timezone.now()
    infos = {code: facility_info_get(code=code) for code in {r.facility_code for r in rows}}
    # A facility closed since is still the one a repeated call id names (it is not charged again);
    # only its new calls are refused, by `call_rate`.
    closed = [code for code, info in infos.items() if info is None]
    closed_ids = dict(Facility.objects.filter(code__in=closed).values_list("code", "id")) if closed else {}
    for row in rows:
        info = infos[row.facility_code]
        row.facility_id = info.id if info else closed_ids.get(row.facility_code)
    inmates = {
        (i.facility_id, i.inmate_number): i.id
        for i in Inmate.objects.filter(
            facility_id__in={r.facility_id for r in rows if r.facility_id},
            inmate_number__in={r.inmate_number for r in rows},
        ).only("id", "facility_id", "inmate_number")
    }
    for row in rows:
        row.inmate_id = inmates.get((row.facility_id, row.inmate_number)) if row.facility_id is not None else None
    call_ids = [r.call_id for r in rows]
    recorded = {
        c: (f, i, n)
        for c, f, i, n in CallRecord.objects.filter(call_id__in=call_ids).values_list(
            "call_id", "facility_id", "inmate_id", "dialed_number"
        )
    }
    holds = {h.call_id: h for h in Hold.objects.filter(call_id__in=call_ids).select_related("account")}
    refusals = refusals_get(call_ids=call_ids)
    paid_single = _single_calls_allowed(call_ids)
    charges: list[_Rated] = []
    for row in rows:
        earlier = recorded.get(row.call_id)
        hold = holds.get(row.call_id)
        single = paid_single.get(row.call_id) if hold is None and earlier is None else None
        conflict = _row_conflict(row, earlier, hold, single)
        if conflict:
            summary.rejected.append((row.line, conflict))
        elif earlier:
            summary.duplicate += 1
        else:
            try:
                rated = call_rate(call=row.call, info=infos[row.facility_code], inmate_id=row.inmate_id, now=now)
                row.refusal = refusal_for(refusals.get(row.call_id), call=row.call)
            except (CallInputError, CallConflict) as exc:
                summary.rejected.append((row.line, _refused(exc)))
                continue
            if row.refusal is None and single is not None:
                _charge_single_call(row, single, rated=rated, summary=summary, now=now)
                continue
            charges.append((row, hold, rated))
    _charge(charges, summary, now)


def _row_conflict(
    row: _Row, earlier: tuple[int, int, object] | None, hold: Hold | None, single: SingleCall | None
) -> str | None:
    """How the row differs from the call its call id already names (its record, else its hold or
    its single call), if it does."""
    if earlier:
        return _conflict(row, *earlier)
    for known in (hold, single):
        if known is not None:
            return _conflict(row, known.facility_id, known.inmate_id, known.dialed_number)
    return None


def _single_calls_allowed(call_ids: list[str]) -> dict[str, SingleCall]:
    """The single calls among these call ids whose paid call was allowed (or refunded since)."""
    allowed = (SingleCallStatus.AUTHORIZED, SingleCallStatus.COMPLETED, SingleCallStatus.REFUNDED)
    return {s.call_id: s for s in SingleCall.objects.filter(call_id__in=call_ids, status__in=allowed)}


def _refused(exc: CallInputError | CallConflict) -> str:
    """A row's reason for rejection, as the API would answer it: the field at fault, then why."""
    return f"{exc.field if isinstance(exc, CallInputError) else 'call_id'}: {exc.message}"


def _charge_single_call(
    row: _Row, single: SingleCall, *, rated: RatedCall, summary: ImportSummary, now: datetime.datetime
) -> None:
    _, created = single_call_charge(offer=single, call=row.call, rated=rated, now=now)
    if created:
        summary.posted += 1
    else:
        summary.duplicate += 1


def _with_payers(charges: list[_Rated], summary: ImportSummary) -> list[_Charged]:
    """Each call with its charge: its hold's payer, else the one in force when it started."""
    unheld = [(rated.inmate_id, row.e164, row.started_at) for row, hold, rated in charges if hold is None]
    found = iter(payers.payers_at(calls=unheld))
    calls: list[_Charged] = []
    for row, hold, rated in charges:
        payer: tuple[CallingAccount | None, str | None] = (
            (hold.account, hold.billing) if hold is not None else next(found)
        )
        try:
            charge = charge_decide(rated=rated, payer=payer, refusal=row.refusal)
        except CallInputError as exc:
            summary.rejected.append((row.line, _refused(exc)))
            continue
        calls.append((row, rated, charge))
    ledger.account_ledgers_attach(charge.account for _, _, charge in calls if charge.account is not None)
    return calls


def _entries(calls: list[_Charged]) -> list[ledger.EntrySpec]:
    """One entry per charged call, keyed `call:<call_id>`."""
    revenue, tax = ledger.system_accounts(SystemAccount.CALL_REVENUE, SystemAccount.TAX_PAYABLE)
    specs = []
    for row, rated, charge in calls:
        if charge.cost.total_cents:
            assert charge.account is not None, "a charged call has its payer (charge_decide)"
            ledgers = (ledger.account_ledger(charge.account), revenue, tax)
            specs.append(entry_spec(call=row.call, rated=rated, charge=charge, ledgers=ledgers))
    return specs


def _record(
    row: _Row,
    rated: RatedCall,
    charge: Charge,
    *,
    balance: int | None,
    entry_id: int | None,
    now: datetime.datetime,
) -> CallRecord:
    record = CallRecord(
        **record_values(
            call=row.call, rated=rated, charge=charge, balance_after_cents=balance, entry_id=entry_id, now=now
        )
    )
    record.account = charge.account  # known already: no query when the charge is reported to accounts
    return record


def _charge(charges: list[_Rated], summary: ImportSummary, now: datetime.datetime) -> None:
    calls = _with_payers(charges, summary)
    if not calls:
        return
    specs = _entries(calls)
    free_ledgers = [
        ledger.account_ledger(c.account) for _, _, c in calls if c.account is not None and not c.cost.total_cents
    ]
    with transaction.atomic():
        posted = ledger.post_batch(entries=specs, also_lock=free_ledgers)
        after = {spec.idempotency_key: b for spec, b in zip(specs, posted.balance_after, strict=True)}
        records = []
        for row, rated, charge in calls:
            key = f"call:{row.call_id}"
            if charge.cost.total_cents and key not in posted.entry_ids:
                summary.duplicate += 1  # another report of this call was posted first
                continue
            balance = after.get(key)
            if balance is None and charge.account is not None:
                balance = posted.balances.get(ledger.account_ledger(charge.account).pk)
            entry_id = posted.entry_ids.get(key)
            records.append(_record(row, rated, charge, balance=balance, entry_id=entry_id, now=now))
        # A charged call's record cannot collide: its entry `call:<id>` was created here. A free one
        # reported by the API at this very moment may: the first record stands.
        CallRecord.objects.bulk_create([r for r in records if r.entry_id], batch_size=1000)
        accounts_charged(charges=list(_charged(records)))
        CallRecord.objects.bulk_create([r for r in records if not r.entry_id], batch_size=1000, ignore_conflicts=True)
        # Every imported call's hold, whether or not one was found before the charge, under the call
        # ids' locks: an authorization of one of these calls placing its hold meanwhile is seen.
        done = [r.call_id for r in records]
        call_ids_lock(done)
        ledger.holds_release(call_ids=done, now=now)
    summary.posted += len(records)


def _charged(records: Iterable[CallRecord]) -> Iterator[tuple[CallingAccount, int, int, str]]:
    """(account, balance after, charged cents, cause) of each charged record."""
    for r in records:
        if r.entry_id:
            assert r.account is not None and r.balance_after_cents is not None, "a charged call has its payer"
            yield r.account, r.balance_after_cents, r.charge_cents + r.tax_cents, f"call:{r.call_id}"
