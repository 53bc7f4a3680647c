"""The staff work queue on the admin home: how many items wait in each list, and where the list is.
Each count needs one query (past-due statements: one per past-due candidate's standing)."""

import datetime
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import DirectBillApplication, OutboxMessage
from accounts.outbox import MAX_ATTEMPTS
from billing.payments.models import (
    CHECK_UNSENT_STATUSES,
    Channel,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from billing.payments.selectors import OFFLINE_RECORDED_CHANNELS
from billing.staff.models import ReconciliationDifference
from billing.staff.reconciliation import reconciliation_latest
from billing.statements import standing
from billing.statements.models import CallCreditRequest, CallCreditStatus, Statement
from calls.selectors import refused_calls_per_facility


@dataclass(frozen=True)
class QueueItem:
    key: str
    label: str
    count: int
    # An admin URL name and the query string of its filtered list.
    url_name: str
    query: str
    # The permission a staff member needs to see the item (and open its list).
    permission: str


def past_due_statement_ids() -> list[int]:
    """Statements past their due date with something still unpaid (the dunning list)."""
    past = Statement.objects.filter(due_date__lt=timezone.localdate()).select_related("account")
    return [s.pk for s in past.order_by("id") if standing.statement_standing(statement=s).due_cents > 0]


# Failed phone payments stay on the queue this long: a family that could not pay by phone may need a call.
PHONE_FAILURES_WINDOW = timedelta(days=7)


def phone_payments_failed():
    """Card payments by phone that failed or were canceled (declined, or the bank wanted 3-D Secure)
    in the last PHONE_FAILURES_WINDOW."""
    since = timezone.now() - PHONE_FAILURES_WINDOW
    return Payment.objects.filter(
        channel=Channel.PHONE_IVR, status__in=(PaymentStatus.FAILED, PaymentStatus.CANCELED), created_at__gte=since
    )


def outbox_failing():
    return OutboxMessage.objects.filter(done_at__isnull=True, attempts__gte=MAX_ATTEMPTS)


def connected_after_refusal() -> list[QueueItem]:
    """Calls that connected although FamilyLine refused them (charged to no one), one item per facility
    (the facility's platform let them through), over the last REFUSED_CALLS_QUEUE_DAYS; one empty item
    when there are none."""
    since = timezone.now() - datetime.timedelta(days=settings.REFUSED_CALLS_QUEUE_DAYS)
    label = f"Calls connected after a refusal (last {settings.REFUSED_CALLS_QUEUE_DAYS} days)"
    per_facility = refused_calls_per_facility(since=since)
    if not per_facility:
        return [_refused_item(label, 0, "refused=recent")]
    return [
        _refused_item(
            f"{label}: {group.facility_name}", group.count, f"refused=recent&facility__id__exact={group.facility_id}"
        )
        for group in per_facility
    ]


def _refused_item(label: str, count: int, query: str) -> QueueItem:
    return QueueItem(
        "connected_after_refusal", label, count, "admin:calls_callrecord_changelist", query, "calls.view_callrecord"
    )


def work_queue(*, user) -> list[QueueItem]:
    """The queue items `user` may work on, in the order staff take them."""
    latest = reconciliation_latest()
    items = [
        QueueItem(
            "applications",
            "Direct Bill applications to review",
            DirectBillApplication.objects.filter(status=DirectBillApplication.Status.PENDING).count(),
            "admin:accounts_directbillapplication_changelist",
            "status=pending",
            "accounts.change_directbillapplication",
        ),
        QueueItem(
            "call_credits",
            "Call-credit requests to decide",
            CallCreditRequest.objects.filter(status=CallCreditStatus.OPEN).count(),
            "admin:billing_callcreditrequest_changelist",
            "status__exact=open",
            "billing.change_callcreditrequest",
        ),
        QueueItem(
            "past_due",
            "Past-due statements",
            len(past_due_statement_ids()),
            "admin:billing_statement_changelist",
            "standing=past_due",
            "billing.view_statement",
        ),
        QueueItem(
            "refunds_pending",
            "Refunds pending",
            Refund.objects.filter(status=RefundStatus.PENDING).count(),
            "admin:billing_refund_changelist",
            "status__exact=pending",
            "billing.view_refund",
        ),
        QueueItem(
            "refunds_need_address",
            "Check refunds waiting for a mailing address (no check prepared)",
            Refund.objects.filter(status=RefundStatus.NEEDS_ADDRESS).count(),
            "admin:billing_refund_changelist",
            "status__exact=needs_address",
            "billing.view_refund",
        ),
        QueueItem(
            "refunds_need_approval",
            "Check refunds waiting for a second staff member's approval",
            Refund.objects.filter(
                status__in=CHECK_UNSENT_STATUSES, approval_needed=True, approved_by__isnull=True
            ).count(),
            "admin:billing_refund_changelist",
            "approval_needed__exact=1&approved_by__isnull=True",
            "billing.change_refund",
        ),
        QueueItem(
            "offline_payments_today",
            "Mail and card-terminal payments recorded by staff today (who recorded what)",
            Payment.objects.filter(
                channel__in=OFFLINE_RECORDED_CHANNELS,
                recorded_by__isnull=False,
                created_at__date=timezone.localdate(),
            ).count(),
            "admin:billing_payment_recorded_by_staff",
            "days=1",
            "billing.change_refund",
        ),
        QueueItem(
            "refunds_failed",
            "Refunds failed",
            Refund.objects.filter(status=RefundStatus.FAILED).count(),
            "admin:billing_refund_changelist",
            "status__exact=failed",
            "billing.view_refund",
        ),
        QueueItem(
            "payments_held",
            "Payments held for review (charge does not match)",
            Payment.objects.filter(status=PaymentStatus.PROCESSING).count(),
            "admin:billing_payment_changelist",
            "status__exact=processing",
            "billing.view_payment",
        ),
        QueueItem(
            "phone_payments_failed",
            "Phone payments that failed (last 7 days)",
            phone_payments_failed().count(),
            "admin:billing_payment_changelist",
            "channel__exact=phone_ivr&status__in=failed,canceled",
            "billing.view_payment",
        ),
        QueueItem(
            "disputes",
            "Disputes open",
            Dispute.objects.filter(status=DisputeStatus.OPEN).count(),
            "admin:billing_dispute_changelist",
            "status__exact=open",
            "billing.view_dispute",
        ),
        QueueItem(
            "disputes_parked",
            "Disputes parked (no payment of ours matches, or more than it took)",
            Dispute.objects.filter(status=DisputeStatus.PARKED).count(),
            "admin:billing_dispute_changelist",
            "status__exact=parked",
            "billing.view_dispute",
        ),
        QueueItem(
            "reconciliation",
            "Reconciliation differences (latest run)",
            ReconciliationDifference.objects.filter(run=latest).count() if latest else 0,
            "admin:billing_reconciliationdifference_changelist",
            f"run__id__exact={latest.pk}" if latest else "",
            "billing.run_reconciliation",
        ),
        QueueItem(
            "stripe_events",
            "Stripe events parked after too many attempts",
            StripeEvent.objects.filter(parked_at__isnull=False, processed_at__isnull=True).count(),
            "admin:billing_stripeevent_changelist",
            "parked_at__isempty=0&processed_at__isempty=1",
            "billing.view_stripeevent",
        ),
        QueueItem(
            "outbox",
            "Emails and work after commit failing",
            outbox_failing().count(),
            "admin:accounts_outboxmessage_changelist",
            "state=failing",
            "accounts.view_outboxmessage",
        ),
        *connected_after_refusal(),
    ]
    return [item for item in items if user.has_perm(item.permission)]
