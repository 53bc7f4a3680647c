"""Emails to holders. Services never send from inside their transaction: they write an outbox row
(`account_email_enqueue`, or a kind of their own), and the outbox sends after commit."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from .models import CallingAccount, Language, User
from .outbox import outbox_enqueue, outbox_handler
from .texts.notices import account_text_enqueue


def recipient_language(email: str) -> str:
    """The preferred language of the holder with this email address (English when there is none)."""
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


def account_email_enqueue(*, account_id: int, template: str, **extra) -> None:
    """Email the holder of an account after commit (and text the numbers that agreed to texts, when
    the notice goes by text). `extra` (JSON values) joins the template context."""
    outbox_enqueue(kind="email.account", payload={"account_id": account_id, "template": template, "extra": extra})
    account_text_enqueue(account_id=account_id, template=template, **extra)


@outbox_handler("email.account")
def account_email_send(*, account_id: int, template: str, extra: dict) -> None:
    account = CallingAccount.objects.select_related("holder").get(pk=account_id)
    context = {"account": account, "account_url": reverse("accounts:account_detail", args=[account.pk]), **extra}
    send_templated(to=account.holder.email, template=template, context=context)
