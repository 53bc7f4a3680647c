from celery import shared_task

from . import services


@shared_task
def expire_call_holds() -> int:
    """Release holds of calls authorized but never completed (periodic)."""
    return services.call_holds_expire()
