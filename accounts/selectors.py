from django.db.models import QuerySet

from .models import CallingAccount, User


def account_list_for_holder(*, holder: User) -> QuerySet[CallingAccount]:
    return (
        CallingAccount.objects.filter(holder=holder)
        .select_related("ledger_account")
        .prefetch_related("phone_numbers")
        .order_by("-created_at", "-id")
    )
