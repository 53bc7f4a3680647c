"""The hold model joins the money kernel. State only: its table (calls_callhold), columns, indexes
and foreign keys stay as the calls app created them."""

import django.db.models.deletion
import phonenumber_field.modelfields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_outbox'),
        ('billing', '0008_inactivity_notice'),
        ('calls', '0003_hold_moves_to_the_ledger'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Hold',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('call_id', models.CharField(max_length=100, unique=True)),
                    ('facility_id', models.BigIntegerField()),
                    ('inmate_id', models.BigIntegerField()),
                    ('dialed_number', phonenumber_field.modelfields.PhoneNumberField(max_length=128, region=None)),
                    ('billing', models.CharField(max_length=20)),
                    ('amount_cents', models.BigIntegerField()),
                    ('max_seconds', models.PositiveIntegerField()),
                    ('response', models.JSONField(help_text='The authorization answer, returned again for a repeated call id.')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('expires_at', models.DateTimeField()),
                    ('released_at', models.DateTimeField(blank=True, null=True)),
                    ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='holds', to='accounts.callingaccount')),
                ],
                options={
                    'db_table': 'calls_callhold',
                    'ordering': ['-created_at', '-id'],
                    'indexes': [models.Index(condition=models.Q(('released_at__isnull', True)), fields=['account', 'expires_at'], name='hold_open_account_idx'), models.Index(condition=models.Q(('released_at__isnull', True)), fields=['expires_at'], name='hold_open_expiry_idx')],
                    'constraints': [models.CheckConstraint(condition=models.Q(('amount_cents__gte', 0)), name='hold_not_negative')],
                },
            ),
            ],
        ),
    ]
