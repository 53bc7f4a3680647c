import datetime
import hashlib
import json
import time
from collections import namedtuple
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, Model, QuerySet

from accounts.models import CallingAccount, PhoneNumber, User
from accounts.selectors import number_view_for_holder
from billing.ledger.models import Hold, LedgerAccount, SystemAccount
from billing.ledger.rows import pipelined

from .models import (
    BlockedNumber,
    CallDecision,
    CallRecord,
    Facility,
    Inmate,
    InmateDebitSponsorship,
    PlatformToken,
    RatePlan,
    SingleCall,
    SingleCallStatus,
)
from .rating import local_date

_clock = time.monotonic


@dataclass(frozen=True)
class PlanInfo:
    id: int
    effective_from_date: datetime.date
    effective_to_date: datetime.date | None
    rate_per_minute: Decimal
    tax_rate: Decimal

    @property
    def is_free(self) -> bool:
        return self.rate_per_minute == 0


@dataclass(frozen=True)
class FacilityInfo:
    """What the call path needs to know about a facility, cheap to cache."""

    id: int
    code: str
    name: str
    time_zone: str
    cell_phones_allowed: bool
    max_call_minutes: int
    plans: tuple[PlanInfo, ...]

    def plan_at(self, moment: datetime.datetime) -> PlanInfo | None:
        """The plan in force on the facility's local date of `moment`."""
        day = local_date(moment, self.time_zone)
        for plan in self.plans:  # newest first
            if plan.effective_from_date <= day and (plan.effective_to_date is None or day <= plan.effective_to_date):
                return plan
        return None


# Facilities by code, reused in this process for FACILITY_CACHE_SECONDS: the call path reads no
# facility or rate plan from the database (nor from Redis) while an entry is fresh. A staff edit clears
# the entry of the process that made it at once (`facility_cache_clear`); other processes see it within
# FACILITY_CACHE_SECONDS.
_facility_cache: dict[str, tuple[float, FacilityInfo | None]] = {}


def facility_info_get(*, code: str) -> FacilityInfo | None:
    """An active facility by its platform code with its rate plans, newest first. None when there is
    no such active facility."""
    ttl = settings.FACILITY_CACHE_SECONDS
    now = _clock()
    cached = _facility_cache.get(code)
    if cached is not None and cached[0] > now:
        return cached[1]
    info = _facility_info_load(code)
    if ttl > 0:
        if len(_facility_cache) > 10_000:  # unknown codes are kept too (a platform retrying one)
            _facility_cache.clear()
        _facility_cache[code] = (now + ttl, info)
    return info


def _facility_info_load(code: str) -> FacilityInfo | None:
    facility = Facility.objects.filter(code=code, is_active=True).first()
    if facility is None:
        return None
    plans = tuple(
        PlanInfo(p.id, p.effective_from_date, p.effective_to_date, p.rate_per_minute, p.tax_rate)
        for p in RatePlan.objects.filter(facility=facility).order_by("-effective_from_date", "-id")
    )
    return FacilityInfo(
        id=facility.id,
        code=facility.code,
        name=facility.name,
        time_zone=facility.time_zone,
        cell_phones_allowed=facility.cell_phones_allowed,
        max_call_minutes=facility.max_call_minutes,
        plans=plans,
    )


def facility_cache_clear(*, codes: list[str]) -> None:
    for code in codes:
        _facility_cache.pop(code, None)


def account_get_for_holder(*, holder: User, pk: int) -> CallingAccount | None:
    return CallingAccount.objects.filter(holder=holder, pk=pk).select_related("ledger_account").first()


def sponsorship_list_for_account(*, account: CallingAccount) -> QuerySet[InmateDebitSponsorship]:
    return (
        InmateDebitSponsorship.objects.filter(account=account, ended_at__isnull=True)
        .select_related("inmate__facility")
        .order_by("-started_at", "-id")
    )


@dataclass(frozen=True)
class SponsoredCall:
    record: CallRecord
    number: str  # as the sponsor may read it: its own numbers in full, others' last two digits only


def sponsored_calls_for_account(*, account: CallingAccount, limit: int = 50) -> list[SponsoredCall]:
    """The newest calls this account paid for as a sponsor (inmate debit), numbers shown by the
    masking rule (`NumberView`)."""
    records = (
        CallRecord.objects.filter(account=account, billing="inmate_debit")
        .select_related("facility", "inmate")
        .order_by("-started_at", "-id")[:limit]
    )
    numbers = number_view_for_holder(holder=account.holder)
    return [SponsoredCall(record, numbers.text(record.dialed_number)) for record in records]


