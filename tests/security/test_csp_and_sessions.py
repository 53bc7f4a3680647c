"""Content-Security-Policy on every page; 12-character passwords; idle sessions end (staff sooner);
a cap on open accounts; seed_demo refused under production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.contrib import admin
from django.urls import reverse

from accounts.middleware import stripe_csp_sources
from accounts.models import AccountStatus, CallingAccount
from billing.statements.adjustments import AdjustmentError, adjustment_create

from .forms_catalog import build_world

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world():
    return build_world()


def _family_pages(w) -> list[str]:
    account, statement = w["account"], w["statement"]
    return [
        reverse("accounts:dashboard"),
        reverse("accounts:profile"),
        reverse("accounts:account_detail", args=[account.pk]),
        reverse("accounts:account_close", args=[account.pk]),
        reverse("accounts:number_edit", args=[w["number"].pk]),
        reverse("texts:number_texts", args=[w["number"].pk]),
        reverse("accounts:direct_bill"),
        reverse("accounts:direct_bill_apply"),
        reverse("calls:history", args=[account.pk]),
        reverse("calls:sponsorships", args=[account.pk]),
        reverse("billing:fund"),
    ], [
        reverse("billing:statement_list"),
        reverse("billing:statement_detail", args=[statement.pk]),
        reverse("billing:statement_pay", args=[statement.pk]),
    ]


PUBLIC = ["/", "/auth/login/", "/auth/signup/", "/auth/password/reset/", "/admin/login/", "/block/"]


def _directives(response) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: its sources}."""
    policy = response.get("Content-Security-Policy", "")
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())


def _assert_policy(response, path):
    assert response.status_code < 500, path
    assert response.get("Content-Security-Policy", ""), path
    directives = _directives(response)
    assert directives["default-src"] == "'self'", path
    assert "'unsafe-inline'" not in directives["script-src"], path
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'", path
    return directives


def test_every_page_carries_the_policy(client, world):
    for path in PUBLIC:
        _assert_policy(client.get(path), path)
    prepaid_pages, direct_bill_pages = _family_pages(world)
    client.force_login(world["holder"])
    for path in prepaid_pages:
        directives = _assert_policy(client.get(path), path)
        assert "'unsafe-inline'" not in directives["style-src"], path
    client.force_login(world["ak"])
    for path in direct_bill_pages:
        _assert_policy(client.get(path), path)
    client.force_login(world["staff"])
    pages = ["/admin/"] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    ]
    for path in pages:
        _assert_policy(client.get(path), path)


def test_the_policy_names_only_the_stripe_origins_in_settings(settings, client, world):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_API_BASE = "https://api.stripe.com"
    assert stripe_csp_sources() == {
        "script-src": ["https://js.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
        "connect-src": ["https://api.stripe.com"],
    }
    client.force_login(world["holder"])
    # Directives in any order: the header's order is not part of the policy.
    directives = _directives(client.get(reverse("billing:fund")))
    assert directives["script-src"] == "'self' https://js.stripe.com"
    assert directives["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert directives["connect-src"] == "'self' https://api.stripe.com"
    settings.STRIPE_JS_URL = "http://localhost:8420/js.stripe.com/v3/"
    settings.STRIPE_API_BASE = "http://localhost:8420"
    response = client.get(reverse("billing:fund"))
    assert _directives(response)["script-src"] == "'self' http://localhost:8420"
    assert "stripe.com" not in response["Content-Security-Policy"]


def test_a_password_under_twelve_characters_is_refused_at_sign_up(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "short@example.com",
            "password1": "Tr0ub4dor&3",  # 11 characters
            "password2": "Tr0ub4dor&3",
            "first_name": "Sam",
            "last_name": "Short",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 200
    assert b"at least 12 characters" in response.content


def test_staff_sessions_end_after_thirty_idle_minutes(client, world):
    with time_machine.travel("2026-10-01 12:00:00", tick=False) as clock:
        client.force_login(world["staff"])
        assert client.get("/admin/").status_code == 200
        clock.shift(29 * 60)
        assert client.get("/admin/").status_code == 200  # activity renews the stamp
        clock.shift(31 * 60)
        response = client.get("/admin/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
        assert "_auth_user_id" not in client.session


def test_family_sessions_last_longer_and_are_configurable(settings, client, world):
    with time_machine.travel("2026-10-01 12:00:00", tick=False) as clock:
        client.force_login(world["holder"])
        assert client.get(reverse("accounts:dashboard")).status_code == 200
        clock.shift(60 * 60)
        assert client.get(reverse("accounts:dashboard")).status_code == 200
        clock.shift(121 * 60)
        response = client.get(reverse("accounts:dashboard"))
        assert response.status_code == 302 and "/auth/login/" in response["Location"]


def test_a_holder_cannot_open_more_accounts_than_the_cap(settings, client, world):
    settings.MAX_OPEN_ACCOUNTS_PER_HOLDER = 2
    client.force_login(world["holder"])  # one open account already
    assert client.post(reverse("accounts:account_open")).status_code == 302
    open_accounts = CallingAccount.objects.filter(holder=world["holder"]).exclude(status=AccountStatus.CLOSED)
    assert open_accounts.count() == 2
    response = client.post(reverse("accounts:account_open"), follow=True)
    assert b"You already have 2 open accounts" in response.content
    assert open_accounts.count() == 2


def test_an_adjustment_reason_is_bounded_in_the_form_and_the_service(client, world, settings):
    with pytest.raises(AdjustmentError):
        adjustment_create(account=world["account"], amount_cents=100, reason="x" * 1001, actor=world["staff"])
    client.force_login(world["staff"])
    response = client.post(
        reverse("admin:billing_adjustment_add"),
        {"account": world["account"].pk, "direction": "credit", "amount": "1.00", "reason": "x" * 1001},
    )
    assert response.status_code == 200 and b"at most 1000 characters" in response.content


def _manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 60,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/fl_hardening_nonexistent",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
}


def test_seed_demo_refuses_production_settings():
    result = _manage("seed_demo", env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "seed_demo refuses to run here" in result.stderr
