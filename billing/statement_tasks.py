"""Celery tasks for Direct Bill statements and dunning (imported by billing/tasks.py). Thin: each
calls one service; the services are idempotent, so a redelivered task changes nothing."""

from celery import shared_task

from . import dunning, statements


@shared_task(acks_late=True)
def statements_monthly_run() -> int:
    """Beat, on the 1st of each month (America/New_York): the statements for the month before."""
    return len(statements.statements_generate_for_month())


@shared_task(acks_late=True)
def statement_email_send_task(statement_id: int) -> bool:
    return statements.statement_email_send(statement_id=statement_id)


@shared_task(acks_late=True)
def dunning_daily_run() -> list[int]:
    """Beat, daily: suspend accounts with an unpaid past-due statement; restore paid-up ones."""
    return list(dunning.dunning_run())
