"""Demo data for `make run`: facilities, inmates, a platform token and a few calls."""

import contextlib
import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import AccountKind, AccountStatus, PhoneNumber, User

from .models import Facility, Inmate, InmateDebitSponsorship, PlatformToken, RatePlan
from .services import SponsorshipError, call_complete, facility_changed, platform_token_create, sponsorship_start

# (code, name, town, state, type, size tier, time zone, cell phones allowed, rate now, tax rate)
DEMO_FACILITIES = [
    ("TX-HCJ", "Harris County Jail", "Houston", "TX", "jail", "large", "America/Chicago", True, "0.06", "0.0625"),
    ("GA-MSP", "Macon State Prison", "Oglethorpe", "GA", "prison", "", "America/New_York", True, "0.06", "0.04"),
    ("AZ-YCJ", "Yavapai County Jail", "Camp Verde", "AZ", "jail", "small", "America/Phoenix", False, "0.09", "0.056"),
]
# (facility code, inmate number, first name, last name)
DEMO_HISTORY = datetime.timedelta(days=7)
DEMO_INMATES = [
    ("CT-HFD", "412345", "Luis", "Lopez"),
    ("CT-YCI", "398811", "Ana", "Lopez"),
    ("TX-HCJ", "02241987", "Daniel", "Reyes"),
    ("GA-MSP", "1001456", "Marcus", "Lopez"),
    ("AZ-YCJ", "P77310", "Tomas", "Lopez"),
]
DEMO_RATE_CHANGE = datetime.date(2025, 4, 1)  # the FCC's 2024 caps; the demo shows the older rate before


def demo_calls_load(*, family: User) -> str:
    """Idempotent demo data for `make run`: paid out-of-state facilities beside the free Connecticut
    ones (from the migration), inmates, a platform token (its raw value is returned only when it is
    created), and, when the family holds an open AdvanceConnect account with a registered number, an
    inmate-debit sponsorship and a few calls in its history. Returns lines to print."""
    lines = []
    with transaction.atomic():
        for code, name, town, state, kind, tier, tz, cells, rate, tax in DEMO_FACILITIES:
            facility, _ = Facility.objects.get_or_create(
                code=code,
                defaults={
                    "name": name,
                    "town": town,
                    "state": state,
                    "facility_type": kind,
                    "size_tier": tier,
                    "time_zone": tz,
                    "cell_phones_allowed": cells,
                    "max_call_minutes": 20 if kind == "prison" else 15,
                },
            )
            RatePlan.objects.get_or_create(
                facility=facility,
                effective_from_date=datetime.date(2020, 1, 1),
                defaults={
                    "name": "Before the 2024 FCC caps",
                    "rate_per_minute": Decimal("0.21"),
                    "tax_rate": Decimal(tax),
                    "effective_to_date": DEMO_RATE_CHANGE - datetime.timedelta(days=1),
                },
            )
            RatePlan.objects.get_or_create(
                facility=facility,
                effective_from_date=DEMO_RATE_CHANGE,
                defaults={"name": "FCC 2024 caps", "rate_per_minute": Decimal(rate), "tax_rate": Decimal(tax)},
            )
            facility_changed(facility=facility)
        inmates = {}
        for code, inmate_number, first, last in DEMO_INMATES:
            inmate_facility = Facility.objects.filter(code=code).first()
            if inmate_facility is None:
                continue
            inmates[code], _ = Inmate.objects.get_or_create(
                facility=inmate_facility, inmate_number=inmate_number, defaults={"first_name": first, "last_name": last}
            )
        if not PlatformToken.objects.filter(name="Demo platform", revoked_at__isnull=True).exists():
            _, raw = platform_token_create(name="Demo platform", actor=None)
            lines.append(f"  Platform API token (shown once): {raw}")

    number = (
        PhoneNumber.objects.filter(account__holder=family, account__kind=AccountKind.ADVANCE_CONNECT, is_active=True)
        .exclude(account__status=AccountStatus.CLOSED)
        .select_related("account")
        .order_by("id")
        .first()
    )
    if number is None:
        return "\n".join(lines)
    if "GA-MSP" in inmates:
        # Already sponsored from another account: the demo goes on without it.
        with contextlib.suppress(SponsorshipError):
            sponsorship = sponsorship_start(
                account=number.account,
                facility=inmates["GA-MSP"].facility,
                inmate_number="1001456",
                actor=family,
                confirmed=True,
            )
            # The demo story: the family has paid for Marcus's calls since before the demo calls.
            since = timezone.now() - DEMO_HISTORY
            InmateDebitSponsorship.objects.filter(pk=sponsorship.pk, started_at__gt=since).update(started_at=since)
    now = timezone.now()
    demo_calls = [
        ("demo-call-1", "CT-HFD", 12 * 60 + 5, datetime.timedelta(days=6)),
        ("demo-call-2", "TX-HCJ", 9 * 60 + 40, datetime.timedelta(days=3)),
        ("demo-call-3", "GA-MSP", 14 * 60 + 2, datetime.timedelta(days=1)),
    ]
    for call_id, code, seconds, ago in demo_calls:
        if code not in inmates:
            continue
        call_complete(
            call_id=call_id,
            facility_code=code,
            inmate_number=inmates[code].inmate_number,
            dialed_number=number.number.as_e164,
            started_at=now - ago,
            duration_seconds=seconds,
            disconnect="normal",
            now=now,
        )
    lines.append(f"  Calls: demo history on account #{number.account_id} (one free Connecticut call, two paid).")
    return "\n".join(lines)
