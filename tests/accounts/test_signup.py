"""Sign-up with mandatory email verification, login, logout, password reset, profile."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User


def link_in(message) -> str:
    return re.search(r"https?://[^\s]+", message.body).group(0)


@pytest.mark.django_db
def test_signup_requires_email_verification_then_logs_in(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "ana@example.com",
            "password1": "a long family password",
            "password2": "a long family password",
            "first_name": "Ana",
            "last_name": "Reyes",
            "preferred_language": "es",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="ana@example.com")
    assert (user.first_name, user.last_name, user.preferred_language) == ("Ana", "Reyes", "es")
    assert len(mail.outbox) == 1
    assert client.get(reverse("accounts:dashboard")).status_code == 302  # not logged in yet

    login = client.post(reverse("account_login"), {"login": "ana@example.com", "password": "a long family password"})
    assert login["Location"] == reverse("account_email_verification_sent")

    confirm_url = link_in(mail.outbox[-1])
    path = confirm_url.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    confirmed = client.post("/" + path)
    assert confirmed.status_code == 302
    assert client.get(reverse("accounts:dashboard")).status_code == 200


def test_login_logout(client, holder):
    EmailAddress.objects.create(user=holder, email=holder.email, verified=True, primary=True)
    response = client.post(reverse("account_login"), {"login": holder.email, "password": "correct horse battery"})
    assert response["Location"] == reverse("accounts:dashboard")
    assert client.get(reverse("accounts:dashboard")).status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(reverse("accounts:dashboard")).status_code == 302


def test_password_reset_sends_a_working_link(client, holder):
    EmailAddress.objects.create(user=holder, email=holder.email, verified=True, primary=True)
    client.post(reverse("account_reset_password"), {"email": holder.email})
    assert len(mail.outbox) == 1
    url = link_in(mail.outbox[0])
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    done = client.post(action, {"password1": "another long password", "password2": "another long password"})
    assert done.status_code == 302
    holder.refresh_from_db()
    assert holder.check_password("another long password")


def test_profile_keeps_name_address_and_language(client, holder):
    client.force_login(holder)
    response = client.post(
        reverse("accounts:profile"),
        {
            "first_name": "Rosa",
            "last_name": "Diaz",
            "preferred_language": "es",
            "address_line1": "5 Harbor Rd",
            "address_line2": "",
            "city": "Juneau",
            "state": "AK",
            "postal_code": "99801",
        },
    )
    assert response.status_code == 302
    holder.refresh_from_db()
    assert (holder.first_name, holder.state, holder.postal_code, holder.preferred_language) == (
        "Rosa",
        "AK",
        "99801",
        "es",
    )


def test_profile_refuses_a_bad_zip_code_and_changes_nothing(client, holder):
    client.force_login(holder)
    response = client.post(
        reverse("accounts:profile"),
        {
            "first_name": "Rosa",
            "last_name": "Diaz",
            "preferred_language": "en",
            "address_line1": "5 Harbor Rd",
            "city": "Juneau",
            "state": "AK",
            "postal_code": "ABCDE",
        },
    )
    assert response.status_code == 200
    assert "Enter a 5-digit ZIP code" in response.content.decode()
    holder.refresh_from_db()
    assert holder.state == "CT"
