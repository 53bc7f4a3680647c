"""Inactive prepaid balances are never forfeited: the holder is warned, then refunded (docs/domain.md,
47 CFR 64.6130).

Activity is about money and calls only: a payment credited to the account, or a call on it (a
call record, charged or free, dated when the call started). A holder signing in is not activity:
it neither uses the line nor moves money, and a login alone should not keep money away from a
holder who has stopped using the service. Opening the account counts as its first activity.

Each day, for every open AdvanceConnect account with a positive balance:
- after INACTIVITY_NOTICE_DAYS without activity the holder is emailed a notice, once per last
  activity date (a unique constraint), saying the balance and the date it will be refunded;
- after INACTIVITY_REFUND_DAYS without activity, and at least INACTIVITY_NOTICE_MIN_DAYS after
  that notice went out, the account is closed through `account_close`, exactly as a holder
  closing it: card-funded money back to the cards, the rest by check. Nothing goes to revenue. A
  holder with no mailing address on the profile gets no check: the money stays owed to them (a
  check refund waiting for an address, on the staff work queue) until staff have an address.
New activity moves the last activity date, so an older notice no longer counts.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from accounts.emails import send_templated
from accounts.models import AccountKind, AccountStatus, CallingAccount
from billing.closing.activity import account_last_activity_at, accounts_with_last_activity
from billing.closing.models import InactivityNotice
from billing.closing.services import CloseError, account_close
from billing.ledger import kernel as ledger

logger = logging.getLogger(__name__)

REFUND_REASON = "Inactive for {days} days: balance refunded"


class Outcome(StrEnum):
    NOTHING = "nothing"
    NOTICE_SENT = "notice_sent"
    REFUNDED = "refunded"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class Terms:
    notice_days: int
    refund_days: int
    notice_min_days: int

    @classmethod
    def from_settings(cls) -> "Terms":
        return cls(
            notice_days=settings.INACTIVITY_NOTICE_DAYS,
            refund_days=settings.INACTIVITY_REFUND_DAYS,
            notice_min_days=settings.INACTIVITY_NOTICE_MIN_DAYS,
        )

    def refund_date(self, *, last_activity_date: date, notice_sent_date: date) -> date:
        """The refund is due after `refund_days` of inactivity, and never sooner than
        `notice_min_days` after the notice went out."""
        return max(
            last_activity_date + timedelta(days=self.refund_days),
            notice_sent_date + timedelta(days=self.notice_min_days),
        )


def accounts_inactive_candidates(*, today: date, notice_days: int) -> QuerySet[CallingAccount]:
    """Open AdvanceConnect accounts with a positive balance and no activity for `notice_days` days
    by `today`, oldest activity first."""
    cutoff = timezone.make_aware(datetime.combine(today - timedelta(days=notice_days - 1), datetime.min.time()))
    balances = ledger.balance_subquery()
    return (
        accounts_with_last_activity()
        .filter(kind=AccountKind.ADVANCE_CONNECT)
        .exclude(status=AccountStatus.CLOSED)
        .annotate(balance=Subquery(balances))
        .filter(balance__gt=0, last_activity_at__lt=cutoff)
        .order_by("last_activity_at", "id")
    )


def inactive_balances_review(*, now: datetime | None = None) -> dict[str, int]:
    """The daily run: notice or refund every inactive account that is due. Safe to run again and
    from two workers at once. Returns how many accounts had each outcome."""
    now = now or timezone.now()
    terms = Terms.from_settings()
    counts = {outcome.value: 0 for outcome in Outcome}
    candidates = accounts_inactive_candidates(today=timezone.localdate(now), notice_days=terms.notice_days)
    for account_id in list(candidates.values_list("id", flat=True)):
        try:
            outcome = account_inactivity_review(account=CallingAccount(pk=account_id), now=now, terms=terms)
        except Exception:
            # One account's trouble (the mail server down) must not hold up the others; it is
            # reviewed again on the next run.
            logger.exception("inactivity review of account #%s failed", account_id)
            outcome = Outcome.FAILED
        counts[outcome.value] += 1
    return counts


def account_inactivity_review(*, account: CallingAccount, now: datetime, terms: Terms | None = None) -> Outcome:
    """Notice or refund one account if it is due (see the module docstring); otherwise nothing.

    Callers may rely on: one notice email per (account, last activity date), even when run twice at
    once; a refund only through `account_close`, and only once a notice for the same last
    activity date was sent at least `notice_min_days` before; an account with a call in progress
    is left for the next run."""
    terms = terms or Terms.from_settings()
    account = CallingAccount.objects.select_related("holder", "ledger_account").get(pk=account.pk)
    balance = ledger.balance_get(account=account)
    if account.kind != AccountKind.ADVANCE_CONNECT or account.status == AccountStatus.CLOSED or balance <= 0:
        return Outcome.NOTHING
    today = timezone.localdate(now)
    last_at = account_last_activity_at(account=account)
    last_date = timezone.localdate(last_at)
    idle_days = (today - last_date).days
    if idle_days < terms.notice_days:
        return Outcome.NOTHING

    InactivityNotice.objects.bulk_create(
        [InactivityNotice(account=account, for_last_activity_date=last_date)], ignore_conflicts=True
    )
    notice = InactivityNotice.objects.get(account=account, for_last_activity_date=last_date)
    if notice.sent_at is None:
        sent = inactivity_notice_send(notice=notice, balance_cents=balance, now=now, terms=terms)
        return Outcome.NOTICE_SENT if sent else Outcome.NOTHING

    assert notice.refund_date is not None, "set when the notice was sent"
    if idle_days < terms.refund_days or today < notice.refund_date:
        return Outcome.NOTHING
    if _call_in_progress(account=account, now=now):
        return Outcome.WAITING
    try:
        account_close(
            account=account,
            actor=None,
            reason=REFUND_REASON.format(days=terms.refund_days),
            inactive_since=last_at,
        )
    except CloseError as exc:
        # A payment still being processed, for instance: it will be activity, or clear by tomorrow.
        logger.info("inactive account #%s not closed today: %s", account.pk, exc.message)
        return Outcome.WAITING
    return Outcome.REFUNDED


def _call_in_progress(*, account: CallingAccount, now: datetime) -> bool:
    return ledger.holds_open_exist(account=account, now=now)


def inactivity_notice_send(*, notice: InactivityNotice, balance_cents: int, now: datetime, terms: Terms) -> bool:
    """Email the notice unless it was sent already or another worker is sending it. Returns whether
    this call sent it.

    The email goes out inside the transaction that marks the notice sent, under the notice's row
    lock: a failed send rolls the mark back and the next run tries again, so the refund never
    relies on a notice that did not go out. (Should the commit itself fail after a send, the holder
    gets the same notice twice, which is harmless.)"""
    with transaction.atomic():
        locked = (
            InactivityNotice.objects.select_for_update(skip_locked=True)
            .select_related("account__holder")
            .filter(pk=notice.pk, sent_at__isnull=True)
            .first()
        )
        if locked is None:
            return False
        notice = locked
        notice.sent_at = now
        notice.balance_cents = balance_cents
        notice.refund_date = terms.refund_date(
            last_activity_date=notice.for_last_activity_date, notice_sent_date=timezone.localdate(now)
        )
        notice.save(update_fields=["sent_at", "balance_cents", "refund_date"])
        send_templated(
            to=notice.account.holder.email,
            template="inactivity_notice",
            context={
                "account": notice.account,
                "notice": notice,
                "last_activity_date": notice.for_last_activity_date,
                "balance_cents": balance_cents,
                "refund_date": notice.refund_date,
                "account_url": reverse("accounts:account_detail", args=[notice.account_id]),
            },
        )
    return True
