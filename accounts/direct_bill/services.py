"""Direct Bill applications, credit decisions and credit limits.

Callers may rely on:
- an application is decided once (approve or decline), under a row lock, with an audit row and an
  email to the applicant sent after commit;
- an approved application has a Direct Bill account pending activation, activating after
  ACTIVATION_DELAY like an AdvanceConnect account, with the approved credit limit;
- a full SSN is never stored: it goes to the credit provider in memory and only its last four
  digits are kept;
- every credit limit change writes an AccountEvent with the old and new limit, who and why.
"""

import re
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.emails import account_email_enqueue, send_templated
from accounts.models import (
    AccountEvent,
    AccountKind,
    AccountStatus,
    CallingAccount,
    DirectBillApplication,
    User,
)
from accounts.outbox import outbox_enqueue, outbox_handler
from accounts.services import AccountError, account_open
from accounts.states import US_STATES
from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError
from billing.ledger.money import format_cents

from . import credit

MINIMUM_AGE_YEARS = 18
_SSN_RE = re.compile(r"^[0-9]{3}-?[0-9]{2}-?[0-9]{4}$")
_STATES = {code for code, _ in US_STATES}


class ApplicationError(DomainError):
    """A request about an application that cannot be done. The message is fit to show."""


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@outbox_handler("email.direct_bill_application")
def application_email_send(*, application_id: int, template: str) -> None:
    application = DirectBillApplication.objects.select_related("applicant", "account").get(pk=application_id)
    context = {"application": application, "account": application.account}
    send_templated(to=application.applicant.email, template=template, context=context)


def _email_on_commit(*, template: str, application_id: int) -> None:
    outbox_enqueue(
        kind="email.direct_bill_application", payload={"application_id": application_id, "template": template}
    )


def _application_check(
    *, consent: bool, legal_name: str, state: str, date_of_birth: date, ssn: str, now: datetime
) -> None:
    """Raise ApplicationError for the first thing wrong with what the applicant typed."""
    if not consent:
        raise ApplicationError(gettext("You must agree to the credit check to apply."))
    if not legal_name:
        raise ApplicationError(gettext("Enter your full legal name."))
    if state not in _STATES:
        raise ApplicationError(gettext("Choose the state of your postal address."))
    if date_of_birth > timezone.localdate(now) or _age_on(date_of_birth, timezone.localdate(now)) > 120:
        raise ApplicationError(gettext("Enter your real date of birth."))
    if _age_on(date_of_birth, timezone.localdate(now)) < MINIMUM_AGE_YEARS:
        raise ApplicationError(gettext("You must be 18 or older to open a Direct Bill account."))
    if ssn and not _SSN_RE.match(ssn):
        raise ApplicationError(
            gettext("Enter a Social Security number as nine digits, like 123-45-6789, or leave it blank.")
        )


def application_submit(
    *,
    applicant: User,
    legal_name: str,
    date_of_birth: date,
    address_line1: str,
    address_line2: str = "",
    city: str,
    state: str,
    postal_code: str,
    consent: bool,
    ssn: str = "",
    provider: credit.CreditCheckProvider | None = None,
    now: datetime | None = None,
) -> DirectBillApplication:
    """File an application and ask for a credit decision. Residents of Alaska are approved at once
    at ALASKA_PREAPPROVED_LIMIT_CENTS; otherwise the configured provider decides (the shipped one
    leaves the application pending for staff review). Raises ApplicationError, storing nothing, for
    missing consent, an applicant under 18, a malformed SSN, or an application or open Direct Bill
    account the applicant already has. There is no fee to open."""
    now = now or timezone.now()
    legal_name, state = " ".join(legal_name.split()), state.strip().upper()
    ssn = ssn.strip().replace(" ", "")
    _application_check(
        consent=consent, legal_name=legal_name, state=state, date_of_birth=date_of_birth, ssn=ssn, now=now
    )
    applicant_data = credit.CreditApplicant(
        legal_name=legal_name,
        date_of_birth=date_of_birth,
        address_line1=address_line1.strip(),
        address_line2=address_line2.strip(),
        city=city.strip(),
        state=state,
        postal_code=postal_code.strip(),
        ssn=ssn.replace("-", ""),
    )
    with transaction.atomic():
        # Serialize one person's submissions; the partial unique index backs this up.
        User.objects.select_for_update().only("pk").get(pk=applicant.pk)
        if (
            CallingAccount.objects.filter(holder=applicant, kind=AccountKind.DIRECT_BILL)
            .exclude(status=AccountStatus.CLOSED)
            .exists()
        ):
            raise ApplicationError(gettext("You already have a Direct Bill account."))
        try:
            with transaction.atomic():
                application = DirectBillApplication.objects.create(
                    applicant=applicant,
                    legal_name=legal_name,
                    date_of_birth=date_of_birth,
                    address_line1=applicant_data.address_line1,
                    address_line2=applicant_data.address_line2,
                    city=applicant_data.city,
                    state=state,
                    postal_code=applicant_data.postal_code,
                    ssn_last4=applicant_data.ssn[-4:],
                    consented_at=now,
                )
        except IntegrityError:
            raise ApplicationError(gettext("You already have an application waiting for review.")) from None

    # The decision runs after the application is safely stored: a provider that is slow or fails
    # leaves a pending application for staff, never a lost one.
    decision = credit.credit_decide(applicant_data, provider=provider)
    if decision.outcome == credit.Outcome.APPROVED:
        assert decision.credit_limit_cents is not None, "an approval carries its limit"
        return application_approve(
            application=application,
            credit_limit_cents=decision.credit_limit_cents,
            actor=None,
            provider=decision.provider,
            now=now,
        )
    if decision.outcome == credit.Outcome.DECLINED:
        return application_decline(
            application=application, reason=decision.reason, actor=None, provider=decision.provider, now=now
        )
    DirectBillApplication.objects.filter(pk=application.pk).update(provider=decision.provider)
    application.provider = decision.provider
    return application


