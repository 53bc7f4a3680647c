from celery import shared_task

from . import services


@shared_task
def accounts_activate_due() -> int:
    """Periodic: activate accounts whose activation time has passed and email their holders."""
    return services.accounts_activate_due()
