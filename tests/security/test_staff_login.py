"""Staff login (/admin/login/) under django-axes: lockout per account and per address, the audit
rows, a supervisor's unlock, and the client address behind the proxy."""

import pytest
from allauth import app_settings as allauth_settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from axes.utils import reset
from django.test import RequestFactory
from django.urls import reverse

from accounts.security import client_ip
from tests.factories import UserFactory

from .forms_catalog import STAFF_PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"


def _login(client, email, password, **extra):
    return client.post(LOGIN, {"username": email, "password": password, "next": "/admin/"}, **extra)


def test_eleventh_wrong_staff_password_is_locked_out_and_the_right_one_refused(client, staff):
    for attempt in range(1, 10):
        response = _login(client, staff.email, f"wrong password {attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
    # The tenth failure reaches AXES_FAILURE_LIMIT: it is answered with the lockout already.
    assert _login(client, staff.email, "wrong password 10").status_code == 429
    eleventh = _login(client, staff.email, "wrong password 11")
    assert eleventh.status_code == 429
    assert b"Sign-in locked" in eleventh.content
    right = _login(client, staff.email, STAFF_PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not signed in

    # The audit rows: the attempt (with its failure count) and one failure log per wrong password.
    attempt = AccessAttempt.objects.get(username=staff.email)
    assert attempt.failures_since_start >= 10 and attempt.ip_address == "127.0.0.1"
    assert AccessFailureLog.objects.filter(username=staff.email).count() >= 10


def test_a_supervisor_unlocks_a_locked_account_in_the_admin(client, staff):
    locked = UserFactory(email="agent@familyline.example", is_staff=True)
    for attempt in range(11):
        _login(client, locked.email, f"wrong {attempt}", REMOTE_ADDR="10.1.1.1")
    assert _login(client, locked.email, "correct horse battery", REMOTE_ADDR="10.1.1.1").status_code == 429

    # The supervisor (another address) opens the axes admin and deletes the attempt.
    supervisor = client.__class__()
    supervisor.force_login(staff)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert supervisor.get(changelist).status_code == 200
    attempt = AccessAttempt.objects.get(username=locked.email)
    response = supervisor.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not AccessAttempt.objects.filter(username=locked.email).exists()

    assert _login(client, locked.email, "correct horse battery", REMOTE_ADDR="10.1.1.1").status_code == 302
    assert client.session["_auth_user_id"] == str(locked.pk)
    assert AccessLog.objects.filter(username=locked.email).exists()  # the successful login is logged


def test_axes_reset_by_username_also_unlocks(client, staff):
    for attempt in range(11):
        _login(client, staff.email, f"wrong {attempt}")
    assert reset(username=staff.email) >= 1
    assert _login(client, staff.email, STAFF_PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(client, staff):
    for attempt in range(10):
        _login(client, f"nobody{attempt}@familyline.example", "guess", REMOTE_ADDR="203.0.113.7")
    # A different account from the same address: refused, even with the right password.
    assert _login(client, staff.email, STAFF_PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    # The same account from another address is not locked (its own failures are below the limit).
    assert _login(client, staff.email, STAFF_PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 302


def test_behind_the_proxy_the_address_comes_from_the_trusted_hop(settings, client, staff):
    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()
    request = factory.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "203.0.113.9"  # what our proxy saw, not what the client wrote
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"

    # A client rotating a forged X-Forwarded-For entry is still one address to axes.
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(10):
        _login(
            client,
            f"nobody{attempt}@familyline.example",
            "guess",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{attempt}, 203.0.113.9",
        )
    response = _login(
        client, staff.email, STAFF_PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.9"
    )
    assert response.status_code == 429
    assert AccessAttempt.objects.filter(ip_address="203.0.113.9").exists()


def test_allauth_uses_the_same_trusted_proxy_count(settings):
    assert settings.ALLAUTH_TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT
    assert allauth_settings.TRUSTED_PROXY_COUNT == settings.TRUSTED_PROXY_COUNT


def test_family_login_is_limited_by_allauth_and_only_recorded_by_axes(client):
    """Axes enforces lockouts on /admin/ only (AXES_ONLY_ADMIN_SITE); on the family login it keeps
    an audit row per failure, and allauth's own limits (per email, per address) apply."""
    guessed, other = UserFactory(), UserFactory()
    for attempt in range(5):
        client.post(reverse("account_login"), {"login": guessed.email, "password": f"wrong {attempt}"})
    # Recorded for the audit, never as an attempt that counts toward the staff lockout.
    assert AccessFailureLog.objects.filter(ip_address="127.0.0.1", username=guessed.email).count() == 5
    assert not AccessAttempt.objects.filter(ip_address="127.0.0.1").exists()
    # allauth now refuses that email for a while, even with its right password...
    refused = client.post(reverse("account_login"), {"login": guessed.email, "password": "correct horse battery"})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    # ...and another family member at the same address still logs in.
    response = client.post(reverse("account_login"), {"login": other.email, "password": "correct horse battery"})
    assert response.status_code == 302
