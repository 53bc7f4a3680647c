from celery import shared_task

from . import services
from .texts import notices, sending  # noqa: F401  (the text outbox handler and the text sender's task)


@shared_task
def accounts_activate_due() -> int:
    """Periodic: activate accounts whose activation time has passed and email their holders."""
    return services.accounts_activate_due()
