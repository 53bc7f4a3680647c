"""Demo data for `make run` (never loaded under production settings)."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from billing.payments.models import Channel, PaymentMethod
from billing.payments.services import payment_record_offline

from .models import AccountKind, AccountStatus, CallingAccount, LineType, PhoneNumber, User
from .phone_access import phone_pin_is_set, phone_pin_set
from .services import account_activate, account_open, phone_number_add

# The demo account's phone PIN, for trying the phone menu under `make run` (/phone/try/).
DEMO_PHONE_PIN = "2468"


class DemoData:
    def __init__(self, staff: User, family: User):
        self.staff, self.family = staff, family


def demo_data_load(*, password: str) -> DemoData:
    """Idempotent demo data for `make run`. Other apps' demo rows are added by their own services."""
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
        _demo_advance_connect_load(family=family, staff=staff)
    return DemoData(staff=staff, family=family)


DEMO_NUMBERS_SINCE = timedelta(days=30)
DEMO_NUMBERS = [("+18605550134", "Home", LineType.LANDLINE), ("+18605550188", "Maria's cell", LineType.MOBILE)]


def _demo_advance_connect_load(*, family: User, staff: User) -> CallingAccount:
    """The family's funded, active AdvanceConnect account with two numbers (once)."""
    account = (
        CallingAccount.objects.filter(holder=family, kind=AccountKind.ADVANCE_CONNECT)
        .exclude(status=AccountStatus.CLOSED)
        .order_by("id")
        .first()
    )
    if account is None:
        account = account_open(holder=family)
        payment_record_offline(
            account=account,
            channel=Channel.MAIL,
            method=PaymentMethod.MONEY_ORDER,
            amount_cents=4000,
            reference="Demo money order 0001",
            recorded_by=staff,
        )
        account_activate(account=account, actor=staff, reason="Demo data")
    for number, label, line_type in DEMO_NUMBERS:
        if not PhoneNumber.objects.filter(number=number, is_active=True).exists():
            phone = phone_number_add(account=account, number=number, label=label, line_type=line_type, actor=family)
            # The demo story: the family registered its numbers before the demo's week of calls.
            PhoneNumber.objects.filter(pk=phone.pk).update(added_at=timezone.now() - DEMO_NUMBERS_SINCE)
    if not phone_pin_is_set(account=account):
        phone_pin_set(account=account, pin=DEMO_PHONE_PIN, actor=family)
    return account
