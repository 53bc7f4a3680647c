"""Each account says where it stands and what to do, offers only the payment that helps, and shows
prices before anything is paid. A family whose calls are all free is never asked to pay."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AccountStatus, PhoneNumber
from accounts.services import account_facility_set, account_suspend
from billing.closing.services import account_close
from billing.payments.models import Channel, Payment, PaymentMethod, PaymentStatus
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory
from tests.helpers import Calls, complete, make_account

pytestmark = pytest.mark.django_db


def _fund_links(html: str) -> list[str]:
    return re.findall(r'href="/billing/fund/[^"]*"', html)


@pytest.fixture
def connecticut(db):
    facility = FacilityFactory(name="Cheshire CI", state="CT")
    RatePlanFactory(
        facility=facility, rate_per_minute=Decimal("0"), tax_rate=Decimal("0"), effective_from_date="2022-10-01"
    )
    return facility


def test_a_connecticut_only_family_is_never_asked_to_pay_to_connect(client, connecticut):
    account = make_account(status=AccountStatus.PENDING_FUNDING)
    client.force_login(account.holder)
    # Named when opening the account (the dashboard's optional facility choice).
    response = client.post(reverse("accounts:account_open"), {"facility": connecticut.pk})
    opened = account.holder.calling_accounts.exclude(pk=account.pk).get()
    assert opened.facility_id == connecticut.pk
    assert response.status_code == 302
    for url in (reverse("accounts:account_detail", args=[opened.pk]), reverse("accounts:dashboard")):
        html = client.get(url).content.decode()
        section = html.split(f'id="account-{opened.pk}"')[-1].split("</article>")[0] if "dashboard" in url else html
        assert "Calls from Cheshire CI are free" in section
        assert "hours after your first payment" not in section
        assert not _fund_links(section), url
        assert "Add money" not in section and "Pay what you owe" not in section


def test_a_family_called_by_a_free_facility_in_its_history_is_told_it_is_free(client, connecticut):
    account = make_account(status=AccountStatus.PENDING_FUNDING)
    complete(connecticut, InmateFactory(facility=connecticut), account.test_number, seconds=300)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "Calls from Cheshire CI are free" in html and not _fund_links(html)


def test_prices_up_front_name_the_rate_tax_and_minutes_the_balance_buys(client, facility):
    account = make_account(balance_cents=1000)
    account_facility_set(account=account, facility_id=facility.pk)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "$0.21" in html and "6.35%" in html
    # $10.00 at $0.21 + 6.35 % tax: 44 minutes cost $9.83, 45 would cost $10.05.
    assert f"about 44 minutes at {facility.name}" in html


def test_a_staff_suspension_is_explained_numbers_are_paused_and_no_add_money_is_offered(client, staff):
    account = make_account(balance_cents=1000)
    account_suspend(account=account, actor=staff, reason="Review")
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "Our staff suspended this account." in html
    assert "Adding money does not lift this suspension" in html and "help@familyline.example" in html
    assert "paused" in html.split("data-numbers")[1].split("</dd>")[0]
    assert "Numbers that can be called" not in html
    assert not _fund_links(html)


def test_a_negative_balance_says_calls_stopped_and_offers_to_pay_what_is_owed(client):
    calls = Calls()
    account = make_account(balance_cents=100)
    calls.complete(number=account.test_number, minutes=10)
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert 'data-state="negative"' in html and "you owe $1.23" in html
    assert "Pay what you owe" in html


def test_pending_activation_shows_the_exact_time_with_its_zone(client, account):
    account.status = AccountStatus.PENDING_ACTIVATION
    account.activates_at = account.created_at.replace(year=2030, month=1, day=2, hour=15, minute=30, second=0)
    account.save()
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    activates = re.search(r"data-activates>([^<]+)<", html).group(1)
    assert activates.startswith("Jan 2, 2030") and activates.endswith(("EST", "EDT"))


def test_a_closed_account_does_not_invite_adding_numbers(client, staff):
    account = make_account()
    account_close(account=account, actor=account.holder, reason="")
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "Add a number" not in html and "Add the numbers your loved one may call" not in html
    assert 'data-state="closed"' in html


def test_removing_a_number_asks_first(client):
    account = make_account()
    phone = PhoneNumber.objects.get(account=account)
    client.force_login(account.holder)
    url = reverse("accounts:number_remove", args=[phone.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Yes, remove" in page.content.decode()
    phone.refresh_from_db()
    assert phone.is_active
    client.post(url)
    phone.refresh_from_db()
    assert not phone.is_active


def test_edit_and_remove_links_name_the_number(client):
    account = make_account(number="+18605550134")
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert 'Edit<span class="visually-hidden"> (860) 555-0134</span>' in html
    assert 'Remove<span class="visually-hidden"> (860) 555-0134</span>' in html


def test_the_line_type_must_be_chosen(client):
    account = make_account()
    client.force_login(account.holder)
    url = reverse("accounts:account_detail", args=[account.pk])
    html = client.get(url).content.decode()
    assert re.search(r'<option value="" selected>', html)
    response = client.post(url, {"number": "(860) 555-0199", "label": "Home"})
    body = response.content.decode()
    assert response.status_code == 400 and "Choose the kind of line" in body
    assert 'aria-invalid="true"' in body and 'aria-describedby="id_line_type_helptext id_line_type_error"' in body
    assert 'role="alert"' in body and "autofocus" in body


def test_the_funding_page_shows_the_limits_and_the_fee_before_review(client, account):
    client.force_login(account.holder)
    html = client.get(reverse("billing:fund")).content.decode()
    assert "between $5.00 and $50.00" in html
    assert "$3.00 per card payment online" in html


def test_the_profile_names_fields_for_autocomplete(client, holder):
    client.force_login(holder)
    html = client.get(reverse("accounts:profile")).content.decode()
    for name, hint in (
        ("first_name", "given-name"),
        ("last_name", "family-name"),
        ("address_line1", "address-line1"),
        ("postal_code", "postal-code"),
    ):
        assert re.search(rf'name="{name}"[^>]*autocomplete="{hint}"|autocomplete="{hint}"[^>]*name="{name}"', html)


def test_a_failed_payment_is_shown_as_not_charged(client, account):
    Payment.objects.create(
        account=account,
        channel=Channel.WEB,
        method=PaymentMethod.CARD,
        amount_cents=2000,
        fee_cents=300,
        status=PaymentStatus.FAILED,
        failure_message="Your card was declined.",
    )
    client.force_login(account.holder)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "Failed: nothing was charged" in html
    assert "$23.00" not in html
