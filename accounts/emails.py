"""Emails to holders. Called after commit (never inside a transaction that may roll back)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse


def send_templated(*, to: str, template: str, context: dict) -> None:
    """Render `email/<template>_subject.txt` and `email/<template>.txt` and send them."""
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
    body = render_to_string(f"email/{template}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])


def send_account_activated(*, account_id: int) -> None:
    from .models import CallingAccount

    account = CallingAccount.objects.select_related("holder").get(pk=account_id)
    send_templated(
        to=account.holder.email,
        template="account_activated",
        context={"account": account, "account_url": reverse("accounts:account_detail", args=[account.pk])},
    )
