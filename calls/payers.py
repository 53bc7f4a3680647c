"""Who pays for a call (docs/domain.md, inmate debit).

For a call now, to number N from inmate I, the payer order is:
1. the account holding N, if it sponsors I (billed as inmate debit);
2. another sponsor of I that can pay now, oldest sponsorship first: it is active, under its monthly
   cap, and covers at least the minutes the callee's own account would allow (one minute when the
   callee cannot pay) — so a sponsor never makes a call fail or shorter; otherwise it is skipped;
3. the account holding N, as a collect call (or Direct Bill).
Step 2 is decided under each sponsor's ledger-row lock, by `hold_place` (calls/callpath/authorize.py).

For a call that already happened (a late record without a hold), the payer is the one in force
when it started: the callee's own sponsorship, else the oldest sponsorship in force, else the
account that held N at `started_at`, whatever became of the number since.
"""

import datetime

from django.db.models import Sum
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, CallingAccount, PhoneNumber
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold

from .models import Billing, CallRecord, InmateDebitSponsorship


def sponsorships_now(*, inmate_id: int) -> list[InmateDebitSponsorship]:
    """The inmate's active sponsorships, oldest first."""
    return list(
        InmateDebitSponsorship.objects.filter(inmate_id=inmate_id, ended_at__isnull=True)
        .select_related("account")
        .order_by("started_at", "id")
    )


def payer_at(*, inmate_id: int, e164: str, started_at: datetime.datetime) -> tuple[CallingAccount | None, str | None]:
    """(account, billing) for a call that started at `started_at` and has no hold."""
    return payers_at(calls=[(inmate_id, e164, started_at)])[0]


def payers_at(*, calls: list[tuple[int, str, datetime.datetime]]) -> list[tuple[CallingAccount | None, str | None]]:
    """`payer_at` for many calls (inmate id, number, started_at) in two queries, in their order."""
    if not calls:
        return []
    latest = max(started_at for _, _, started_at in calls)
    registrations = _registrations(e164s=sorted({e164 for _, e164, _ in calls}), until=latest)
    sponsorships: dict[int, list[InmateDebitSponsorship]] = {}
    for sponsorship in (
        InmateDebitSponsorship.objects.filter(inmate_id__in={i for i, _, _ in calls}, started_at__lte=latest)
        .select_related("account")
        .order_by("started_at", "id")
    ):
        sponsorships.setdefault(sponsorship.inmate_id, []).append(sponsorship)
    answers = []
    for inmate_id, e164, started_at in calls:
        holder = _holder_from(registrations.get(e164, []), started_at)
        in_force = [
            s
            for s in sponsorships.get(inmate_id, [])
            if s.started_at <= started_at and (s.ended_at is None or s.ended_at > started_at)
        ]
        answers.append(_payer_from(holder, in_force))
    return answers


def _registrations(*, e164s: list[str], until: datetime.datetime) -> dict[str, list[PhoneNumber]]:
    """Every registration of these numbers added by `until`, newest first, by number."""
    found: dict[str, list[PhoneNumber]] = {}
    for registration in (
        PhoneNumber.objects.filter(number__in=e164s, added_at__lte=until)
        .select_related("account")
        .order_by("-added_at", "-id")
    ):
        found.setdefault(str(registration.number), []).append(registration)
    return found


def _holder_from(registrations: list[PhoneNumber], at: datetime.datetime) -> CallingAccount | None:
    for registration in registrations:  # newest first
        if registration.added_at <= at and (registration.removed_at is None or registration.removed_at > at):
            return registration.account
    return None


def _payer_from(
    holder: CallingAccount | None, in_force: list[InmateDebitSponsorship]
) -> tuple[CallingAccount | None, str | None]:
    """The payer order for a call that already happened: the callee's own sponsorship, else the
    oldest sponsorship in force, else the holder of the number (collect or Direct Bill)."""
    own = next((s for s in in_force if holder is not None and s.account_id == holder.pk), None)
    if own is not None:
        return own.account, Billing.INMATE_DEBIT
    if in_force:
        return in_force[0].account, Billing.INMATE_DEBIT
    if holder is None:
        return None, None
    return holder, collect_billing(holder)


def collect_billing(account: CallingAccount) -> str:
    return Billing.DIRECT_BILL if account.kind == AccountKind.DIRECT_BILL else Billing.COLLECT


def sponsor_is_active(sponsorship: InmateDebitSponsorship, now: datetime.datetime) -> bool:
    account = sponsorship.account
    return account.kind == AccountKind.ADVANCE_CONNECT and account.status_at(now) == AccountStatus.ACTIVE


def sponsorship_in_force(sponsorship: InmateDebitSponsorship) -> bool:
    """Whether the sponsorship has not been ended since it was read (asked under the sponsor's lock)."""
    return InmateDebitSponsorship.objects.filter(pk=sponsorship.pk, ended_at__isnull=True).exists()


def month_start(now: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(now, timezone.get_default_timezone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def sponsorship_spent_cents(*, sponsorship: InmateDebitSponsorship, now: datetime.datetime) -> int:
    """What the sponsorship has been billed this calendar month (settings.TIME_ZONE), counting the
    holds of its calls in progress. Read under the sponsor's ledger-row lock when deciding."""
    since = month_start(now)
    charged = CallRecord.objects.filter(
        account_id=sponsorship.account_id,
        inmate_id=sponsorship.inmate_id,
        billing=Billing.INMATE_DEBIT,
        started_at__gte=since,
    ).aggregate(total=Sum("charge_cents"), tax=Sum("tax_cents"))
    held = (
        Hold.objects.filter(
            account_id=sponsorship.account_id,
            inmate_id=sponsorship.inmate_id,
            billing=Billing.INMATE_DEBIT,
            released_at__isnull=True,
            expires_at__gt=now,
        ).aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )
    return (charged["total"] or 0) + (charged["tax"] or 0) + held


def callee_available_cents(*, account: CallingAccount, now: datetime.datetime) -> int:
    """What the callee's own account could spend on a call now (no lock: it only sets how many
    minutes a sponsor must at least cover)."""
    held = ledger.holds_open_cents(account=account, now=now)
    balance = ledger.balance_get(account=account)
    if account.kind == AccountKind.DIRECT_BILL:
        return account.credit_limit_cents + balance - held
    return balance - held if balance >= 0 else 0
