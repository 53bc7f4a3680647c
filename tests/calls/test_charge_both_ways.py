"""One call is charged alike whether the platform reports it through the API or in a CSV file: two
identical setups, the same calls (each authorized, or not, the same way), one world completed by the
API and the other imported; every record field, every balance, every ledger entry and every hold
compared. Real PostgreSQL, real localstripe."""

import datetime
import re
from decimal import Decimal

import pytest
import stripe
from django.conf import settings
from django.utils import timezone

from accounts.outbox import outbox_drain
from billing.closing import late_charges  # noqa: F401 (handles a closed account's late charge)
from billing.closing import services as closing
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold, JournalEntry, LedgerAccount
from billing.payments.models import Refund
from billing.payments.selectors import ledger_violations
from billing.payments.single_call import single_call_offer_find, single_call_pay
from calls.callpath.importing import call_records_import
from calls.models import CallRecord
from calls.sponsorships import sponsorship_start
from tests.factories import InmateFactory, RatePlanFactory
from tests.helpers import add_number, authorize, complete, make_account, next_number, open_direct_bill

pytestmark = pytest.mark.django_db

HEADER = "call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect"


def _payment_method(base_url: str) -> str:
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return method.id


class World:
    """A paid facility ($0.21/min + 6.35 % tax) and a free one, inmates, and the accounts the calls
    below are charged to, each under a role name (so two worlds compare by role, not by id)."""

    def __init__(self, prefix: str, stripe_server: str):
        self.prefix = prefix
        self.roles: dict[tuple[str, int], str] = {}
        self.paid = self._role("facility", "paid", RatePlanFactory(rate_per_minute="0.21", tax_rate="0.0635").facility)
        self.free = self._role("facility", "free", RatePlanFactory(rate_per_minute="0", tax_rate="0").facility)
        self._role("plan", "paid plan", self.paid.rate_plans.get())
        self._role("plan", "free plan", self.free.rate_plans.get())
        self.inmate = self._role("inmate", "inmate", InmateFactory(facility=self.paid))
        self.sponsored = self._role("inmate", "sponsored", InmateFactory(facility=self.paid))
        self.free_inmate = self._role("inmate", "free inmate", InmateFactory(facility=self.free))
        self.prepaid = self._role("account", "prepaid", make_account(balance_cents=5000))
        self.empty = self._role("account", "empty", make_account(balance_cents=0))
        self.callee = self._role("account", "callee", make_account(balance_cents=0))
        # A call that costs nothing keeps the balance it found; a file's batch reads it after the batch's
        # charges, so such calls are to an account no other call of the file charges.
        self.free_callee = self._role("account", "free callee", make_account(balance_cents=700))
        self.sponsor = self._role("account", "sponsor", make_account(balance_cents=3000))
        self.direct = self._role("account", "direct bill", open_direct_bill())
        self.direct.test_number = add_number(self.direct)
        self.closed = self._role("account", "closed", make_account(balance_cents=0))
        sponsorship_start(
            account=self.sponsor,
            facility=self.paid,
            inmate_number=self.sponsored.inmate_number,
            actor=self.sponsor.holder,
            confirmed=True,
        )
        self.unregistered = next_number()
        # A single call: offered, paid by card, allowed.
        offer = authorize(self.paid, self.inmate, self.unregistered, cid=self.cid("single")).single_call
        found = single_call_offer_find(code=offer["code"])
        single_call_pay(offer_id=found.id, payment_method_id=_payment_method(stripe_server))

    def _role(self, kind: str, name: str, obj):
        self.roles[(kind, obj.pk)] = name
        return obj

    def cid(self, name: str) -> str:
        return f"{self.prefix}-{name.replace(' ', '-')}"


def _calls(world: World, started: datetime.datetime) -> list[tuple]:
    """(name, facility, inmate, number, seconds, disconnect, started_at, authorize first)."""
    w = world
    earlier = started - datetime.timedelta(hours=2)
    return [
        ("paid", w.paid, w.inmate, w.prepaid.test_number, 541, "normal", started, True),
        ("dropped", w.paid, w.inmate, w.free_callee.test_number, 45, "dropped", started, True),
        ("inmate debit", w.paid, w.sponsored, w.callee.test_number, 300, "normal", started, True),
        ("direct bill", w.paid, w.inmate, w.direct.test_number, 200, "normal", started, True),
        ("free", w.free, w.free_inmate, w.free_callee.test_number, 600, "normal", started, True),
        ("refused", w.paid, w.inmate, w.empty.test_number, 120, "normal", started, True),
        ("single", w.paid, w.inmate, w.unregistered, 170, "normal", started, False),  # authorized in setup
        ("closed late", w.paid, w.inmate, w.closed.test_number, 115, "normal", earlier, False),
        ("never authorized", w.paid, w.inmate, w.prepaid.test_number, 61, "normal", earlier, False),
    ]


def _authorize_all(world: World, calls: list[tuple]) -> None:
    for name, facility, inmate, number, *_, first in calls:
        if first:
            authorize(facility, inmate, number, cid=world.cid(name))
    authorize(world.paid, world.inmate, world.unregistered, cid=world.cid("single"))  # allowed: paid
    closing.account_close(account=world.closed, actor=world.closed.holder)  # after its late call started


def _by_api(world: World, calls: list[tuple]) -> None:
    for name, facility, inmate, number, seconds, disconnect, started_at, _ in calls:
        complete(
            facility, inmate, number, seconds=seconds, cid=world.cid(name), started_at=started_at, disconnect=disconnect
        )
    outbox_drain()


