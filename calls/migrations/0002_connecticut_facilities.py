"""The Connecticut Department of Correction facilities. Public Act 21-54 made their calls free from
2022-10-01; before that they were billed at $0.21 per minute plus Connecticut's 6.35% sales tax."""

import datetime
from decimal import Decimal

from django.db import migrations

FREE_FROM = datetime.date(2022, 10, 1)
PAID_FROM = datetime.date(2015, 1, 1)

# (code, name, town)
FACILITIES = [
    ("CT-BPT", "Bridgeport Correctional Center", "Bridgeport"),
    ("CT-BKN", "Brooklyn Correctional Institution", "Brooklyn"),
    ("CT-CHE", "Cheshire Correctional Institution", "Cheshire"),
    ("CT-COR", "Corrigan-Radgowski Correctional Center", "Uncasville"),
    ("CT-GAR", "Garner Correctional Institution", "Newtown"),
    ("CT-HFD", "Hartford Correctional Center", "Hartford"),
    ("CT-MWI", "MacDougall-Walker Correctional Institution", "Suffield"),
    ("CT-MYI", "Manson Youth Institution", "Cheshire"),
    ("CT-NHV", "New Haven Correctional Center", "New Haven"),
    ("CT-OSB", "Osborn Correctional Institution", "Somers"),
    ("CT-ROB", "Robinson Correctional Institution", "Enfield"),
    ("CT-CYB", "Willard-Cybulski Correctional Reintegration Center", "Enfield"),
    ("CT-YCI", "York Correctional Institution", "Niantic"),
]


def forward(apps, schema_editor):
    Facility = apps.get_model("calls", "Facility")
    RatePlan = apps.get_model("calls", "RatePlan")
    for code, name, town in FACILITIES:
        facility, _ = Facility.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "town": town,
                "state": "CT",
                # Connecticut runs a unified state system: every facility is a state prison.
                "facility_type": "prison",
                "size_tier": "",
                "time_zone": "America/New_York",
                "cell_phones_allowed": True,
                "max_call_minutes": 15,
            },
        )
        RatePlan.objects.get_or_create(
            facility=facility,
            effective_from_date=PAID_FROM,
            defaults={
                "name": "Connecticut DOC paid calls",
                "rate_per_minute": Decimal("0.2100"),
                "tax_rate": Decimal("0.06350"),
                "effective_to_date": FREE_FROM - datetime.timedelta(days=1),
            },
        )
        RatePlan.objects.get_or_create(
            facility=facility,
            effective_from_date=FREE_FROM,
            defaults={"name": "Public Act 21-54 free calls", "rate_per_minute": Decimal("0"), "tax_rate": Decimal("0")},
        )


class Migration(migrations.Migration):
    dependencies = [("calls", "0001_initial")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
