"""Refunds reduced by charges reported after a close, check refunds with the address they go to, and
a second staff member's approval of some check refunds.

Check refunds made before this change take their address from the holder's profile; one still
pending whose holder has no address waits for one."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def addresses_from_profiles(apps, schema_editor):
    Refund = apps.get_model("billing", "Refund")
    for refund in Refund.objects.filter(method="check", mailing_address="").select_related("account__holder"):
        holder = refund.account.holder
        city_line = " ".join(part for part in (f"{holder.city},", holder.state, holder.postal_code) if part.strip(", "))
        lines = [f"{holder.first_name} {holder.last_name}".strip(), holder.address_line1, holder.address_line2, city_line]
        if holder.address_line1:
            refund.mailing_address = "\n".join(line for line in lines if line)
        elif refund.status == "pending":
            refund.status = "needs_address"
        elif refund.status == "succeeded":
            refund.mailing_address = "(not recorded)"
        refund.save(update_fields=["mailing_address", "status"])


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_holder_zone_and_facility'),
        ('billing', '0013_staff_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RefundReduction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cause', models.CharField(max_length=200)),
                ('amount_cents', models.BigIntegerField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='refund',
            name='refund_amount_positive',
        ),
        migrations.AddField(
            model_name='refund',
            name='approval_needed',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='refund',
            name='approved_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='approved_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='refund',
            name='mailing_address',
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name='refund',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('needs_address', 'Waiting for a mailing address'), ('succeeded', 'Sent'), ('failed', 'Failed'), ('canceled', 'Canceled')], default='pending', max_length=20),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(('amount_cents__gt', 0), models.Q(('amount_cents', 0), ('status', 'canceled')), _connector='OR'), name='refund_amount_positive'),
        ),
        migrations.RunPython(addresses_from_profiles, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('method', 'check'), ('status__in', ['pending', 'succeeded']), _negated=True), models.Q(('mailing_address', ''), _negated=True), _connector='OR'), name='check_refund_has_address'),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('approval_needed', True), ('method', 'check'), ('status', 'succeeded'), _negated=True), ('approved_by__isnull', False), _connector='OR'), name='sent_check_refund_approved'),
        ),
        migrations.AddField(
            model_name='refundreduction',
            name='entry',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='refund_reduction', to='billing.journalentry'),
        ),
        migrations.AddField(
            model_name='refundreduction',
            name='refund',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='reductions', to='billing.refund'),
        ),
        migrations.AddConstraint(
            model_name='refundreduction',
            constraint=models.UniqueConstraint(fields=('refund', 'cause'), name='refund_reduction_once_per_cause'),
        ),
        migrations.AddConstraint(
            model_name='refundreduction',
            constraint=models.CheckConstraint(condition=models.Q(('amount_cents__gt', 0)), name='refund_reduction_positive'),
        ),
    ]
