"""Auto-reload's monthly limit now counts what the card pays (amount and fee). Terms saved before
may be below one reload with its fee: ask the outbox, once, to pause those and tell their holders
(the same re-check that runs after each change of the web fee)."""

from django.db import migrations, models
from django.utils import timezone

TERMS_RECHECK = "billing.auto_reload_terms_recheck"


def recheck_saved_terms(apps, schema_editor):
    if not apps.get_model("billing", "AutoReload").objects.filter(enabled=True).exists():
        return
    apps.get_model("accounts", "OutboxMessage").objects.create(
        kind=TERMS_RECHECK, payload={}, available_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_outbox"),
        ("billing", "0014_refund_reductions_and_approval"),
    ]

    operations = [
        migrations.AlterField(
            model_name="autoreload",
            name="stopped_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("authentication_required", "your bank asked to confirm the payment"),
                    ("declined", "your card was declined"),
                    ("holder", "you turned it off"),
                    ("cap_below_cost", "its monthly limit no longer covers one reload with its fee"),
                ],
                max_length=30,
            ),
        ),
        migrations.RunPython(recheck_saved_terms, migrations.RunPython.noop),
    ]
