from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from billing import ledger

from .models import AccountStatus, CallingAccount, PhoneNumber, User


def account_list_for_holder(*, holder: User) -> QuerySet[CallingAccount]:
    return (
        CallingAccount.objects.filter(holder=holder)
        .select_related("ledger_account")
        .prefetch_related(
            Prefetch(
                "phone_numbers",
                queryset=PhoneNumber.objects.filter(is_active=True).order_by("added_at", "id"),
                to_attr="active_numbers",
            )
        )
        .order_by("-created_at", "-id")
    )


def account_get_for_holder(*, holder: User, pk: int) -> CallingAccount:
    """The holder's own account, or 404 (never another holder's)."""
    return get_object_or_404(account_list_for_holder(holder=holder), pk=pk)


def account_open_list_for_holder(*, holder: User, kind: str | None = None) -> QuerySet[CallingAccount]:
    accounts = account_list_for_holder(holder=holder).exclude(status=AccountStatus.CLOSED)
    return accounts.filter(kind=kind) if kind else accounts


def phone_number_get_for_holder(*, holder: User, pk: int) -> PhoneNumber:
    return get_object_or_404(
        PhoneNumber.objects.select_related("account"), pk=pk, account__holder=holder, is_active=True
    )


@dataclass(frozen=True)
class AccountView:
    """What a holder sees of one account: status as of now (activation time counted), balance."""

    account: CallingAccount
    status: str
    status_label: str
    balance_cents: int
    numbers: list

    @property
    def owed_cents(self) -> int:
        return -self.balance_cents if self.balance_cents < 0 else 0

    @property
    def activates_at(self) -> datetime | None:
        return self.account.activates_at if self.status == AccountStatus.PENDING_ACTIVATION else None


def account_view(*, account: CallingAccount, now: datetime | None = None) -> AccountView:
    status = account.status_at(now or timezone.now())
    numbers = getattr(account, "active_numbers", None)
    if numbers is None:
        numbers = list(account.phone_numbers.filter(is_active=True).order_by("added_at", "id"))
    return AccountView(
        account=account,
        status=status,
        status_label=AccountStatus(status).label,
        balance_cents=ledger.balance_get(account=account),
        numbers=numbers,
    )
