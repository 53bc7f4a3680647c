"""Credit decisions for Direct Bill applications.

A provider looks at an applicant and answers approved (with a credit limit), declined (with a
reason fit to show the applicant) or "needs review". The provider that ships is staff review:
every application waits in the admin queue. A credit bureau adapter (HTTP) can be added later
behind the same interface and chosen with the `CREDIT_CHECK_PROVIDER` setting (a dotted path).

Residents of Alaska are pre-approved at ALASKA_PREAPPROVED_LIMIT_CENTS with no check at all: that
rule runs before any provider is asked.
"""

import abc
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.conf import settings
from django.utils.module_loading import import_string

DEFAULT_PROVIDER = "accounts.direct_bill.credit.StaffReviewProvider"


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class CreditApplicant:
    """What a provider may look at. `ssn` is only ever held here, in memory, on its way to a
    provider: FamilyLine stores its last four digits and nothing more."""

    legal_name: str
    date_of_birth: date
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    ssn: str = ""

    def __repr__(self) -> str:  # keep the SSN out of logs and tracebacks
        return f"CreditApplicant({self.legal_name!r}, state={self.state!r})"


@dataclass(frozen=True)
class CreditDecision:
    outcome: Outcome
    provider: str
    credit_limit_cents: int | None = None
    reason: str = ""

    def __post_init__(self):
        if self.outcome == Outcome.APPROVED and (self.credit_limit_cents is None or self.credit_limit_cents < 0):
            raise ValueError("an approval carries a credit limit of zero or more cents")
        if self.outcome == Outcome.DECLINED and not self.reason:
            raise ValueError("a decline carries a reason the applicant can read")


class CreditCheckProvider(abc.ABC):
    """Decides on an applicant. Implementations must not store the SSN they are given."""

    name: str = ""

    @abc.abstractmethod
    def check(self, applicant: CreditApplicant) -> CreditDecision:
        """Return a decision. Raise `CreditCheckUnavailable` when the provider cannot answer now:
        the application then waits for staff review instead of failing."""


class CreditCheckUnavailable(Exception):
    """The provider could not be reached or gave no usable answer."""


class AlaskaPreapproval:
    """Residents of Alaska are pre-approved at a fixed limit, with no credit check."""

    name = "alaska_preapproval"
    label = "Alaska pre-approval (no credit check)"
    state = "AK"

    def applies(self, applicant: CreditApplicant) -> bool:
        return applicant.state.upper() == self.state

    def decision(self) -> CreditDecision:
        return CreditDecision(
            outcome=Outcome.APPROVED,
            provider=self.name,
            credit_limit_cents=settings.ALASKA_PREAPPROVED_LIMIT_CENTS,
        )


class StaffReviewProvider(CreditCheckProvider):
    """The shipped provider: a person on staff reviews each application in the admin queue."""

    name = "staff_review"
    label = "Staff review"

    def check(self, applicant: CreditApplicant) -> CreditDecision:
        return CreditDecision(outcome=Outcome.NEEDS_REVIEW, provider=self.name)


def configured_provider() -> CreditCheckProvider:
    return import_string(getattr(settings, "CREDIT_CHECK_PROVIDER", DEFAULT_PROVIDER))()


def provider_label(name: str) -> str:
    """What staff read for a provider's stored code: "staff_review" is "Staff review"."""
    configured = import_string(getattr(settings, "CREDIT_CHECK_PROVIDER", DEFAULT_PROVIDER))
    for provider in (AlaskaPreapproval, StaffReviewProvider, configured):
        if provider.name == name:
            return getattr(provider, "label", "") or name
    return name.replace("_", " ").capitalize() or "-"


def credit_decide(applicant: CreditApplicant, *, provider: CreditCheckProvider | None = None) -> CreditDecision:
    """The decision for an applicant: the Alaska rule first, then the configured provider. A
    provider that cannot answer leaves the application for staff review."""
    alaska = AlaskaPreapproval()
    if alaska.applies(applicant):
        return alaska.decision()
    provider = provider or configured_provider()
    try:
        return provider.check(applicant)
    except CreditCheckUnavailable:
        return CreditDecision(outcome=Outcome.NEEDS_REVIEW, provider=StaffReviewProvider.name)