@dataclass(frozen=True)
class RefusedCalls:
    facility_id: int
    facility_name: str
    count: int


def refused_calls_per_facility(*, since: datetime.datetime) -> list[RefusedCalls]:
    """Per facility, the calls reported since `since` that connected after FamilyLine refused them (the
    call id's latest authorization was a deny), by facility name."""
    rows = (
        CallRecord.objects.filter(completed_at__gte=since)
        .exclude(refused_reason="")
        .values_list("facility_id", "facility__name")
        .annotate(count=Count("id"))
        .order_by("facility__name", "facility_id")
    )
    return [RefusedCalls(facility_id, name, count) for facility_id, name, count in rows]


def call_parties_get(*, facility_code: str, inmate_number: str) -> tuple[int | None, int | None]:
    """The ids of the facility and the inmate a request names, whether or not they are active (a
    call id sent again after its facility closed or its inmate was released is still that call)."""
    facility_id = Facility.objects.filter(code=facility_code).values_list("id", flat=True).first()
    if facility_id is None:
        return None, None
    inmate = Inmate.objects.filter(facility_id=facility_id, inmate_number=inmate_number)
    return facility_id, inmate.values_list("id", flat=True).first()


def facility_list_active() -> QuerySet[Facility]:
    return Facility.objects.filter(is_active=True).order_by("name", "id")


def inmate_find(*, facility: Facility, inmate_number: str) -> Inmate | None:
    return Inmate.objects.filter(facility=facility, inmate_number=inmate_number.strip(), is_active=True).first()


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# Active tokens by hash, reused in this process for PLATFORM_TOKEN_CACHE_SECONDS (so the hot path
# skips two queries) and never longer: a revocation takes effect within that many seconds.
_token_cache: dict[str, tuple[float, PlatformToken]] = {}


def platform_token_authenticate(*, raw: str) -> PlatformToken | None:
    """The active token with this raw value, if any (looked up by its hash, never by the raw value),
    with `facility_codes`: the codes it is limited to (empty: every facility)."""
    digest = token_hash(raw)
    ttl = settings.PLATFORM_TOKEN_CACHE_SECONDS
    now = _clock()
    cached = _token_cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    token = PlatformToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if token is None:
        _token_cache.pop(digest, None)
        return None
    token.facility_codes = frozenset(token.facilities.values_list("code", flat=True))
    if ttl > 0:
        if len(_token_cache) > 1000:  # only issued tokens are kept, but stay bounded anyway
            _token_cache.clear()
        _token_cache[digest] = (now + ttl, token)
    return token


def platform_token_allows_facility(*, token: PlatformToken, facility_code: str) -> bool:
    """A token limited to some facilities may act only for those; one limited to none, for all."""
    codes = getattr(token, "facility_codes", None)
    if codes is None:
        codes = frozenset(token.facilities.values_list("code", flat=True))
    return not codes or facility_code in codes


# --- the call path's reads ---------------------------------------------------------------------------
# authorize and complete each read everything they decide on in ONE statement (plain SQL, with no
# ORM query to compile per request). A LEFT JOIN from a
# one-row base answers even when nothing matches: every part is then NULL.


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class EarlierCall:
    """What this call id already has (an authorization's hold, a completed record): the details it
    was given, to refuse the same id for another call, and the answer to give again."""

    facility_id: int
    inmate_id: int
    dialed_number: str
    answer: dict[str, Any] | None = None  # the hold's authorization answer


@dataclass(frozen=True)
class RecordedCall(EarlierCall):
    billing: str = ""
    rate_per_minute: Decimal = Decimal("0")
    billable_minutes: int = 0
    charge_cents: int = 0
    tax_cents: int = 0
    balance_after_cents: int | None = None
    refused_reason: str = ""


@dataclass(frozen=True)
class AuthorizeFacts:
    inmate_id: int | None  # an active inmate of this facility with this number
    inmate_name: str
    blocked: bool
    callee: CallingAccount | None  # the open account holding the number, with its ledger account
    line_type: str | None
    language: str  # the callee holder's
    has_sponsors: bool  # whether the inmate has an active sponsorship at all
    hold: EarlierCall | None
    record: RecordedCall | None


