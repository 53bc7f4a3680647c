"""When money or a call last touched an account: its credited payments and its calls (a sign-in is
not activity). Read by the inactivity review and by closing, which rechecks it under its lock."""

from datetime import date, datetime
from typing import TypedDict

from django.db.models import DateTimeField, F, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django_stubs_ext import WithAnnotations

from accounts.models import CallingAccount
from billing.payments.models import Payment, PaymentStatus
from calls.models import CallRecord


def _last_payment_at() -> Subquery:
    return Subquery(
        Payment.objects.filter(account=OuterRef("pk"), status=PaymentStatus.SUCCEEDED)
        .order_by()
        .values("account")
        .annotate(last=Max("succeeded_at"))
        .values("last")
    )


def _last_call_at() -> Subquery:
    # Newest first on (account, -started_at, -id): one step down call_account_started_idx.
    return Subquery(
        CallRecord.objects.filter(account=OuterRef("pk")).order_by("-started_at", "-id").values("started_at")[:1]
    )


class LastActivity(TypedDict):
    last_activity_at: datetime


def accounts_with_last_activity() -> "QuerySet[WithAnnotations[CallingAccount, LastActivity]]":
    """Calling accounts annotated with `last_activity_at`: the latest of the account's opening, its
    credited payments and its calls. Each part is an indexed lookup by account."""
    return CallingAccount.objects.annotate(
        last_activity_at=Greatest(
            F("created_at"),
            Coalesce(_last_payment_at(), F("created_at"), output_field=DateTimeField()),
            Coalesce(_last_call_at(), F("created_at"), output_field=DateTimeField()),
            output_field=DateTimeField(),
        )
    )


def account_last_activity_at(*, account: CallingAccount) -> datetime:
    """When money or a call last touched this account (its opening if nothing has since)."""
    return accounts_with_last_activity().values_list("last_activity_at", flat=True).get(pk=account.pk)


def account_last_activity_date(*, account: CallingAccount) -> date:
    return timezone.localdate(account_last_activity_at(account=account))
