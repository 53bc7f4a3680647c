from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext
from phonenumber_field.phonenumber import PhoneNumber as ParsedNumber

from billing.ledger import kernel as ledger
from billing.ledger.errors import DomainError

from .emails import account_email_enqueue
from .models import (
    AccountEvent,
    AccountKind,
    AccountStatus,
    CallingAccount,
    LineType,
    PhoneNumber,
    SuspensionCode,
    User,
)


class AccountError(DomainError):
    """Something a holder or staff member asked for that cannot be done. The message is fit to show."""


def account_open(
    *,
    holder: User,
    kind: AccountKind = AccountKind.ADVANCE_CONNECT,
    actor: User | None = None,
    status: AccountStatus = AccountStatus.PENDING_FUNDING,
    credit_limit_cents: int = 0,
) -> CallingAccount:
    """Open a calling account with its ledger account and an `opened` audit row. Raises AccountError
    when the holder already keeps MAX_OPEN_ACCOUNTS_PER_HOLDER open accounts (decided under a lock
    on the holder, so two requests at once cannot pass the cap together)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=holder.pk).exists()
        limit = settings.MAX_OPEN_ACCOUNTS_PER_HOLDER
        if CallingAccount.objects.filter(holder=holder).exclude(status=AccountStatus.CLOSED).count() >= limit:
            raise AccountError(
                gettext(
                    "You already have %(limit)s open accounts, the most one person can keep open. "
                    "Close one to open another."
                )
                % {"limit": limit}
            )
        account = CallingAccount.objects.create(
            holder=holder, kind=kind, status=status, credit_limit_cents=credit_limit_cents
        )
        ledger.account_ledger(account)
        AccountEvent.objects.create(account=account, action=AccountEvent.Action.OPENED, actor=actor or holder)
    return account


def account_facility_set(*, account: CallingAccount, facility_id: int | None) -> CallingAccount:
    """Remember the facility the holder said calls them (its prices are shown up front)."""
    CallingAccount.objects.filter(pk=account.pk).update(facility_id=facility_id)
    account.facility_id = facility_id
    return account


def profile_update(
    *,
    user: User,
    first_name: str,
    last_name: str,
    preferred_language: str,
    address_line1: str,
    address_line2: str,
    city: str,
    state: str,
    postal_code: str,
    time_zone: str = "",
) -> User:
    """Save the holder's name, language, postal address (the state decides Direct Bill rules) and the
    time zone the holder reads times in."""
    user.first_name, user.last_name = first_name.strip(), last_name.strip()
    user.preferred_language = preferred_language
    user.address_line1, user.address_line2 = address_line1.strip(), address_line2.strip()
    user.city, user.state, user.postal_code = city.strip(), state, postal_code.strip()
    user.time_zone = time_zone or user.time_zone
    user.save(update_fields=list(User.PROFILE_FIELDS))
    return user


def _locked(account: CallingAccount) -> CallingAccount:
    """The lock order (docs/architecture.md, billing/ledger/): the account's ledger row first, then
    the account row. FOR NO KEY UPDATE: a hold or call record being inserted for this account (a
    key-share lock) does not wait on it."""
    ledger.balance_lock(account=account)
    return CallingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)


def phone_number_add(
    *, account: CallingAccount, number: ParsedNumber | str, label: str, line_type: str, actor: User
) -> PhoneNumber:
    """Register a number on an open account. Raises AccountError when the account is closed or the
    number is already active on an open account (the database constraint decides races)."""
    with transaction.atomic():
        account = _locked(account)
        if account.status == AccountStatus.CLOSED:
            raise AccountError(gettext("This account is closed; numbers cannot be added to it."))
        try:
            with transaction.atomic():
                phone = PhoneNumber.objects.create(
                    account=account, number=number, label=label.strip(), line_type=line_type or LineType.UNKNOWN
                )
        except IntegrityError:
            raise AccountError(_number_taken_message(number=number, account=account)) from None
        AccountEvent.objects.create(
            account=account,
            action=AccountEvent.Action.NUMBER_ADDED,
            actor=actor,
            data={"number": phone.number.as_e164, "label": phone.label, "line_type": phone.line_type},
        )
    return phone


def _number_taken_message(*, number: ParsedNumber | str, account: CallingAccount) -> str:
    """Why a number cannot be added, told to the holder: where it is when it is on one of their own
    accounts (and how to move it), only that it is taken when it is someone else's."""
    holding = (
        PhoneNumber.objects.filter(number=number, is_active=True)
        .values_list("account_id", "account__holder_id", "account__kind")
        .first()
    )
    if holding is not None and holding[0] == account.pk:
        return gettext("This number is already on this account.")
    if holding is not None and holding[1] == account.holder_id:
        return gettext(
            "This number is already on your other account, %(kind)s #%(number)s. A number can be on one open "
            "account at a time: to move it here, remove it from account #%(number)s first (on that account's "
            "page), then add it here."
        ) % {"kind": AccountKind(holding[2]).label, "number": holding[0]}
    return gettext(
        "This number is already registered on a FamilyLine account. A number can be on one open "
        "account at a time; ask the other account holder to remove it, or contact us."
    )