# Rows of these statements are read by column name: each column has an alias, and the row is a named
# tuple whose class is made once per statement (`_fetch_named`), not a dict per row.
_RECORD_COLUMNS = (
    "facility_id",
    "inmate_id",
    "dialed_number",
    "billing",
    "rate_per_minute",
    "billable_minutes",
    "charge_cents",
    "tax_cents",
    "balance_after_cents",
    "refused_reason",
)
# The ledger row's id only: its balance is the kernel's to read, under its lock.
_ACCOUNT_COLUMNS = (
    "a.id AS account_id, a.holder_id AS account_holder_id, a.kind AS account_kind, a.status AS account_status, "
    "a.suspension_code AS account_suspension_code, a.activates_at AS account_activates_at, "
    "a.credit_limit_cents AS account_credit_limit_cents, l.id AS account_ledger_id"
)


class _Row(Protocol):
    """A row read by column name (`_fetch_named`): each column is an attribute holding the value as the
    database sent it, so its type is the column's, known to the statement and not to the checker."""

    def __getattr__(self, column: str) -> Any: ...


# Per statement, the named tuple class's constructor from a row's values.
_row_makers: dict[str, Callable[[Iterable[Any]], _Row]] = {}


def _record_columns(alias: str) -> str:
    return ", ".join(f"{alias}.{c} AS record_{c}" for c in _RECORD_COLUMNS)


def _fetch_named(cursor: CursorWrapper, statement: str) -> _Row | None:
    """The cursor's next row as a named tuple of its columns (None when there is none). The tuple's
    class is made from the cursor's description the first time `statement` is read, then kept."""
    row = cursor.fetchone()
    if row is None:
        return None
    make = _row_makers.get(statement)
    if make is None:
        columns = [column.name for column in cursor.description]
        # The stubs type a named tuple class whose names are known only at run time as a plain tuple class.
        make = _row_makers[statement] = namedtuple(statement, columns)._make  # type: ignore[attr-defined]
    return make(row)


def _record_from(row: _Row) -> RecordedCall | None:
    """The call record's columns of `row` (`_record_columns`), when the row has a record."""
    if row.record_facility_id is None:
        return None
    return RecordedCall(
        facility_id=row.record_facility_id,
        inmate_id=row.record_inmate_id,
        dialed_number=row.record_dialed_number,
        billing=row.record_billing,
        rate_per_minute=Decimal(str(row.record_rate_per_minute)),
        billable_minutes=row.record_billable_minutes,
        charge_cents=row.record_charge_cents,
        tax_cents=row.record_tax_cents,
        balance_after_cents=row.record_balance_after_cents,
        refused_reason=row.record_refused_reason or "",
    )


def _account_from(row: _Row) -> CallingAccount | None:
    """The account's columns of `row` (`_ACCOUNT_COLUMNS`) as a CallingAccount whose `ledger_account` is
    already known, so the kernel locks it without a look-up."""
    if row.account_id is None:
        return None
    account = CallingAccount(
        id=row.account_id,
        holder_id=row.account_holder_id,
        kind=row.account_kind,
        status=row.account_status,
        suspension_code=row.account_suspension_code or "",
        activates_at=row.account_activates_at,
        credit_limit_cents=row.account_credit_limit_cents,
    )
    if row.account_ledger_id is not None:
        account.ledger_account = LedgerAccount(
            id=row.account_ledger_id,
            code=f"account:{row.account_id}",
            calling_account_id=row.account_id,
            balance_cents=None,
        )
    return account


