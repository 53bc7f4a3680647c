"""Staff powers and sign-in guards kept apart: only a superuser grants powers on the user form; the
staff lockout and the family login count their failures separately; the language cookie's flags."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from tests.factories import UserFactory

from .forms_catalog import STAFF_PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
ATTACKER = "203.0.113.5"


@pytest.fixture
def supervisor(client):
    user = UserFactory(email="lead@familyline.example", is_staff=True)
    user.groups.add(Group.objects.get(name="supervisor"))
    client.force_login(user)
    return user


def _user_form(user, **changes) -> dict:
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "preferred_language": user.preferred_language,
        "address_line1": user.address_line1,
        "address_line2": user.address_line2,
        "city": user.city,
        "state": user.state,
        "postal_code": user.postal_code,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_a_supervisor_cannot_make_themself_a_superuser_or_add_groups_or_permissions(client, supervisor):
    every_permission = list(Permission.objects.values_list("pk", flat=True)[:20])
    billing = Group.objects.get(name="billing")
    url = reverse("admin:accounts_user_change", args=[supervisor.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="is_superuser"' not in page.content and b'name="user_permissions"' not in page.content
    response = client.post(
        url,
        _user_form(
            supervisor,
            first_name="Renamed",
            is_superuser="on",
            groups=[billing.pk],
            user_permissions=every_permission,
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    supervisor.refresh_from_db()
    # The name changed (a supervisor may still edit users), the powers did not.
    assert supervisor.first_name == "Renamed"
    assert not supervisor.is_superuser
    assert list(supervisor.groups.values_list("name", flat=True)) == ["supervisor"]
    assert not supervisor.user_permissions.exists()


def test_a_supervisor_cannot_give_another_user_powers(client, supervisor):
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="agent"))
    url = reverse("admin:accounts_user_change", args=[agent.pk])
    client.post(
        url,
        _user_form(
            agent,
            is_superuser="on",
            groups=[Group.objects.get(name="supervisor").pk],
            user_permissions=list(Permission.objects.filter(codename="change_user").values_list("pk", flat=True)),
        ),
    )
    agent.refresh_from_db()
    assert not agent.is_superuser
    assert list(agent.groups.values_list("name", flat=True)) == ["agent"]
    assert not agent.user_permissions.exists()

    # A superuser still grants them.
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    supervisor_group = Group.objects.get(name="supervisor")
    response = client.post(url, _user_form(agent, is_superuser="on", groups=[supervisor_group.pk]))
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.is_superuser and list(agent.groups.all()) == [supervisor_group]


def _staff_login(client, email, password, address=ATTACKER):
    return client.post(
        "/admin/login/", {"username": email, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def _family_login(client, email, password, address=ATTACKER):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=address)


def test_a_staff_lockout_does_not_lock_families_at_that_address_out(client, staff):
    family = UserFactory()
    for attempt in range(10):
        _staff_login(client, staff.email, f"wrong {attempt}")
    assert _staff_login(client, staff.email, STAFF_PASSWORD).status_code == 429
    # A family member at the same address mistypes once: allauth's ordinary error, not an hour's lockout.
    typo = _family_login(client, family.email, "a typo")
    assert typo.status_code == 200 and b"Sign-in locked" not in typo.content
    assert _family_login(client, family.email, "correct horse battery").status_code == 302
    # Signing a family in from that address does not lift the staff lockout either.
    client.logout()
    assert _staff_login(client, staff.email, STAFF_PASSWORD).status_code == 429


def test_family_failures_do_not_count_toward_the_staff_lockout(client, staff):
    # Ten is also allauth's own limit per address and minute: it refuses the next ones itself.
    for attempt in range(10):
        _family_login(client, f"guess{attempt}@example.com", f"wrong {attempt}")
    assert not AccessAttempt.objects.exists()
    # Still an audit row for each.
    assert AccessFailureLog.objects.filter(ip_address=ATTACKER, path_info=reverse("account_login")).count() == 10
    assert _staff_login(client, staff.email, STAFF_PASSWORD).status_code == 302


def test_the_language_cookie_is_same_site_lax(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    cookie = response.cookies["django_language"]
    assert cookie["samesite"] == "Lax"


def test_the_language_cookie_is_secure_in_production():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/familyline",
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_example",
    }
    code = "from django.conf import settings; print(settings.LANGUAGE_COOKIE_SECURE, settings.LANGUAGE_COOKIE_SAMESITE)"
    command = [sys.executable, "manage.py", "shell", "--no-imports", "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "Lax"]


def test_a_supervisor_cannot_change_a_superusers_email_or_password(client, supervisor):
    boss = UserFactory(email="boss@familyline.example", is_staff=True, is_superuser=True)
    url = reverse("admin:accounts_user_change", args=[boss.pk])
    client.post(url, _user_form(boss, email="lead+takeover@familyline.example"))
    refused = client.post(
        reverse("admin:auth_user_password_change", args=[boss.pk]),
        {
            "password1": "a new password for the boss",
            "password2": "a new password for the boss",
            "usable_password": "true",
        },
    )
    assert refused.status_code == 403
    boss.refresh_from_db()
    assert boss.email == "boss@familyline.example"
    assert boss.check_password("correct horse battery")
    assert client.get(url).status_code == 200  # still readable
