"""Emails to holders. Called after commit (never inside a transaction that may roll back)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation


def recipient_language(email: str) -> str:
    """The preferred language of the holder with this email address (English when there is none)."""
    from .models import Language, User

    language = User.objects.filter(email__iexact=email).values_list("preferred_language", flat=True).first()
    return language or Language.ENGLISH


def send_templated(*, to: str, template: str, context: dict, language: str | None = None) -> None:
    """Render `email/<template>_subject.txt` and `email/<template>.txt` and send them.

    The email is written in `language`, by default the recipient's preferred language.
    """
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    with translation.override(language or recipient_language(to)):
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
