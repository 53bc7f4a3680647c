"""The ledger's models move from the billing app to the ledger app. State only: their tables
(billing_ledgeraccount, billing_journalentry, billing_posting, calls_callhold), columns, constraints,
indexes, foreign keys and the postings' append-only trigger stay as they are; no row moves.

Their content types move with them, so every permission on them (and every group holding one) keeps
pointing at the same models under the new app label."""

import django.db.models.deletion
import phonenumber_field.modelfields
from django.conf import settings
from django.db import migrations, models

MOVED = ["ledgeraccount", "journalentry", "posting", "hold"]


def _relabel(apps, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        moving = ContentType.objects.filter(app_label=source, model=model)
        if not moving.exists():
            continue
        # A content type created under the new label before this ran (it has no rows of its own) gives way.
        ContentType.objects.filter(app_label=target, model=model).delete()
        moving.update(app_label=target)


def content_types_to_ledger(apps, schema_editor):
    _relabel(apps, "billing", "ledger")


def content_types_to_billing(apps, schema_editor):
    _relabel(apps, "ledger", "billing")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("accounts", "0008_phone_pins_and_sessions"),
        ("billing", "0018_single_call_payments_and_refunds"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='JournalEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('idempotency_key', models.CharField(max_length=200, unique=True)),
                        ('kind', models.CharField(choices=[('payment', 'Payment'), ('call', 'Call charge'), ('adjustment', 'Adjustment'), ('refund', 'Refund'), ('reversal', 'Reversal')], max_length=20)),
                        ('memo', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('reverses', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversed_by', to='ledger.journalentry')),
                    ],
                    options={
                        'verbose_name_plural': 'journal entries',
                        'db_table': 'billing_journalentry',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='LedgerAccount',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(max_length=64, unique=True)),
                        ('name', models.CharField(max_length=200)),
                        ('balance_cents', models.BigIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('calling_account', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_account', to='accounts.callingaccount')),
                    ],
                    options={
                        'db_table': 'billing_ledgeraccount',
                        'ordering': ['code'],
                    },
                ),
                migrations.CreateModel(
                    name='Posting',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount_cents', models.BigIntegerField()),
                        ('entry', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='postings', to='ledger.journalentry')),
                        ('ledger_account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='postings', to='ledger.ledgeraccount')),
                    ],
                    options={
                        'db_table': 'billing_posting',
                        'ordering': ['entry_id', 'id'],
                    },
                ),
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
                migrations.AddConstraint(
                    model_name='ledgeraccount',
                    constraint=models.CheckConstraint(condition=models.Q(('calling_account__isnull', True), ('balance_cents__isnull', False), _connector='OR'), name='calling_ledger_keeps_balance'),
                ),
                migrations.AddIndex(
                    model_name='posting',
                    index=models.Index(fields=['ledger_account', 'entry'], name='posting_account_entry_idx'),
                ),
                migrations.AddConstraint(
                    model_name='posting',
                    constraint=models.CheckConstraint(condition=models.Q(('amount_cents', 0), _negated=True), name='posting_not_zero'),
                ),
            ],
        ),
        migrations.RunPython(content_types_to_ledger, content_types_to_billing),
    ]