def authorize_facts_get(*, call_id: str, facility_id: int | None, inmate_number: str, e164: str) -> AuthorizeFacts:
    """Everything `call_authorize` decides on, in one statement."""
    sql = f"""
        SELECT i.id AS inmate_id, i.is_active AS inmate_is_active, i.first_name, i.last_name,
            EXISTS (SELECT 1 FROM {_table(BlockedNumber)} b WHERE b.number = %s AND b.lifted_at IS NULL
                    AND (b.facility_id = %s OR b.facility_id IS NULL)) AS blocked,
            EXISTS (SELECT 1 FROM {_table(InmateDebitSponsorship)} s WHERE s.inmate_id = i.id AND s.ended_at IS NULL)
                AS has_sponsors,
            p.line_type, u.preferred_language, {_ACCOUNT_COLUMNS},
            h.facility_id AS hold_facility_id, h.inmate_id AS hold_inmate_id, h.dialed_number AS hold_dialed_number,
            h.response AS hold_response,
            {_record_columns("r")}
        FROM (SELECT 1 AS one) base
        LEFT JOIN {_table(Inmate)} i ON i.facility_id = %s AND i.inmate_number = %s
        LEFT JOIN {_table(PhoneNumber)} p ON p.number = %s AND p.is_active
        LEFT JOIN {_table(CallingAccount)} a ON a.id = p.account_id
        LEFT JOIN {_table(User)} u ON u.id = a.holder_id
        LEFT JOIN {_table(LedgerAccount)} l ON l.calling_account_id = a.id
        LEFT JOIN {_table(Hold)} h ON h.call_id = %s
        LEFT JOIN {_table(CallRecord)} r ON r.call_id = %s
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [e164, facility_id, facility_id, inmate_number, e164, call_id, call_id])
        row = _fetch_named(cursor, "AuthorizeRow")
    assert row is not None, "the one-row base answers even when nothing matches"
    active_inmate = row.inmate_id is not None and bool(row.inmate_is_active)
    hold = None
    if row.hold_facility_id is not None:
        hold = EarlierCall(
            facility_id=row.hold_facility_id,
            inmate_id=row.hold_inmate_id,
            dialed_number=row.hold_dialed_number,
            answer=_json(row.hold_response),
        )
    return AuthorizeFacts(
        inmate_id=row.inmate_id if active_inmate else None,
        inmate_name=f"{row.first_name or ''} {row.last_name or ''}".strip(),
        blocked=bool(row.blocked),
        has_sponsors=bool(row.has_sponsors),
        line_type=row.line_type,
        language=row.preferred_language or "en",
        callee=_account_from(row),
        hold=hold,
        record=_record_from(row),
    )


def call_id_lock(call_id: str) -> None:
    """Lock the call id until the transaction ends, after the payer's ledger row (the lock order's
    last step): an authorization placing a hold for this call and a completion releasing it take
    it in turn, so neither misses what the other committed. A PostgreSQL advisory lock on a 64-bit
    hash of the id. Inside a `pipelined` block it is only queued."""
    call_ids_lock([call_id])


def call_ids_lock(call_ids: Collection[str]) -> None:
    """`call_id_lock` for many calls (a bulk import), in one statement, in the order of their keys
    so that two imports sharing calls cannot deadlock."""
    if not call_ids:
        return
    keys = sorted(
        {int.from_bytes(hashlib.blake2b(c.encode(), digest_size=8).digest(), "big", signed=True) for c in call_ids}
    )
    with connection.cursor() as cursor:
        if len(keys) == 1:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", keys)
        else:  # unnest keeps the array's (sorted) order
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def call_record_locked_get(*, call_id: str, also: Callable[[CursorWrapper], None] | None = None) -> RecordedCall | None:
    """The call's record, read after taking the call id's lock (one round trip): a completion that
    committed after an authorization read its facts is seen, and one still being written is waited for.
    `also(cursor)` may send a statement of its own in the same round trip, after the read."""
    with connection.cursor() as cursor, connection.cursor() as other:
        with pipelined():
            call_id_lock(call_id)
            cursor.execute(
                f"SELECT {_record_columns('r')} FROM {_table(CallRecord)} r WHERE r.call_id = %s",  # noqa: S608
                [call_id],
            )
            if also is not None:
                also(other)
        row = _fetch_named(cursor, "RecordRow")
    return _record_from(row) if row is not None else None


@dataclass(frozen=True)
class HeldCall(EarlierCall):
    """The hold an authorization placed for this call id, and the account it was placed on."""

    hold_id: int = 0
    billing: str = ""
    account: CallingAccount | None = None


@dataclass(frozen=True)
class Refusal:
    """The call id's latest authorization, when it was a deny: the reason, and the call it named."""

    reason: str
    facility_code: str
    inmate_number: str
    dialed_number: str

    def differs(self, *, facility_code: str, inmate_number: str, e164: str) -> str | None:
        """What the refused call has that this one does not ("facility", "inmate" or "dialed_number"):
        a call id names one call, so a report of another call under it is a conflict. None when the
        refused call is this one."""
        for name, refused, reported in (
            ("facility", self.facility_code, facility_code),
            ("inmate", self.inmate_number, inmate_number),
            ("dialed_number", self.dialed_number, e164),
        ):
            if refused != reported:
                return name
        return None


