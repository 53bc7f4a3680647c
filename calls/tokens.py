"""Staff tools for the platform's bearer tokens."""

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import Facility, PlatformToken
from .selectors import token_hash


@transaction.atomic
def platform_token_create(
    *, name: str, actor: User | None, facilities: Iterable[Facility] = ()
) -> tuple[PlatformToken, str]:
    """A new bearer token, limited to `facilities` when some are given. The raw token is returned once
    and never stored."""
    raw = "flp_" + secrets.token_urlsafe(32)
    token = PlatformToken.objects.create(name=name, token_prefix=raw[:10], token_hash=token_hash(raw), created_by=actor)
    if facilities:
        token.facilities.set(facilities)
    return token, raw


def platform_token_revoke(*, token: PlatformToken) -> None:
    PlatformToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
