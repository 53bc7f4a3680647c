from django.db import transaction

from billing import ledger

from .models import AccountEvent, AccountKind, AccountStatus, CallingAccount, User


def account_open(
    *,
    holder: User,
    kind: AccountKind = AccountKind.ADVANCE_CONNECT,
    actor: User | None = None,
    status: AccountStatus = AccountStatus.PENDING_FUNDING,
    credit_limit_cents: int = 0,
) -> CallingAccount:
    """Open a calling account with its ledger account and an `opened` audit row."""
    with transaction.atomic():
        account = CallingAccount.objects.create(
            holder=holder, kind=kind, status=status, credit_limit_cents=credit_limit_cents
        )
        ledger.account_ledger(account)
        AccountEvent.objects.create(account=account, action=AccountEvent.Action.OPENED, actor=actor or holder)
    return account


class DemoData:
    def __init__(self, staff: User, family: User):
        self.staff, self.family = staff, family


def demo_data_load(*, password: str) -> DemoData:
    """Idempotent demo data for `make run`. Other apps' demo rows are added by their own services."""
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        staff, created = User.objects.get_or_create(
            email="staff@familyline.example",
            defaults={"first_name": "Sam", "last_name": "Staff", "is_staff": True, "is_superuser": True},
        )
        if created:
            staff.set_password(password)
            staff.save(update_fields=["password"])
        family, created = User.objects.get_or_create(
            email="family@familyline.example",
            defaults={
                "first_name": "Maria",
                "last_name": "Lopez",
                "address_line1": "12 Elm Street",
                "city": "Hartford",
                "state": "CT",
                "postal_code": "06103",
            },
        )
        if created:
            family.set_password(password)
            family.save(update_fields=["password"])
        for user in (staff, family):
            EmailAddress.objects.get_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )
    return DemoData(staff=staff, family=family)