def _by_file(world: World, calls: list[tuple]) -> None:
    rows = [
        f"{world.cid(name)},{facility.code},{inmate.inmate_number},{number},{started_at.isoformat()},{seconds},{disconnect}"
        for name, facility, inmate, number, seconds, disconnect, started_at, _ in calls
    ]
    summary = call_records_import(lines=[HEADER, *rows])
    assert (summary.posted, summary.duplicate, summary.rejected) == (len(calls), 0, []), summary.rejected
    outbox_drain()


def _ledger_role(world: World, ledger_account: LedgerAccount) -> str:
    if ledger_account.calling_account_id is None:
        return ledger_account.code
    return world.roles[("account", ledger_account.calling_account_id)]


def _records(world: World) -> dict:
    """Every field of each record, ids named by role, the entry by its postings."""
    out = {}
    for record in CallRecord.objects.filter(call_id__startswith=f"{world.prefix}-"):
        fields = {}
        for f in CallRecord._meta.concrete_fields:
            value = getattr(record, f.attname)
            if f.name in ("id", "completed_at", "source"):  # its own; when written; which way it came
                continue
            if f.name == "call_id":
                value = value.removeprefix(f"{world.prefix}-").replace("-", " ")
            elif f.name in ("account", "facility", "inmate", "rate_plan") and value is not None:
                kind = "plan" if f.name == "rate_plan" else f.name
                value = world.roles[(kind, value)]
            elif f.name == "entry" and value is not None:
                value = _postings(world, record.entry)
            elif f.name == "dialed_number":
                value = "registered" if value != world.unregistered else "unregistered"
            fields[f.name] = value
        out[fields["call_id"]] = fields
    return out


def _postings(world: World, entry: JournalEntry) -> tuple:
    return tuple(
        sorted(
            (_ledger_role(world, p.ledger_account), p.amount_cents)
            for p in entry.postings.select_related("ledger_account")
        )
    )


def _entries(world: World, entry_ids: range) -> list:
    """The entries the calls posted: key, kind, memo (call ids and facility codes as in the other
    world), postings."""

    def same(text: str) -> str:
        text = re.sub(r"#[0-9]+", "#<id>", text.replace(f"{world.prefix}-", ""))  # a refund's own id
        for facility in (world.paid, world.free):
            text = re.sub(rf"\b{re.escape(facility.code)}\b", world.roles[("facility", facility.pk)], text)
        return text

    return sorted(
        (same(e.idempotency_key), e.kind, same(e.memo), _postings(world, e))
        for e in JournalEntry.objects.filter(pk__in=entry_ids)
    )


def _state(world: World, entries: range) -> dict:
    accounts = [pk for kind, pk in world.roles if kind == "account"]
    return {
        "records": _records(world),
        "balances": {
            world.roles[("account", a.calling_account_id)]: a.balance_cents
            for a in LedgerAccount.objects.filter(calling_account_id__in=accounts)
        },
        "entries": _entries(world, entries),
        "holds": sorted(
            (h.call_id.removeprefix(f"{world.prefix}-"), h.amount_cents, h.released_at is not None)
            for h in Hold.objects.filter(call_id__startswith=f"{world.prefix}-")
        ),
        "refunds": sorted(
            (r.method, r.amount_cents, r.status)
            for r in Refund.objects.filter(single_call__call_id__startswith=f"{world.prefix}-")
        ),
    }


def _last_entry() -> int:
    return JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_the_api_and_a_csv_file_charge_the_same_calls_alike_to_the_cent(stripe_server):
    started = timezone.now() - datetime.timedelta(minutes=20)
    by_api, by_file = World("api", stripe_server), World("csv", stripe_server)
    api_calls, file_calls = _calls(by_api, started), _calls(by_file, started)
    _authorize_all(by_api, api_calls)
    _authorize_all(by_file, file_calls)
    outbox_drain()

    mark = _last_entry()
    _by_api(by_api, api_calls)
    after_api = _last_entry()
    _by_file(by_file, file_calls)
    after_file = _last_entry()

    api_state = _state(by_api, range(mark + 1, after_api + 1))
    file_state = _state(by_file, range(after_api + 1, after_file + 1))
    differs = {
        name: {
            f: (v, file_state["records"].get(name, {}).get(f))
            for f, v in fields.items()
            if v != file_state["records"].get(name, {}).get(f)
        }
        for name, fields in api_state["records"].items()
    }
    assert not any(differs.values()), differs
    only_api = [e for e in api_state["entries"] if e not in file_state["entries"]]
    only_file = [e for e in file_state["entries"] if e not in api_state["entries"]]
    assert (only_api, only_file) == ([], [])
    assert api_state == file_state
    # The comparison saw every kind of call it names, charged as each is charged.
    records = api_state["records"]
    assert set(records) == {name for name, *_ in api_calls}
    assert (records["paid"]["charge_cents"], records["paid"]["tax_cents"]) == (210, 13)
    assert records["inmate debit"]["account"] == "sponsor" and records["inmate debit"]["billing"] == "inmate_debit"
    assert records["direct bill"]["account"] == "direct bill"
    assert records["free"]["billing"] == "free" and records["free"]["entry"] is None
    assert records["refused"]["refused_reason"] == "insufficient_funds" and records["refused"]["charge_cents"] == 0
    assert records["single"]["billing"] == "single_call"
    assert records["closed late"]["account"] == "closed" and records["closed late"]["charge_cents"] > 0
    assert records["never authorized"]["account"] == "prepaid"
    assert records["paid"]["rate_per_minute"] == Decimal("0.2100")
    assert api_state["refunds"], "the single call's unused minutes are refunded"
    assert ledger.check() == [] and ledger_violations() == []