@dataclass(frozen=True)
class CompleteFacts:
    inmate_id: int | None  # the inmate with this number at this facility, released or not
    record: RecordedCall | None
    hold: HeldCall | None
    system_ledgers: tuple[LedgerAccount, LedgerAccount] | None  # call revenue, tax payable
    refusal: Refusal | None  # the call id's latest authorization, if it was a deny
    # The call id's single call, once its paid call was allowed (or refunded: never charged then).
    single_call_id: int | None = None


def complete_facts_get(*, call_id: str, facility_id: int | None, inmate_number: str) -> CompleteFacts:
    """Everything `call_complete` decides on before charging, in one statement."""
    revenue, tax = f"system:{SystemAccount.CALL_REVENUE.value}", f"system:{SystemAccount.TAX_PAYABLE.value}"
    ledgers = _table(LedgerAccount)
    sql = f"""
        SELECT i.id AS inmate_id, {_record_columns("r")},
            h.id AS hold_id, h.facility_id AS hold_facility_id, h.inmate_id AS hold_inmate_id,
            h.dialed_number AS hold_dialed_number, h.billing AS hold_billing, {_ACCOUNT_COLUMNS},
            (SELECT id FROM {ledgers} WHERE code = %s) AS revenue_ledger_id,
            (SELECT id FROM {ledgers} WHERE code = %s) AS tax_ledger_id,
            d.reason AS refusal_reason, d.facility_code AS refusal_facility_code,
            d.inmate_number AS refusal_inmate_number, d.dialed_number AS refusal_dialed_number,
            sc.id AS single_call_id
        FROM (SELECT 1 AS one) base
        LEFT JOIN {_table(Inmate)} i ON i.facility_id = %s AND i.inmate_number = %s
        LEFT JOIN {_table(CallRecord)} r ON r.call_id = %s
        LEFT JOIN {_table(Hold)} h ON h.call_id = %s
        LEFT JOIN {_table(CallingAccount)} a ON a.id = h.account_id
        LEFT JOIN {ledgers} l ON l.calling_account_id = a.id
        LEFT JOIN {_table(CallDecision)} d ON d.call_id = %s AND d.decision = %s
        LEFT JOIN {_table(SingleCall)} sc ON sc.call_id = %s AND sc.status IN (%s, %s, %s)
    """  # noqa: S608 - table names from the models, values as parameters
    allowed_single = (SingleCallStatus.AUTHORIZED, SingleCallStatus.COMPLETED, SingleCallStatus.REFUNDED)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [revenue, tax, facility_id, inmate_number, call_id, call_id, call_id, CallDecision.Decision.DENY]
            + [call_id, *allowed_single],
        )
        row = _fetch_named(cursor, "CompleteRow")
    assert row is not None, "the one-row base answers even when nothing matches"
    hold = None
    if row.hold_id is not None:
        hold = HeldCall(
            hold_id=row.hold_id,
            facility_id=row.hold_facility_id,
            inmate_id=row.hold_inmate_id,
            dialed_number=row.hold_dialed_number,
            billing=row.hold_billing,
            account=_account_from(row),
        )
    system = None
    if row.revenue_ledger_id is not None and row.tax_ledger_id is not None:
        system = (
            LedgerAccount(id=row.revenue_ledger_id, code=revenue, balance_cents=None),
            LedgerAccount(id=row.tax_ledger_id, code=tax, balance_cents=None),
        )
    refusal = None
    if row.refusal_reason is not None:
        refusal = Refusal(
            row.refusal_reason, row.refusal_facility_code, row.refusal_inmate_number, row.refusal_dialed_number
        )
    return CompleteFacts(
        inmate_id=row.inmate_id,
        record=_record_from(row),
        hold=hold,
        system_ledgers=system,
        refusal=refusal,
        single_call_id=row.single_call_id,
    )


def refusals_get(*, call_ids: list[str]) -> dict[str, Refusal]:
    """`CompleteFacts.refusal` for many call ids (a bulk import), in one query."""
    denied = CallDecision.objects.filter(call_id__in=call_ids, decision=CallDecision.Decision.DENY)
    return {
        call_id: Refusal(reason, facility_code, inmate_number, dialed_number)
        for call_id, reason, facility_code, inmate_number, dialed_number in denied.values_list(
            "call_id", "reason", "facility_code", "inmate_number", "dialed_number"
        )
    }
