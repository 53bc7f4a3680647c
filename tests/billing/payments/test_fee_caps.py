"""Each channel's fee is capped by its own FCC cap (automated $3.00, live agent $5.95, mail $0.00), in
the service, in the admin and in the database, all from one constant."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from billing.payments import services
from billing.payments.models import FEE_CAPS_CENTS, Channel, FeeSchedule, Payment
from tests.helpers import make_account

CAPS = {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}


def test_the_caps_have_one_home():
    assert {str(channel): cap for channel, cap in FEE_CAPS_CENTS.items()} == CAPS


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["web", "phone_ivr", "phone_agent", "mail"])
def test_each_fee_is_refused_above_its_own_cap_by_the_service(channel):
    row = FeeSchedule.objects.get(channel=channel)
    with pytest.raises(services.PaymentError):
        services.fee_schedule_update(row=row, fee_cents=CAPS[channel] + 1)
    row.refresh_from_db()
    assert row.fee_cents <= CAPS[channel]
    assert services.fee_schedule_update(row=row, fee_cents=CAPS[channel]).fee_cents == CAPS[channel]


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["web", "phone_ivr", "phone_agent", "mail"])
def test_the_database_refuses_each_fee_above_its_cap(channel):
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeSchedule.objects.filter(channel=channel).update(fee_cents=CAPS[channel] + 1)
    account = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(account=account, channel=channel, amount_cents=1000, fee_cents=CAPS[channel] + 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("channel", "typed", "refused"),
    [
        ("web", "5.95", True),
        ("phone_ivr", "3.01", True),
        ("phone_agent", "5.96", True),
        ("phone_agent", "5.95", False),
        ("web", "3.00", False),
    ],
)
def test_the_admin_refuses_a_fee_above_the_channel_cap_in_dollars(admin_client, channel, typed, refused):
    row = FeeSchedule.objects.get(channel=channel)
    response = admin_client.post(reverse("admin:billing_feeschedule_change", args=[row.pk]), {"fee": typed})
    row.refresh_from_db()
    if refused:
        cap = f"${CAPS[channel] // 100}.{CAPS[channel] % 100:02d}"
        assert response.status_code == 200 and f"fee may exceed {cap}" in response.content.decode()
        assert row.fee_cents != int(typed.replace(".", ""))
    else:
        assert response.status_code == 302 and row.fee_cents == int(typed.replace(".", ""))


@pytest.mark.django_db
def test_a_schedule_row_set_above_its_cap_never_reaches_a_quote():
    # Even if a row were somehow above its cap, a quote uses the cap (the service clamps per channel).
    assert services.fee_for_channel(channel=Channel.WEB) <= 300
    assert services.fee_for_channel(channel=Channel.PHONE_AGENT) == 595


@pytest.mark.django_db
def test_fee_list_shows_dollars_and_each_cap(admin_client):
    html = admin_client.get(reverse("admin:billing_feeschedule_changelist")).content.decode()
    assert "$3.00" in html and "$5.95" in html and "cents" not in html
