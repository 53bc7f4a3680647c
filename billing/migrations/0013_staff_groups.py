"""The staff roles as groups with their permissions: agents answer families' calls, billing keeps the
books, supervisors do both and run the shop. Assigned on the user form (Groups)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT = [
    "accounts.view_user",
    "accounts.view_callingaccount",
    "accounts.view_phonenumber",
    "accounts.view_accountevent",
    "accounts.view_directbillapplication",
    "billing.view_payment",
    "billing.add_payment",
    "billing.view_statement",
    "billing.view_statementline",
    "billing.view_refund",
    "billing.view_adjustment",
    "billing.view_callcreditrequest",
    "billing.view_feeschedule",
    "calls.view_callrecord",
    "calls.view_facility",
    "calls.view_rateplan",
    "calls.view_inmate",
    "calls.view_inmatedebitsponsorship",
    "calls.view_blockednumber",
]
BILLING = AGENT + [
    "accounts.change_directbillapplication",
    "accounts.view_outboxmessage",
    "billing.change_callcreditrequest",
    "billing.add_adjustment",
    "billing.change_refund",
    "billing.view_dispute",
    "billing.change_dispute",
    "billing.view_journalentry",
    "billing.view_posting",
    "billing.view_ledgeraccount",
    "billing.view_stripeevent",
    "billing.process_stripeevent",
    "billing.view_reconciliationrun",
    "billing.view_reconciliationdifference",
    "billing.run_reconciliation",
    "billing.view_reports",
    "billing.view_hold",
]
SUPERVISOR = BILLING + [
    "accounts.change_user",
    "accounts.change_callingaccount",
    "billing.change_feeschedule",
    "calls.add_facility",
    "calls.change_facility",
    "calls.add_rateplan",
    "calls.change_rateplan",
    "calls.add_inmate",
    "calls.change_inmate",
    "calls.change_inmatedebitsponsorship",
    "calls.add_blockednumber",
    "calls.change_blockednumber",
    "calls.view_platformtoken",
    "calls.add_platformtoken",
    "calls.change_platformtoken",
    "calls.view_platformtokenalert",
    "calls.change_platformtokenalert",
]
ROLES = {"agent": AGENT, "billing": BILLING, "supervisor": SUPERVISOR}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran: create them now so the groups get them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0004_alerts_and_auto_reload"),
        ("billing", "0012_staff_operations"),
        ("calls", "0005_several_sponsors_and_caps"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
