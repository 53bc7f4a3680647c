"""The ledger's models leave the billing app for the ledger app (billing.ledger). State only: the
foreign keys to journal entries now name ledger.JournalEntry; the tables and their rows stay."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0018_single_call_payments_and_refunds"),
        ("calls", "0010_ledger_moves_to_its_app"),
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='hold',
                    name='account',
                ),
                migrations.RemoveField(
                    model_name='journalentry',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='journalentry',
                    name='reverses',
                ),
                migrations.AlterField(
                    model_name='statementline',
                    name='entry',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.journalentry'),
                ),
                migrations.RemoveField(
                    model_name='posting',
                    name='entry',
                ),
                migrations.AlterField(
                    model_name='refund',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='payment',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='payment', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='dispute',
                    name='close_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='dispute_close', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='refundreduction',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund_reduction', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='adjustment',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adjustment', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='refund',
                    name='sent_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund_sent', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='dispute',
                    name='hold_entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='dispute_hold', to='ledger.journalentry'),
                ),
                migrations.AlterField(
                    model_name='callcreditrequest',
                    name='entry',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='call_credit', to='ledger.journalentry'),
                ),
                migrations.RemoveField(
                    model_name='ledgeraccount',
                    name='calling_account',
                ),
                migrations.RemoveField(
                    model_name='posting',
                    name='ledger_account',
                ),
                migrations.DeleteModel(
                    name='Hold',
                ),
                migrations.DeleteModel(
                    name='JournalEntry',
                ),
                migrations.DeleteModel(
                    name='LedgerAccount',
                ),
                migrations.DeleteModel(
                    name='Posting',
                ),
            ],
        ),
    ]
