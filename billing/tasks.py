"""Celery tasks of billing. Thin: each calls one idempotent service, so a redelivered task changes
nothing. Names are pinned: beat schedules and queued messages name them."""

from celery import shared_task

from billing.closing import inactivity, late_charges  # noqa: F401  (late_charges registers its outbox handler)
from billing.payments import autoreload, refunds, single_call, webhooks  # noqa: F401  (autoreload, single_call: outbox handlers)
from billing.staff import reconciliation
from billing.statements import credit_raise, dunning
from billing.statements import services as statements


@shared_task(name="billing.tasks.stripe_event_process", acks_late=True)
def stripe_event_process(event_pk: int) -> bool:
    return webhooks.stripe_event_process(event_pk=event_pk)


@shared_task(name="billing.tasks.stripe_events_process_pending")
def stripe_events_process_pending() -> int:
    """Periodic: stored webhook events whose task never ran (broker down) or failed."""
    return webhooks.stripe_events_process_pending()


@shared_task(name="billing.tasks.refunds_card_retry_pending")
def refunds_card_retry_pending() -> int:
    """Periodic: card refunds left pending (processor unreachable, a crash after closing)."""
    return refunds.refunds_card_retry_pending()


@shared_task(name="billing.tasks.auto_reload_terms_daily_run")
def auto_reload_terms_daily_run() -> int:
    """Periodic (daily): pause the auto-reloads whose monthly cap no longer covers one reload with
    today's fee, whatever changed it (the schedule, or fees turned back on in the settings)."""
    return autoreload.auto_reload_terms_recheck()


@shared_task(name="billing.tasks.single_calls_expire")
def single_calls_expire() -> int:
    """Periodic: single-call offers past their expiry; a paid one never used is refunded in full."""
    return single_call.single_calls_expire().refunded


@shared_task(name="billing.tasks.inactive_balances_daily_run")
def inactive_balances_daily_run() -> dict[str, int]:
    """Periodic (daily): notice, then refund, prepaid balances left unused (never forfeited)."""
    return inactivity.inactive_balances_review()


@shared_task(name="billing.statement_tasks.statements_monthly_run", acks_late=True)
def statements_monthly_run() -> int:
    """Beat, on the 1st of each month (America/New_York): the statements for the month before."""
    return len(statements.statements_generate_for_month())


@shared_task(name="billing.statement_tasks.statement_email_send_task", acks_late=True)
def statement_email_send_task(statement_id: int) -> bool:
    return statements.statement_email_send(statement_id=statement_id)


@shared_task(name="billing.statement_tasks.dunning_daily_run", acks_late=True)
def dunning_daily_run() -> list[int]:
    """Beat, daily: suspend accounts with an unpaid past-due statement; restore paid-up ones."""
    return list(dunning.dunning_run())


@shared_task(name="billing.tasks.credit_limits_raise_daily_run", acks_late=True)
def credit_limits_raise_daily_run() -> int:
    """Beat, daily: raise the credit limit of Direct Bill holders who paid every statement on time."""
    return credit_raise.credit_limits_raise_due()


@shared_task(name="billing.tasks.reconciliation_daily_run", acks_late=True)
def reconciliation_daily_run() -> int:
    """Beat, daily: compare payments and refunds with Stripe and the sums with card clearing.
    Returns how many differences were found (zero is the expected state)."""
    return reconciliation.reconciliation_run().differences.count()
