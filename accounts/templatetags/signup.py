"""What the sign-up page may promise: whether this site requires a confirmed email address
(ACCOUNT_EMAIL_VERIFICATION is "mandatory" in production and tests, "optional" for `make run`)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def email_verification_mandatory() -> bool:
    return settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
