from celery import shared_task

from . import phone_access, services
from .texts import notices, sending  # noqa: F401  (the text outbox handler and the text sender's task)


@shared_task
def accounts_activate_due() -> int:
    """Periodic: activate accounts whose activation time has passed and email their holders."""
    return services.accounts_activate_due()


@shared_task
def phone_sessions_forget() -> int:
    """Periodic: forget the sessions of finished phone calls."""
    return phone_access.phone_sessions_forget()
