"""A call record's entry is now a ledger.JournalEntry (the model moved apps; its table did not).
State only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("calls", "0009_single_calls_and_line_type_lookups"),
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='callrecord',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='call_record', to='ledger.journalentry'),
                ),
            ],
        ),
    ]
