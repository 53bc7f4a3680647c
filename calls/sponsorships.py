"""Inmate-debit sponsorships: a family starts, limits and ends paying for an inmate's calls."""

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.emails import account_email_enqueue
from accounts.models import AccountKind, AccountStatus, CallingAccount, User
from billing.ledger import kernel as ledger

from .models import Facility, Inmate, InmateDebitSponsorship


class SponsorshipError(Exception):
    """A sponsorship request a holder can correct; the message is fit to show."""


def sponsorship_start(
    *,
    account: CallingAccount,
    facility: Facility,
    inmate_number: str,
    actor: User,
    confirmed: bool,
    monthly_cap_cents: int | None = None,
) -> InmateDebitSponsorship:
    """Start paying for an inmate's calls from an active, funded AdvanceConnect account, once the
    holder has confirmed the inmate's name FamilyLine showed (`confirmed`). Several families may
    sponsor one inmate; starting again an active sponsorship returns it. The sponsor is emailed
    after commit. Raises SponsorshipError with a message fit to show; nothing is started then."""
    if account.kind != AccountKind.ADVANCE_CONNECT:
        raise SponsorshipError(gettext("Only an AdvanceConnect (prepaid) account can pay for an inmate's calls."))
    inmate = Inmate.objects.filter(facility=facility, inmate_number=inmate_number.strip(), is_active=True).first()
    if inmate is None:
        raise SponsorshipError(
            gettext("No inmate with number %(number)s is at %(facility)s.")
            % {"number": inmate_number.strip(), "facility": facility.name}
        )
    if not confirmed:
        raise SponsorshipError(
            gettext("Please confirm that %(name)s at %(facility)s is the person whose calls you will pay for.")
            % {"name": inmate.full_name, "facility": facility.name}
        )
    _check_cap(monthly_cap_cents)
    with transaction.atomic():
        # Lock order step 1: a close of this account either finished (we see it closed) or waits,
        # and the balance it is funded with is the one in force.
        balance = ledger.balance_lock(account=account)
        account = CallingAccount.objects.get(pk=account.pk)
        _check_can_sponsor(account, balance=balance)
        same = InmateDebitSponsorship.objects.filter(inmate=inmate, account=account, ended_at__isnull=True).first()
        if same is not None:
            return same
        sponsorship = InmateDebitSponsorship.objects.create(
            inmate=inmate, account=account, started_by=actor, monthly_cap_cents=monthly_cap_cents
        )
        account_email_enqueue(
            account_id=account.pk,
            template="sponsorship_started",
            inmate_name=inmate.full_name,
            facility_name=facility.name,
            sponsorships_url=reverse("calls:sponsorships", args=[account.pk]),
        )
    return sponsorship


def _check_can_sponsor(account: CallingAccount, *, balance: int) -> None:
    status = account.status_at(timezone.now())
    if status == AccountStatus.CLOSED:
        raise SponsorshipError(gettext("This account is closed."))
    if status != AccountStatus.ACTIVE:
        raise SponsorshipError(
            gettext("This account is not active yet. You can pay for an inmate's calls once it is funded and active.")
        )
    if balance <= 0:
        raise SponsorshipError(gettext("Add money to this account first: the inmate's calls are paid from it."))


def _check_cap(monthly_cap_cents: int | None) -> None:
    if monthly_cap_cents is not None and monthly_cap_cents <= 0:
        raise SponsorshipError(gettext("A monthly limit is more than $0.00, or leave it empty for no limit."))


def sponsorship_cap_set(
    *, sponsorship: InmateDebitSponsorship, monthly_cap_cents: int | None
) -> InmateDebitSponsorship:
    """Set or clear (None) the sponsor's monthly limit; it applies to the next call."""
    _check_cap(monthly_cap_cents)
    InmateDebitSponsorship.objects.filter(pk=sponsorship.pk).update(monthly_cap_cents=monthly_cap_cents)
    sponsorship.refresh_from_db()
    return sponsorship


def sponsorship_end(*, sponsorship: InmateDebitSponsorship, actor: User) -> InmateDebitSponsorship:
    """Stop paying for an inmate's calls. Ending an ended sponsorship changes nothing."""
    with transaction.atomic():
        InmateDebitSponsorship.objects.filter(pk=sponsorship.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(), ended_by=actor
        )
    sponsorship.refresh_from_db()
    return sponsorship
