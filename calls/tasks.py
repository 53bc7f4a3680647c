from celery import shared_task

from .callpath import authorize


@shared_task
def expire_call_holds() -> int:
    """Release holds of calls authorized but never completed (periodic)."""
    return authorize.call_holds_expire()


@shared_task
def call_decisions_purge() -> int:
    """Forget authorization decisions older than CALL_DECISIONS_KEPT_YEARS (daily)."""
    return authorize.call_decisions_purge()