def _locked_pending(application: DirectBillApplication) -> DirectBillApplication:
    application = DirectBillApplication.objects.select_for_update().get(pk=application.pk)
    if application.status != DirectBillApplication.Status.PENDING:
        raise ApplicationError(f"Application #{application.pk} was already {application.get_status_display().lower()}.")
    return application


def application_approve(
    *,
    application: DirectBillApplication,
    credit_limit_cents: int,
    actor: User | None,
    provider: str = "",
    now: datetime | None = None,
    confirmed: bool = False,
) -> DirectBillApplication:
    """Approve a pending application with a credit limit (more than zero cents): opens a Direct Bill
    account pending activation until now + ACTIVATION_DELAY, audits the initial limit, and emails the
    applicant after commit. `actor` is the staff member, or None for an automatic decision."""
    now = now or timezone.now()
    if not isinstance(credit_limit_cents, int) or credit_limit_cents <= 0:
        raise ApplicationError("Approve with a credit limit of more than $0.00.")
    _check_limit(credit_limit_cents, confirmed=confirmed)
    with transaction.atomic():
        application = _locked_pending(application)
        _address_to_profile(application)
        try:
            account = account_open(
                holder=application.applicant,
                kind=AccountKind.DIRECT_BILL,
                status=AccountStatus.PENDING_ACTIVATION,
                credit_limit_cents=credit_limit_cents,
                actor=actor,
            )
        except AccountError as exc:  # the holder keeps the most open accounts one person may
            raise ApplicationError(exc.message) from exc
        account.activates_at = now + settings.ACTIVATION_DELAY
        account.save(update_fields=["activates_at"])
        provider = provider or application.provider or credit.StaffReviewProvider.name
        AccountEvent.objects.create(
            account=account,
            action=AccountEvent.Action.CREDIT_LIMIT_CHANGED,
            actor=actor,
            reason=f"Application #{application.pk} approved ({credit.provider_label(provider)})",
            data={"from": None, "to": credit_limit_cents, "application": application.pk},
        )
        application.status = DirectBillApplication.Status.APPROVED
        application.credit_limit_cents = credit_limit_cents
        application.provider = provider
        application.decided_at, application.decided_by, application.account = now, actor, account
        application.save(
            update_fields=["status", "credit_limit_cents", "provider", "decided_at", "decided_by", "account"]
        )
        _email_on_commit(template="direct_bill_approved", application_id=application.pk)
    return application


def _address_to_profile(application: DirectBillApplication) -> None:
    """The approved applicant's address becomes the profile's, unless the profile has one."""
    holder = application.applicant
    if holder.address_line1:
        return
    holder.address_line1, holder.address_line2 = application.address_line1, application.address_line2
    holder.city, holder.state, holder.postal_code = application.city, application.state, application.postal_code
    holder.save(update_fields=["address_line1", "address_line2", "city", "state", "postal_code"])


class CreditLimitNeedsConfirmation(ApplicationError):
    """A limit above the review threshold: staff must look again and confirm it."""


def _check_limit(credit_limit_cents: int, *, confirmed: bool) -> None:
    highest = settings.DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS
    if credit_limit_cents > highest:
        raise ApplicationError(f"A credit limit is at most {format_cents(highest)}.")
    review = settings.DIRECT_BILL_CREDIT_LIMIT_REVIEW_CENTS
    if credit_limit_cents > review and not confirmed:
        raise CreditLimitNeedsConfirmation(
            f"{format_cents(credit_limit_cents)} is above {format_cents(review)}:"
            " check it and tick “I confirm this credit limit” to set it."
        )


