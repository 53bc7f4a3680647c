from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django_stubs_ext import StrOrPromise
from phonenumber_field.phonenumber import to_python as phone_number_parse

from billing.ledger import kernel as ledger

from .models import AccountKind, AccountStatus, CallingAccount, PhoneNumber, SuspensionCode, User


def account_list_for_holder(*, holder: User) -> QuerySet[CallingAccount]:
    return (
        CallingAccount.objects.filter(holder=holder)
        .select_related("ledger_account")
        .prefetch_related(
            Prefetch(
                "phone_numbers",
                queryset=PhoneNumber.objects.filter(is_active=True).order_by("added_at", "id"),
                to_attr="active_numbers",
            )
        )
        .order_by("-created_at", "-id")
    )


def account_get_for_holder(*, holder: User, pk: int) -> CallingAccount:
    """The holder's own account, or 404 (never another holder's)."""
    return get_object_or_404(account_list_for_holder(holder=holder), pk=pk)


def account_payable_list_for_holder(*, holder: User) -> QuerySet[CallingAccount]:
    """Open accounts, and closed ones that still owe, oldest first."""
    accounts = CallingAccount.objects.filter(holder=holder)
    owing = ledger.accounts_owing(accounts.filter(status=AccountStatus.CLOSED))
    return (accounts.exclude(status=AccountStatus.CLOSED) | owing).order_by("id")


def phone_number_get_for_holder(*, holder: User, pk: int) -> PhoneNumber:
    return get_object_or_404(
        PhoneNumber.objects.select_related("account"), pk=pk, account__holder=holder, is_active=True
    )


# How another family's number reads: its last two digits only.
MASKED_NUMBER_PREFIX = "•••••••••"


@dataclass(frozen=True)
class NumberView:
    """The one rule for showing a called number to a family: a number registered (now or before) on
    one of the viewer's own accounts reads in full, "(860) 555-0147"; any other number is another
    family's and reads as its last two digits only, "•••••••••47", on every page, filter, export,
    email and PDF. Form values follow the same rule: `key` is the E.164 number for the viewer's own
    numbers and an opaque token for the others, so no page source carries them either."""

    holder_id: int
    own: frozenset[str]  # E.164

    def e164(self, number) -> str:
        if not number:
            return ""
        parsed = phone_number_parse(str(number))
        return parsed.as_e164 if parsed is not None and parsed.is_valid() else str(number)

    def is_own(self, number) -> bool:
        return self.e164(number) in self.own

    def text(self, number) -> str:
        """The number as the viewer may read it."""
        if not number:
            return ""
        e164 = self.e164(number)
        if e164 not in self.own:
            return f"{MASKED_NUMBER_PREFIX}{e164[-2:]}"
        parsed = phone_number_parse(e164)
        return parsed.as_national if parsed is not None and parsed.is_valid() else e164

    def key(self, number) -> str:
        """A value standing for the number in a form (a filter's option)."""
        e164 = self.e164(number)
        if e164 in self.own:
            return e164
        return "n" + salted_hmac("familyline.number-key", f"{self.holder_id}:{e164}").hexdigest()[:16]


def number_view_for_holder(*, holder: User) -> NumberView:
    """How called numbers read for this holder (see NumberView)."""
    numbers = PhoneNumber.objects.filter(account__holder=holder).values_list("number", flat=True)
    return NumberView(holder_id=holder.pk, own=frozenset(str(number) for number in numbers))


@dataclass(frozen=True)
class AccountView:
    """What a holder sees of one account: status as of now (activation time counted), balance."""

    account: CallingAccount
    status: str
    status_label: StrOrPromise
    balance_cents: int
    numbers: list
    credit: "Credit | None" = None

    @property
    def owed_cents(self) -> int:
        return -self.balance_cents if self.balance_cents < 0 else 0

    @property
    def activates_at(self) -> datetime | None:
        return self.account.activates_at if self.status == AccountStatus.PENDING_ACTIVATION else None

    @property
    def calls_refused_because(self) -> str:
        """Why calls are refused now, in words a holder can act on ("" when they connect)."""
        if self.status == AccountStatus.SUSPENDED and self.account.suspension_code == SuspensionCode.STATEMENT_PAST_DUE:
            return _("A statement is past due: pay it to restore calls.")
        if self.credit is not None and self.status == AccountStatus.ACTIVE and self.credit.available_cents <= 0:
            return _("Your credit limit is reached: pay any amount to restore calls.")
        return ""


@dataclass(frozen=True)
class Credit:
    """A Direct Bill account's credit: the limit, what is used (owed plus calls in progress) and
    what is left, and when the next statement is issued."""

    limit_cents: int
    used_cents: int
    next_statement_date: date

    @property
    def available_cents(self) -> int:
        return max(0, self.limit_cents - self.used_cents)


def account_view(*, account: CallingAccount, now: datetime | None = None) -> AccountView:
    status = account.status_at(now or timezone.now())
    numbers = getattr(account, "active_numbers", None)
    if numbers is None:
        numbers = list(account.phone_numbers.filter(is_active=True).order_by("added_at", "id"))
    balance = ledger.balance_get(account=account)
    credit = None
    if account.kind == AccountKind.DIRECT_BILL:
        now = now or timezone.now()
        today = timezone.localtime(now, timezone.get_default_timezone()).date()
        credit = Credit(
            limit_cents=account.credit_limit_cents,
            used_cents=max(0, -balance) + ledger.holds_open_cents(account=account, now=now),
            next_statement_date=(today.replace(day=1) + timedelta(days=32)).replace(day=1),
        )
    return AccountView(
        account=account,
        status=status,
        status_label=AccountStatus(status).label,
        balance_cents=balance,
        numbers=numbers,
        credit=credit,
    )
