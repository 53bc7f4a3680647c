"""The data both call-path benchmarks set up: a paid facility with one inmate, and funded active
accounts, each with its own holder and one number registered long before any call. Import it only
after `django.setup()`."""

import datetime
from decimal import Decimal

from accounts.models import AccountStatus, PhoneNumber, User
from accounts.services import account_open
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from calls.facilities import facility_changed
from calls.models import Facility, Inmate, RatePlan

INMATE = "1"


def bench_facility(code: str) -> Facility:
    """A facility at $0.06/min + 6.25 % tax with inmate INMATE, fresh in the call path's caches."""
    facility = Facility.objects.create(
        code=code, name="Bench County Jail", town="Bench", state="TX", facility_type="jail", size_tier="large"
    )
    RatePlan.objects.create(
        facility=facility,
        name="Bench",
        rate_per_minute=Decimal("0.06"),
        tax_rate=Decimal("0.0625"),
        effective_from_date=datetime.date(2020, 1, 1),
    )
    Inmate.objects.create(facility=facility, inmate_number=INMATE, first_name="Bench", last_name="Inmate")
    facility_changed(facility=facility)
    return facility


def funded_accounts(count: int, *, funds_cents: int) -> list[str]:
    """`count` active accounts funded with `funds_cents` each; returns their numbers (E.164)."""
    card = ledger.system_account(SystemAccount.CARD_CLEARING)
    numbers = []
    for n in range(count):
        holder = User.objects.create_user(email=f"bench-{n}@example.com")
        account = account_open(holder=holder, status=AccountStatus.ACTIVE)
        ledger.post(
            idempotency_key=f"bench-deposit:{n}",
            kind=EntryKind.PAYMENT,
            lines=[(card, -funds_cents), (ledger.account_ledger(account), funds_cents)],
        )
        number = f"+1512{5_000_000 + n:07d}"
        PhoneNumber.objects.create(account=account, number=number, line_type="landline")
        numbers.append(number)
    PhoneNumber.objects.update(added_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    return numbers
