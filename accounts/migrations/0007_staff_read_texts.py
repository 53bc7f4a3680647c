"""Every staff role reads texts, their delivery statuses, consents and STOPs (families ask whether a
text went out; an "unknown" one is checked by staff)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = [
    "view_textmessage",
    "view_textstatusevent",
    "view_textconsent",
    "view_textoptout",
    "view_textreceived",
]
ROLES = ["agent", "billing", "supervisor"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations ran: create them now so the groups get them.
    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = list(Permission.objects.filter(content_type__app_label="accounts", codename__in=PERMISSIONS))
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*wanted)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = list(Permission.objects.filter(content_type__app_label="accounts", codename__in=PERMISSIONS))
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_texts_consent_and_codes"),
        ("billing", "0013_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
