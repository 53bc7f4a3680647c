from celery import shared_task

from . import services


@shared_task(acks_late=True)
def stripe_event_process(event_pk: int) -> bool:
    return services.stripe_event_process(event_pk=event_pk)


@shared_task
def stripe_events_process_pending() -> int:
    """Periodic: stored webhook events whose task never ran (broker down) or failed."""
    return services.stripe_events_process_pending()


@shared_task
def refunds_card_retry_pending() -> int:
    """Periodic: card refunds left pending (processor unreachable, a crash after closing)."""
    from . import refunds

    return refunds.refunds_card_retry_pending()


@shared_task
def inactive_balances_daily_run() -> dict[str, int]:
    """Periodic (daily): notice, then refund, prepaid balances left unused (never forfeited)."""
    from . import inactivity

    return inactivity.inactive_balances_review()


from .statement_tasks import dunning_daily_run, statement_email_send_task, statements_monthly_run  # noqa: E402, F401
