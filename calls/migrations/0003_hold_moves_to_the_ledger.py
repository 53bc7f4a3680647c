"""The hold model moves to the money kernel (billing.Hold); its table stays where it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("calls", "0002_connecticut_facilities")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="CallHold")]),
    ]