def phone_number_update(*, phone: PhoneNumber, label: str, line_type: str, actor: User) -> PhoneNumber:
    """Change the label or line type of an active number (the number itself never changes)."""
    if not phone.is_active:
        raise AccountError(gettext("This number was removed; add it again instead."))
    phone.label, phone.line_type = label.strip(), line_type
    phone.save(update_fields=["label", "line_type"])
    return phone


def phone_number_remove(*, phone: PhoneNumber, actor: User, now: datetime | None = None) -> PhoneNumber:
    """Deactivate a number (kept for the call history); it may then be registered elsewhere."""
    with transaction.atomic():
        phone = PhoneNumber.objects.select_for_update().get(pk=phone.pk)
        if not phone.is_active:
            return phone
        phone.is_active, phone.removed_at = False, now or timezone.now()
        phone.save(update_fields=["is_active", "removed_at"])
        AccountEvent.objects.create(
            account_id=phone.account_id,
            action=AccountEvent.Action.NUMBER_REMOVED,
            actor=actor,
            data={"number": phone.number.as_e164},
        )
    return phone


def account_mark_funded(*, account: CallingAccount, now: datetime, actor: User | None = None) -> bool:
    """Called inside the transaction that credits a payment. On the first funding of an account,
    start the activation clock (`activates_at` = now + ACTIVATION_DELAY): a pending account becomes
    pending activation; a suspended one keeps its suspension, and reinstating it then finds it
    funded. Returns True when this call started the clock. The caller holds the transaction."""
    account = _locked(account)
    if account.activates_at is not None or account.status == AccountStatus.CLOSED:
        return False
    if account.status == AccountStatus.PENDING_FUNDING:
        account.status = AccountStatus.PENDING_ACTIVATION
    account.activates_at = now + settings.ACTIVATION_DELAY
    account.save(update_fields=["status", "activates_at"])
    AccountEvent.objects.create(
        account=account,
        action=AccountEvent.Action.FUNDED,
        actor=actor,
        data={"activates_at": account.activates_at.isoformat()},
    )
    return True


def account_activate(
    *, account: CallingAccount, actor: User | None = None, now: datetime | None = None, reason: str = ""
) -> bool:
    """Activate an account pending activation (staff may do it before `activates_at`) and email the
    holder after commit. Returns False, changing nothing, for an account in any other status."""
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(account)
        if account.status != AccountStatus.PENDING_ACTIVATION:
            return False
        account.status = AccountStatus.ACTIVE
        account.activated_at = now
        account.save(update_fields=["status", "activated_at"])
        AccountEvent.objects.create(account=account, action=AccountEvent.Action.ACTIVATED, actor=actor, reason=reason)
        account_email_enqueue(account_id=account.pk, template="account_activated")
    return True