def application_decline(
    *,
    application: DirectBillApplication,
    reason: str,
    actor: User | None,
    provider: str = "",
    now: datetime | None = None,
) -> DirectBillApplication:
    """Decline a pending application. The reason is shown to the applicant and emailed after commit."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Give the applicant a reason for the decline.")
    with transaction.atomic():
        application = _locked_pending(application)
        application.status = DirectBillApplication.Status.DECLINED
        application.decision_reason = reason
        application.provider = provider or application.provider or credit.StaffReviewProvider.name
        application.decided_at, application.decided_by = now or timezone.now(), actor
        application.save(update_fields=["status", "decision_reason", "provider", "decided_at", "decided_by"])
        _email_on_commit(template="direct_bill_declined", application_id=application.pk)
    return application


def credit_limit_change(
    *,
    account: CallingAccount,
    credit_limit_cents: int,
    actor: User | None,
    reason: str,
    confirmed: bool = False,
    data: dict | None = None,
) -> CallingAccount:
    """Set a Direct Bill account's credit limit (zero up to DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS; above
    DIRECT_BILL_CREDIT_LIMIT_REVIEW_CENTS only `confirmed`). Audited with the old and new limit, the
    staff member (None: an automatic raise) and the reason; the holder is emailed after commit.
    Calls already in progress keep their hold; the next authorization uses the new limit."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Give a reason for the credit limit change.")
    if not isinstance(credit_limit_cents, int) or credit_limit_cents < 0:
        raise ApplicationError("A credit limit is zero or more.")
    _check_limit(credit_limit_cents, confirmed=confirmed)
    with transaction.atomic():
        # Lock order: the ledger row (an authorization deciding on the old limit finishes first),
        # then the account row.
        ledger.balance_lock(account=account)
        account = CallingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        if account.kind != AccountKind.DIRECT_BILL:
            raise ApplicationError("Only Direct Bill accounts have a credit limit.")
        if account.status == AccountStatus.CLOSED:
            raise ApplicationError(f"Account #{account.pk} is closed.")
        previous = account.credit_limit_cents
        if previous == credit_limit_cents:
            raise ApplicationError(f"The credit limit is already {format_cents(previous)}.")
        account.credit_limit_cents = credit_limit_cents
        account.save(update_fields=["credit_limit_cents"])
        AccountEvent.objects.create(
            account=account,
            action=AccountEvent.Action.CREDIT_LIMIT_CHANGED,
            actor=actor,
            reason=reason,
            data={"from": previous, "to": credit_limit_cents, **(data or {})},
        )
        account_email_enqueue(account_id=account.pk, template="direct_bill_credit_limit_changed")
    return account


def credit_limit_last_changed_at(*, account: CallingAccount) -> datetime:
    """When the account's credit limit was last set (its approval, a staff change or a raise)."""
    last = (
        AccountEvent.objects.filter(account=account, action=AccountEvent.Action.CREDIT_LIMIT_CHANGED)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    return last or account.created_at


def credit_limit_raise(*, account: CallingAccount, now: datetime) -> CallingAccount | None:
    """Raise the limit one DIRECT_BILL_CREDIT_LIMIT_STEP_CENTS, up to the maximum, for a holder whose
    statements since the last change were all paid on time (the statements workflow decides that).
    Decided under the account's locks from the limit in force then: a staff change or another run
    that got there first wins, and this returns None, changing nothing (as at the maximum)."""
    with transaction.atomic():
        ledger.balance_lock(account=account)
        account = CallingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        highest = settings.DIRECT_BILL_MAX_CREDIT_LIMIT_CENTS
        days = settings.DIRECT_BILL_CREDIT_LIMIT_RAISE_DAYS
        if account.credit_limit_cents >= highest or now - credit_limit_last_changed_at(account=account) < timedelta(
            days=days
        ):
            return None
        return credit_limit_change(
            account=account,
            credit_limit_cents=min(highest, account.credit_limit_cents + settings.DIRECT_BILL_CREDIT_LIMIT_STEP_CENTS),
            actor=None,
            reason=f"{days} days with every statement paid on time",
            confirmed=True,
            data={"automatic": True, "at": now.isoformat()},
        )


# Reads


def application_list_for_holder(*, holder: User):
    return (
        DirectBillApplication.objects.filter(applicant=holder).select_related("account").order_by("-created_at", "-id")
    )


def application_get_for_holder(*, holder: User, pk: int) -> DirectBillApplication | None:
    return DirectBillApplication.objects.filter(applicant=holder, pk=pk).select_related("account").first()


def application_can_apply(*, holder: User) -> bool:
    """False while an application waits for review or a Direct Bill account is open."""
    pending = DirectBillApplication.objects.filter(applicant=holder, status=DirectBillApplication.Status.PENDING)
    open_account = CallingAccount.objects.filter(holder=holder, kind=AccountKind.DIRECT_BILL).exclude(
        status=AccountStatus.CLOSED
    )
    return not pending.exists() and not open_account.exists()
