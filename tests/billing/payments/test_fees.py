"""The fee schedule: FCC-capped defaults, staff edits within the cap, one switch to waive all fees."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.services import account_open
from billing.payments import services
from billing.payments.models import Channel, FeeSchedule


@pytest.mark.django_db
def test_default_fees_follow_the_fcc_caps():
    fees = {channel: services.fee_for_channel(channel=channel) for channel in Channel.values}
    assert fees == {"web": 300, "phone_ivr": 300, "phone_agent": 595, "mail": 0}


@pytest.mark.django_db
def test_one_setting_waives_every_fee(settings, holder):
    settings.PAYMENT_FEES_WAIVED = True
    assert {services.fee_for_channel(channel=c) for c in Channel.values} == {0}
    quote = services.payment_quote(account=account_open(holder=holder), amount_cents=2500, channel=Channel.WEB)
    assert (quote.fee_cents, quote.total_cents) == (0, 2500)


@pytest.mark.django_db
def test_the_database_refuses_a_fee_above_its_channel_cap_or_a_mail_fee():
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeSchedule.objects.filter(channel="web").update(fee_cents=301)
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeSchedule.objects.filter(channel="phone_agent").update(fee_cents=596)
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeSchedule.objects.filter(channel="mail").update(fee_cents=1)


@pytest.mark.django_db
def test_staff_edit_a_fee_and_new_quotes_use_it(client, holder, staff):
    client.force_login(staff)
    web = FeeSchedule.objects.get(channel="web")
    url = reverse("admin:billing_feeschedule_change", args=[web.pk])

    refused = client.post(url, {"fee": "3.01"})
    assert refused.status_code == 200 and "No Online (web) fee may exceed $3.00" in refused.content.decode()
    assert client.post(url, {"fee": "2.50"}).status_code == 302

    quote = services.payment_quote(account=account_open(holder=holder), amount_cents=1000, channel=Channel.WEB)
    assert (quote.fee_cents, quote.total_cents) == (250, 1250)


@pytest.mark.django_db
def test_mail_fee_stays_zero():
    mail = FeeSchedule.objects.get(channel="mail")
    with pytest.raises(services.PaymentError, match="never carry a fee"):
        services.fee_schedule_update(row=mail, fee_cents=100)
    with pytest.raises(services.PaymentError, match=r"exceed \$5.95"):
        services.fee_schedule_update(row=FeeSchedule.objects.get(channel="phone_agent"), fee_cents=600)