def accounts_activate_due(*, now: datetime | None = None) -> int:
    """Activate every account whose `activates_at` has passed (any kind). Safe to run at any time and
    more than once; returns how many accounts it activated."""
    now = now or timezone.now()
    due = CallingAccount.objects.filter(
        status=AccountStatus.PENDING_ACTIVATION, activates_at__isnull=False, activates_at__lte=now
    ).order_by("id")
    return sum(account_activate(account=account, now=now) for account in due)


# --- the lifecycle: every status change of a calling account is one of these --------------------


def account_suspend(
    *,
    account: CallingAccount,
    actor: User | None,
    reason: str,
    code: str = SuspensionCode.STAFF,
    data: dict | None = None,
    now: datetime | None = None,
) -> CallingAccount:
    """Suspend an account (staff, or dunning with `code=statement_past_due`); calls stop at once.
    The reason is kept in the audit trail. Raises AccountError for an account already suspended or
    closed. Runs in the caller's transaction when there is one."""
    if not reason.strip():
        raise AccountError("Give a reason for the suspension.")
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(account)
        if account.status in (AccountStatus.SUSPENDED, AccountStatus.CLOSED):
            raise AccountError(f"Account #{account.pk} is {account.get_status_display().lower()}.")
        previous = account.status_at(now)
        account.status, account.suspension_code = AccountStatus.SUSPENDED, code
        account.save(update_fields=["status", "suspension_code"])
        AccountEvent.objects.create(
            account=account,
            action=AccountEvent.Action.SUSPENDED,
            actor=actor,
            reason=reason.strip(),
            data={"code": code, "previous_status": previous, **(data or {})},
        )
        if code == SuspensionCode.STAFF:  # dunning sends its own past-due notice
            account_email_enqueue(account_id=account.pk, template="account_suspended")
    return account


def _restored_status(account: CallingAccount, now: datetime) -> str:
    """The one restore rule: back to where the lifecycle stands. Active once funded and past
    activation, otherwise pending activation (funded) or pending funding."""
    if account.activated_at or (account.activates_at and account.activates_at <= now):
        return AccountStatus.ACTIVE
    if account.activates_at:
        return AccountStatus.PENDING_ACTIVATION
    return AccountStatus.PENDING_FUNDING


def account_reinstate(
    *,
    account: CallingAccount,
    actor: User | None,
    reason: str,
    code: str | None = None,
    data: dict | None = None,
    now: datetime | None = None,
) -> CallingAccount:
    """Lift a suspension (with `code`, only a suspension for that cause). Raises AccountError when
    the account is not suspended so."""
    if not reason.strip():
        raise AccountError("Give a reason for reinstating the account.")
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked(account)
        if account.status != AccountStatus.SUSPENDED or (code and account.suspension_code != code):
            raise AccountError(f"Account #{account.pk} is not suspended.")
        previous_code = account.suspension_code
        account.status = _restored_status(account, now)
        if account.status == AccountStatus.ACTIVE:
            account.activated_at = account.activated_at or now
        account.suspension_code = ""
        account.save(update_fields=["status", "suspension_code", "activated_at"])
        AccountEvent.objects.create(
            account=account, action=AccountEvent.Action.REINSTATED, actor=actor, reason=reason.strip(), data=data or {}
        )
        if previous_code == SuspensionCode.STAFF:  # dunning sends its own "service restored" notice
            account_email_enqueue(account_id=account.pk, template="account_reinstated")
    return account


def account_mark_closed(
    *, account: CallingAccount, actor: User | None, reason: str, data: dict, now: datetime
) -> CallingAccount:
    """Mark an account closed, with its audit row. Called by closing (billing/closing), which holds
    the locks and has refunded the balance in the same transaction."""
    with transaction.atomic():
        account = _locked(account)
        if account.status == AccountStatus.CLOSED:
            raise AccountError(f"Account #{account.pk} is already closed.")
        data = {"previous_status": account.status, **data}
        account.status, account.closed_at = AccountStatus.CLOSED, now
        account.save(update_fields=["status", "closed_at"])
        AccountEvent.objects.create(
            account=account, action=AccountEvent.Action.CLOSED, actor=actor, reason=reason.strip(), data=data
        )
    return account
