"""Alerts on platform tokens, for staff (calls.PlatformTokenAlert in the admin)."""

import datetime
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import PlatformToken, PlatformTokenAlert

logger = logging.getLogger(__name__)


def token_unauthorized_complete_record(*, token: PlatformToken, now: datetime.datetime | None = None) -> bool:
    """Count a charged complete that had no prior authorization for `token` in the current hour;
    past PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR, raise (or update) the hour's alert row.
    Counted in the cache (local memory while Redis is down). Returns True when an alert row exists
    for this hour. Callers may rely on it never raising for a cache or alert-row failure."""
    now = now or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    key = f"calls:token-unauthorized:{token.pk}:{hour:%Y%m%d%H}"
    try:
        count = 1 if cache.add(key, 1, 2 * 3600) else cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 2 * 3600)
        count = 1
    if count <= settings.PLATFORM_TOKEN_UNAUTHORIZED_COMPLETES_PER_HOUR:
        return False
    try:
        with transaction.atomic():
            alert, created = PlatformTokenAlert.objects.get_or_create(
                token=token,
                kind=PlatformTokenAlert.Kind.UNAUTHORIZED_COMPLETES,
                hour_started_at=hour,
                defaults={"count": count},
            )
            if not created and alert.count < count:
                PlatformTokenAlert.objects.filter(pk=alert.pk, count__lt=count).update(count=count)
    except IntegrityError:  # another worker raised it at the same moment
        return True
    if created:
        logger.warning("platform token %s: %s completes without authorization this hour", token.pk, count)
    return True
