from django.db import migrations

# FCC caps on ancillary charges (47 CFR 64.6020): automated $3.00, live agent $5.95, mail $0.00.
DEFAULT_FEES = {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}


def forward(apps, schema_editor):
    FeeSchedule = apps.get_model("billing", "FeeSchedule")
    for channel, fee_cents in DEFAULT_FEES.items():
        FeeSchedule.objects.get_or_create(channel=channel, defaults={"fee_cents": fee_cents})


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_payments_and_statements")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
