"""Phone numbers: E.164, labels and line types, one open account per active number."""

import pytest
from django.db import IntegrityError
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, AccountStatus, LineType, PhoneNumber
from tests.factories import UserFactory
from tests.helpers import balance_of


def add(client, account, number, label="", line_type=LineType.LANDLINE):
    return client.post(
        reverse("accounts:account_detail", args=[account.pk]),
        {"number": number, "label": label, "line_type": line_type},
    )


def test_holder_adds_several_numbers_stored_in_e164(client, holder, account):
    client.force_login(holder)
    assert add(client, account, "(860) 555-0134", "Home").status_code == 302
    assert add(client, account, "+1 203 555 0188", "Grandma's cell", LineType.MOBILE).status_code == 302

    numbers = list(account.phone_numbers.order_by("id").values_list("number", "label", "line_type"))
    assert [(str(n), label, kind) for n, label, kind in numbers] == [
        ("+18605550134", "Home", "landline"),
        ("+12035550188", "Grandma's cell", "mobile"),
    ]
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.NUMBER_ADDED).count() == 2
    page = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "(860) 555-0134" in page and "Grandma&#x27;s cell" in page


def test_number_active_on_another_open_account_is_refused_clearly(client, holder, account):
    other = services.account_open(holder=UserFactory())
    services.phone_number_add(account=other, number="+18605550134", label="", line_type="landline", actor=other.holder)
    client.force_login(holder)

    response = add(client, account, "860-555-0134")

    assert response.status_code == 400
    assert "already registered on a FamilyLine account" in response.content.decode()
    assert not account.phone_numbers.exists()


def test_the_database_allows_one_active_row_per_number(account):
    PhoneNumber.objects.create(account=account, number="+18605550134")
    with pytest.raises(IntegrityError):
        PhoneNumber.objects.create(account=account, number="+18605550134")


def test_a_removed_number_can_be_registered_elsewhere(client, holder, account):
    phone = services.phone_number_add(account=account, number="+18605550134", label="", line_type="", actor=holder)
    client.force_login(holder)
    assert client.post(reverse("accounts:number_remove", args=[phone.pk])).status_code == 302
    phone.refresh_from_db()
    assert not phone.is_active and phone.removed_at is not None

    other = services.account_open(holder=UserFactory())
    moved = services.phone_number_add(account=other, number="+18605550134", label="", line_type="", actor=other.holder)
    assert moved.is_active


@pytest.mark.parametrize("number", ["12345", "not a number", "", "+1 555"])
def test_invalid_numbers_are_refused(client, holder, account, number):
    client.force_login(holder)
    response = add(client, account, number)
    assert response.status_code == 400
    assert not account.phone_numbers.exists()


def test_label_and_line_type_can_be_changed(client, holder, account):
    phone = services.phone_number_add(account=account, number="+18605550134", label="", line_type="", actor=holder)
    client.force_login(holder)
    response = client.post(reverse("accounts:number_edit", args=[phone.pk]), {"label": "Work", "line_type": "voip"})
    assert response.status_code == 302
    phone.refresh_from_db()
    assert (phone.label, phone.line_type) == ("Work", "voip")


def test_another_holder_cannot_see_or_change_the_numbers(client, holder, account):
    phone = services.phone_number_add(account=account, number="+18605550134", label="", line_type="", actor=holder)
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:account_detail", args=[account.pk])).status_code == 404
    assert client.post(reverse("accounts:number_edit", args=[phone.pk]), {"label": "x"}).status_code == 404
    assert client.post(reverse("accounts:number_remove", args=[phone.pk])).status_code == 404
    assert add(client, account, "+12035550188").status_code == 404
    phone.refresh_from_db()
    assert phone.is_active and phone.label == ""


def test_closed_account_takes_no_numbers(holder, account):
    account.status = AccountStatus.CLOSED
    account.save(update_fields=["status"])
    with pytest.raises(services.AccountError, match="closed"):
        services.phone_number_add(account=account, number="+18605550134", label="", line_type="", actor=holder)


def test_holder_opens_an_advance_connect_account(client, holder):
    client.force_login(holder)
    response = client.post(reverse("accounts:account_open"))
    account = holder.calling_accounts.get()
    assert response["Location"] == reverse("accounts:account_detail", args=[account.pk])
    assert account.kind == "advance_connect" and account.status == AccountStatus.PENDING_FUNDING
    assert balance_of(account) == 0
