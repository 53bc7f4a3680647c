"""Inmate debit that cannot hurt another family (docs/domain.md): who may sponsor, the payer order,
eligibility, caps, skip notices, and late records charged to whoever was responsible when the call
started."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import AccountStatus, PhoneNumber
from accounts.services import account_open, account_suspend, phone_number_add, phone_number_remove
from billing.closing import services as closing
from billing.ledger import kernel as ledger
from billing.ledger.models import Hold
from calls.models import Billing, CallRecord, InmateDebitSponsorship
from calls.rating import price
from calls.sponsorships import SponsorshipError, sponsorship_cap_set, sponsorship_end, sponsorship_start
from tests.helpers import authorize, balance_of, complete, deposit, make_account, next_number

pytestmark = pytest.mark.django_db


def sponsor(account, inmate, *, cap=None) -> InmateDebitSponsorship:
    return sponsorship_start(
        account=account,
        facility=inmate.facility,
        inmate_number=inmate.inmate_number,
        actor=account.holder,
        confirmed=True,
        monthly_cap_cents=cap,
    )


def cost(minutes: int) -> int:
    return price(minutes=minutes, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635")).total_cents


# --- who may sponsor ------------------------------------------------------------------------------


def test_a_pending_or_unfunded_account_cannot_start_a_sponsorship(inmate):
    pending = make_account(status=AccountStatus.PENDING_ACTIVATION, balance_cents=1000)
    with pytest.raises(SponsorshipError, match="not active yet"):
        sponsor(pending, inmate)
    unfunded = make_account(balance_cents=0)
    with pytest.raises(SponsorshipError, match="Add money to this account first"):
        sponsor(unfunded, inmate)
    assert not InmateDebitSponsorship.objects.exists()


def test_a_sponsorship_needs_the_name_confirmed(inmate):
    account = make_account(balance_cents=1000)
    with pytest.raises(SponsorshipError, match="Please confirm that"):
        sponsorship_start(
            account=account,
            facility=inmate.facility,
            inmate_number=inmate.inmate_number,
            actor=account.holder,
            confirmed=False,
        )
    assert not InmateDebitSponsorship.objects.exists()


def test_the_sponsor_is_emailed_when_a_sponsorship_starts(inmate, django_capture_on_commit_callbacks):
    account = make_account(balance_cents=1000)
    with django_capture_on_commit_callbacks(execute=True):
        sponsor(account, inmate)
    assert [m.subject for m in mail.outbox] == ["You now pay for John Roe's calls"]


def test_two_families_may_sponsor_the_same_inmate(inmate):
    first, second = make_account(balance_cents=1000), make_account(balance_cents=1000)
    sponsor(first, inmate)
    sponsor(second, inmate)
    assert InmateDebitSponsorship.objects.filter(inmate=inmate, ended_at__isnull=True).count() == 2


# --- the payer order ------------------------------------------------------------------------------


def test_the_oldest_sponsor_with_funds_pays_a_call_to_a_third_family(facility, inmate):
    older, newer = make_account(balance_cents=1000), make_account(balance_cents=1000)
    sponsor(older, inmate)
    sponsor(newer, inmate)
    family = make_account(balance_cents=0)
    answer = authorize(facility, inmate, family.test_number)
    assert (answer.decision, answer.billing) == ("allow", Billing.INMATE_DEBIT)
    assert Hold.objects.get(call_id=answer.call_id).account_id == older.pk


def test_a_sponsor_at_its_monthly_cap_is_skipped(facility, inmate):
    capped, other = make_account(balance_cents=5000), make_account(balance_cents=5000)
    sponsor(capped, inmate, cap=280)
    sponsor(other, inmate)
    family = make_account(balance_cents=0)
    first = authorize(facility, inmate, family.test_number)
    assert Hold.objects.get(call_id=first.call_id).account_id == capped.pk  # 12 minutes fit its $2.80
    complete(facility, inmate, family.test_number, seconds=12 * 60, cid=first.call_id)  # $2.68 billed
    assert CallRecord.objects.get(call_id=first.call_id).account_id == capped.pk
    answer = authorize(facility, inmate, family.test_number)  # 12 cents left: not one minute
    assert answer.allowed and Hold.objects.get(call_id=answer.call_id).account_id == other.pk


def test_the_callees_own_sponsorship_pays_first_for_calls_to_its_own_number(facility, inmate):
    outsider = make_account(balance_cents=5000)
    sponsor(outsider, inmate)
    own = make_account(balance_cents=1000)
    sponsor(own, inmate)
    answer = authorize(facility, inmate, own.test_number)
    assert (answer.billing, Hold.objects.get(call_id=answer.call_id).account_id) == (Billing.INMATE_DEBIT, own.pk)


def test_an_ineligible_sponsor_never_stops_a_call_to_another_family(facility, inmate):
    family = make_account(balance_cents=1000)
    stranger = make_account(balance_cents=1000)
    sponsor(stranger, inmate)
    account_suspend(account=stranger, actor=None, reason="Fraud review")

    answer = authorize(facility, inmate, family.test_number)

    assert (answer.decision, answer.billing) == ("allow", Billing.COLLECT)
    assert Hold.objects.get(call_id=answer.call_id).account_id == family.pk


@pytest.mark.parametrize("how", ["short_of_funds", "closed", "at_its_cap"])
def test_a_skipped_sponsor_bills_the_family_as_collect_and_pays_again_once_able(facility, inmate, how):
    family = make_account(balance_cents=1000)
    stranger = make_account(balance_cents=1000)
    sponsorship = sponsor(stranger, inmate)
    if how == "short_of_funds":
        deposit(stranger, -1000 + 10)  # ten cents left
    elif how == "at_its_cap":
        sponsorship_cap_set(sponsorship=sponsorship, monthly_cap_cents=10)
    else:
        closing.account_close(account=stranger, actor=stranger.holder)

    skipped = authorize(facility, inmate, family.test_number)
    assert (skipped.decision, skipped.billing) == ("allow", Billing.COLLECT)
    assert Hold.objects.get(call_id=skipped.call_id).account_id == family.pk

    if how == "closed":
        return  # a closed account never sponsors again
    if how == "short_of_funds":
        deposit(stranger, 2000)
    else:
        sponsorship_cap_set(sponsorship=sponsorship, monthly_cap_cents=None)
    paid = authorize(facility, inmate, family.test_number)
    assert (paid.decision, paid.billing) == ("allow", Billing.INMATE_DEBIT)
    assert Hold.objects.get(call_id=paid.call_id).account_id == stranger.pk


def test_a_sponsor_covering_fewer_minutes_than_the_callee_is_skipped(facility, inmate):
    family = make_account(balance_cents=1000)  # 15 minutes (the facility's cap)
    stranger = make_account(balance_cents=cost(5))  # 5 minutes
    sponsor(stranger, inmate)
    answer = authorize(facility, inmate, family.test_number)
    assert (answer.billing, answer.max_seconds) == (Billing.COLLECT, 15 * 60)
    assert Hold.objects.get(call_id=answer.call_id).account_id == family.pk


def test_a_sponsor_pays_when_the_callee_cannot(facility, inmate):
    family = make_account(balance_cents=0)
    stranger = make_account(balance_cents=cost(5))
    sponsor(stranger, inmate)
    answer = authorize(facility, inmate, family.test_number)
    assert (answer.decision, answer.billing, answer.max_seconds) == ("allow", Billing.INMATE_DEBIT, 5 * 60)


def test_a_skipped_sponsor_is_told_at_most_once_a_day(facility, inmate, django_capture_on_commit_callbacks):
    family = make_account(balance_cents=1000)
    stranger = make_account(balance_cents=10)
    InmateDebitSponsorship.objects.create(inmate=inmate, account=stranger, started_by=stranger.holder)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            authorize(facility, inmate, family.test_number)
    skipped = [m for m in mail.outbox if "billed to the person called" in m.subject]
    assert len(skipped) == 1 and skipped[0].to == [stranger.holder.email]
    later = timezone.now() + datetime.timedelta(days=1, minutes=1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        authorize(facility, inmate, family.test_number)
    assert len([m for m in mail.outbox if "billed to the person called" in m.subject]) == 2


# --- charged to whoever was responsible when the call started --------------------------------------


def test_a_late_record_started_before_a_number_moved_is_charged_to_the_first_account(facility, inmate):
    number = next_number()
    first = make_account(balance_cents=1000, number=number)
    started = timezone.now() - datetime.timedelta(hours=2)
    phone_number_remove(phone=PhoneNumber.objects.get(number=number, is_active=True), actor=first.holder)
    second = account_open(holder=make_account().holder)
    phone_number_add(account=second, number=number, label="Home", line_type="landline", actor=second.holder)

    done = complete(facility, inmate, number, seconds=120, started_at=started)

    assert CallRecord.objects.get(call_id=done.call_id).account_id == first.pk
    assert balance_of(first) == 1000 - cost(2)
    assert balance_of(second) == 0


def test_a_late_record_after_a_close_is_charged_to_the_closed_account_which_shows_the_debt(facility, inmate, client):
    account = make_account(balance_cents=0)
    started = timezone.now() - datetime.timedelta(hours=1)
    closing.account_close(account=account, actor=account.holder)

    done = complete(facility, inmate, account.test_number, seconds=180, started_at=started)

    assert CallRecord.objects.get(call_id=done.call_id).account_id == account.pk
    assert ledger.owed_cents(account=account) == cost(3)
    client.force_login(account.holder)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "owe" in page.lower()


def test_a_late_record_follows_the_sponsorship_in_force_when_the_call_started(facility, inmate):
    family = make_account(balance_cents=1000)
    stranger = make_account(balance_cents=1000)
    sponsorship = sponsor(stranger, inmate)
    InmateDebitSponsorship.objects.filter(pk=sponsorship.pk).update(
        started_at=timezone.now() - datetime.timedelta(days=1)
    )
    started = timezone.now() - datetime.timedelta(hours=1)
    sponsorship_end(sponsorship=sponsorship, actor=stranger.holder)

    done = complete(facility, inmate, family.test_number, seconds=60, started_at=started)

    record = CallRecord.objects.get(call_id=done.call_id)
    assert (record.account_id, record.billing) == (stranger.pk, Billing.INMATE_DEBIT)


def test_the_callees_own_sponsorship_respects_its_cap_without_shortening_the_call(facility, inmate):
    own = make_account(balance_cents=1000)  # 15 minutes as a collect call
    sponsor(own, inmate, cap=100)  # $1.00 of inmate debit a month: 4 minutes
    answer = authorize(facility, inmate, own.test_number)
    assert (answer.billing, answer.max_seconds) == (Billing.COLLECT, 15 * 60)
    assert Hold.objects.get(call_id=answer.call_id).account_id == own.pk
