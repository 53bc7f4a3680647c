"""Who pays for a call (DESIGN.md §1, inmate debit).

For a call now, to number N from inmate I, the payer order is:
1. the account holding N, if it sponsors I (billed as inmate debit);
2. another sponsor of I that can pay now, oldest sponsorship first: it is active, under its monthly
   cap, and covers at least the minutes the callee's own account would allow (one minute when the
   callee cannot pay) — so a sponsor never makes a call fail or shorter; otherwise it is skipped;
3. the account holding N, as a collect call (or Direct Bill).
Step 2 is decided under each sponsor's ledger-row lock, by `hold_place` (calls/services.py).

For a call that already happened (a late record without a hold), the payer is the one in force
when it started: the callee's own sponsorship, else the oldest sponsorship in force, else the
account that held N at `started_at`, whatever became of the number since.
"""

import datetime

from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, CallingAccount, PhoneNumber
from billing import ledger
from billing.models import Hold

from .models import Billing, CallRecord, InmateDebitSponsorship


def callee_number(*, e164: str) -> PhoneNumber | None:
    """The active registration of a number (at most one, on an open account)."""
    return (
        PhoneNumber.objects.filter(number=e164, is_active=True)
        .select_related("account__holder", "account__ledger_account")
        .first()
    )


def sponsorships_now(*, inmate_id: int) -> list[InmateDebitSponsorship]:
    """The inmate's active sponsorships, oldest first."""
    return list(
        InmateDebitSponsorship.objects.filter(inmate_id=inmate_id, ended_at__isnull=True)
        .select_related("account")
        .order_by("started_at", "id")
    )


def holder_at(*, e164: str, at: datetime.datetime) -> CallingAccount | None:
    """The account whose registration of the number covered the moment `at`."""
    registration = (
        PhoneNumber.objects.filter(number=e164, added_at__lte=at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=at))
        .select_related("account")
        .order_by("-added_at", "-id")
        .first()
    )
    return registration.account if registration else None


def payer_at(*, inmate_id: int, e164: str, started_at: datetime.datetime) -> tuple[CallingAccount | None, str | None]:
    """(account, billing) for a call that started at `started_at` and has no hold."""
    holder = holder_at(e164=e164, at=started_at)
    in_force = list(
        InmateDebitSponsorship.objects.filter(inmate_id=inmate_id, started_at__lte=started_at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=started_at))
        .select_related("account")
        .order_by("started_at", "id")
    )
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
    held = (
        Hold.objects.filter(account_id=account.pk, released_at__isnull=True, expires_at__gt=now).aggregate(
            total=Sum("amount_cents")
        )["total"]
        or 0
    )
    balance = ledger.balance_get(account=account)
    if account.kind == AccountKind.DIRECT_BILL:
        return account.credit_limit_cents + balance - held
    return balance - held if balance >= 0 else 0
