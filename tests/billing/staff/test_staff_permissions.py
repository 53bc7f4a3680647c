"""Every staff view and action checks a permission: a staff member with none gets 403 on statements,
their PDFs, every admin action and every custom admin page; the roles are groups made by a migration
and assigned on the user form."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import DirectBillApplication
from billing.payments.models import StripeEvent
from billing.statements.models import Statement
from tests.factories import UserFactory
from tests.helpers import open_direct_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement():
    account = open_direct_bill()
    return Statement.objects.create(
        account=account,
        period_start_date="2026-10-01",
        period_end_date="2026-10-31",
        opening_balance_cents=0,
        closing_balance_cents=0,
        due_date="2026-11-21",
    )


def _staff(client, *codenames):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_staff_without_permission_get_403_on_statements_and_pdfs(client, statement):
    _staff(client)
    for name in ("billing:statement_detail", "billing:statement_pdf"):
        assert client.get(reverse(name, args=[statement.pk])).status_code == 403
    assert client.get(reverse("admin:billing_statement_change", args=[statement.pk])).status_code == 403


def test_staff_who_may_view_statements_read_them_and_their_pdfs(client, statement):
    _staff(client, "view_statement")
    assert client.get(reverse("billing:statement_detail", args=[statement.pk])).status_code == 200
    pdf = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def _registered_actions():
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or []:
            name = action if isinstance(action, str) else action.__name__
            yield model, name


@pytest.mark.parametrize(
    ("model", "action"),
    list(_registered_actions()),
    ids=[f"{m._meta.label_lower}.{a}" for m, a in _registered_actions()],
)
def test_every_admin_action_is_403_for_staff_without_permission(client, model, action):
    _staff(client)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.post(url, {"action": action, "_selected_action": ["1"], "apply": "1", "reason": "x"})
    assert response.status_code == 403


def test_an_action_needs_its_own_permission_not_only_view(client):
    event = StripeEvent.objects.create(event_id="evt_perm", event_type="payment_intent.succeeded", payload={})
    _staff(client, "view_stripeevent")
    url = reverse("admin:billing_stripeevent_changelist")
    page = client.get(url)
    assert page.status_code == 200 and 'value="process_now"' not in page.content.decode()
    client.post(url, {"action": "process_now", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.attempts == 0 and event.processed_at is None


def test_custom_admin_pages_are_403_without_permission(client, statement):
    _staff(client, "view_payment", "view_statement", "view_directbillapplication")
    application = DirectBillApplication.objects.get(account=statement.account)
    gets = [
        reverse("admin:billing_payment_add"),
        reverse("admin:billing_monthly_report"),
        reverse("admin:billing_reconciliationrun_changelist"),
        reverse("admin:billing_statement_mail_payment", args=[statement.pk]),
        reverse("admin:accounts_directbillapplication_approve", args=[application.pk]),
        reverse("admin:accounts_directbillapplication_decline", args=[application.pk]),
        reverse("admin:accounts_directbillapplication_credit_limit", args=[application.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("admin:billing_reconciliation_run")).status_code == 403


def test_the_roles_are_groups_with_the_permissions_they_need():
    perms = {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.filter(name__in=["agent", "billing", "supervisor"])
    }
    assert set(perms) == {"agent", "billing", "supervisor"}
    assert "billing.add_payment" in perms["agent"] and "billing.change_refund" not in perms["agent"]
    assert {"billing.run_reconciliation", "billing.change_dispute", "billing.process_stripeevent"} <= perms["billing"]
    assert perms["agent"] < perms["billing"] < perms["supervisor"]
    assert "billing.change_feeschedule" in perms["supervisor"] and "billing.change_feeschedule" not in perms["billing"]


def test_roles_are_assigned_on_the_user_form(admin_client):
    agent = Group.objects.get(name="agent")
    user = UserFactory(is_staff=True)
    page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    assert 'name="groups"' in page and ">agent<" in page
    user.groups.add(agent)
    assert user.has_perm("billing.add_payment") and not user.has_perm("billing.change_refund")


def test_recording_a_mail_payment_on_a_statement_needs_to_see_statements_too(client, statement):
    _staff(client, "add_payment")
    assert client.get(reverse("admin:billing_statement_mail_payment", args=[statement.pk])).status_code == 403
