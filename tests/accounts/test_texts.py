"""Texts: a holder turns them on for a number with a code (the consent kept word for word); alerts and
receipts go by text beside their emails, alerts held overnight; each text is sent at most once; STOP,
START and HELP are honoured; delivery statuses are kept, from signed callbacks only."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import PhoneNumber, TextConsent, TextMessage, TextOptOut, TextReceived, TextStatusEvent
from accounts.outbox import outbox_drain
from accounts.texts import backends
from accounts.texts.notices import TEXTED, account_text_queue
from accounts.texts.sending import SENDING_STALE_AFTER, text_queue, texts_send_due
from accounts.texts.wording import MAX_SEGMENTS, account_notice_text, consent_wording, help_text, segments_count
from billing.ledger import kernel as ledger
from tests.factories import UserFactory
from tests.helpers import complete, mail_payment, make_account, ny, twilio_post

pytestmark = pytest.mark.django_db

INBOUND = "/texts/twilio/inbound/"
STATUS = "/texts/twilio/status/"


def _sent_texts(to: str | None = None) -> list[str]:
    return [m.body for m in backends.outbox if m.kind == "sms" and (to is None or m.to == to)]


def _opted_in(account) -> TextConsent:
    """A consent as the web confirms it (the web flow itself is tested below)."""
    return TextConsent.objects.create(
        holder=account.holder,
        account=account,
        number=account.test_number,
        wording=consent_wording("en"),
        language="en",
        confirmed_at=timezone.now(),
    )


def _code(body: str) -> str:
    return re.search(r"\b(\d{6})\b", body).group(1)


# --- opting in on the web ---------------------------------------------------------------------------


def test_a_code_texted_to_the_number_turns_texts_on_and_the_consent_is_kept(client):
    account = make_account(balance_cents=1000)
    phone = PhoneNumber.objects.get(account=account)
    client.force_login(account.holder)
    url = reverse("texts:number_texts", args=[phone.pk])

    page = client.get(url)
    assert consent_wording("en") in page.content.decode()
    client.post(url, {"action": "send"})
    [body] = _sent_texts(account.test_number)
    code = _code(body)
    stored = TextMessage.objects.get(purpose="code")
    assert code not in stored.body and stored.status == "sent"  # the code itself is never stored

    wrong = "000000" if code != "000000" else "111111"
    page = client.post(url, {"action": "confirm", "code": wrong})
    assert "This code is not right" in page.content.decode()
    assert not TextConsent.objects.exists()

    client.post(url, {"action": "confirm", "code": code})
    consent = TextConsent.objects.get()
    assert (consent.holder, consent.account, str(consent.number)) == (account.holder, account, account.test_number)
    assert consent.wording == consent_wording("en") and consent.language == "en"
    assert consent.confirmed_at is not None and consent.client_address == "127.0.0.1"
    assert "Texts are on since" in client.get(url).content.decode()

    # A code is used once.
    client.post(url, {"action": "confirm", "code": code})
    assert TextConsent.objects.count() == 1


def test_turning_texts_off_on_the_web_stops_the_alerts_already_waiting(client):
    account = make_account(balance_cents=1000)
    _opted_in(account)
    with time_machine.travel(ny(2026, 3, 10, 23, 0), tick=False):
        account_text_queue(account_id=account.pk, template="low_balance", context={"balance_cents": 400}, key="k1")
    client.force_login(account.holder)
    client.post(reverse("texts:number_texts", args=[PhoneNumber.objects.get(account=account).pk]), {"action": "off"})

    assert TextConsent.objects.get().withdrawn_how == "web"
    assert TextMessage.objects.get().status == "canceled"
    with time_machine.travel(ny(2026, 3, 11, 8, 0), tick=False):
        assert texts_send_due() == 0
    assert _sent_texts() == []


def test_another_holder_cannot_turn_on_texts_for_a_number_not_theirs(client):
    account = make_account(balance_cents=1000)
    client.force_login(UserFactory())
    url = reverse("texts:number_texts", args=[PhoneNumber.objects.get(account=account).pk])
    response = client.post(url, {"action": "send"})
    assert response.status_code == 404
    assert _sent_texts() == []


def test_the_code_goes_through_the_twilio_client_with_the_status_callback(client, twilio_api, settings):
    settings.PUBLIC_BASE_URL = "https://familyline.example"
    account = make_account(balance_cents=1000)
    client.force_login(account.holder)
    client.post(reverse("texts:number_texts", args=[PhoneNumber.objects.get(account=account).pk]), {"action": "send"})

    [request] = twilio_api.requests
    assert request["path"] == "/2010-04-01/Accounts/ACtest/Messages.json"
    fields = request["fields"]
    assert (fields["To"], fields["From"]) == (account.test_number, settings.TWILIO_PHONE_NUMBER)
    assert re.search(r"\b\d{6}\b", fields["Body"])
    assert fields["StatusCallback"] == "https://familyline.example/texts/twilio/status/"
    assert TextMessage.objects.get().provider_sid.startswith("SM")


# --- alerts and receipts -----------------------------------------------------------------------------


def test_a_low_balance_at_ten_pm_is_emailed_at_once_and_texted_at_eight_am(facility, inmate, settings):
    account = make_account(balance_cents=600)  # the alert threshold is $5.00
    _opted_in(account)
    with time_machine.travel(ny(2026, 3, 10, 22, 0), tick=False):
        complete(facility, inmate, account.test_number, seconds=600)  # 10 min at $0.21 + tax: $2.23
        while outbox_drain():
            pass
        assert [m.subject for m in mail.outbox if "is low" in m.subject]
        assert texts_send_due() == 0
        queued = TextMessage.objects.get(template="low_balance")
        assert queued.status == "queued" and queued.send_after == ny(2026, 3, 11, 8, 0)
    with time_machine.travel(ny(2026, 3, 11, 7, 59), tick=False):
        assert texts_send_due() == 0
    assert _sent_texts() == []
    with time_machine.travel(ny(2026, 3, 11, 8, 0), tick=False):
        assert texts_send_due() == 1
    assert _sent_texts(account.test_number) == [
        f"FamilyLine: account #{account.pk} is down to $3.77. Add money: {settings.SITE_URL} Reply STOP to stop texts."
    ]
    assert ledger.check() == []


def test_a_receipt_at_ten_pm_is_texted_at_once(staff):
    account = make_account()
    _opted_in(account)
    with time_machine.travel(ny(2026, 3, 10, 22, 0), tick=False):
        mail_payment(account, 2000, staff)
        while outbox_drain():
            pass
        assert texts_send_due() == 1
    assert _sent_texts(account.test_number) == [
        f"FamilyLine receipt: $20.00 paid to account #{account.pk}. Thank you. Reply STOP to stop texts."
    ]
    assert ledger.check() == []


def test_an_alert_in_the_holders_zone_waits_for_eight_am_there():
    holder = UserFactory(time_zone="America/Los_Angeles")
    account = make_account(holder=holder)
    _opted_in(account)
    # 11:30 pm in New York is 8:30 pm in Los Angeles: not quiet there.
    with time_machine.travel(ny(2026, 3, 10, 23, 30), tick=False):
        account_text_queue(account_id=account.pk, template="account_suspended", context={}, key="k")
        assert texts_send_due() == 1


def test_a_notice_to_a_spanish_speaking_holder_is_in_spanish():
    account = make_account(language="es")
    _opted_in(account)
    account_text_queue(account_id=account.pk, template="payment_receipt", context={"amount_cents": 2000}, key="k")
    [message] = TextMessage.objects.all()
    assert message.body == (
        f"Recibo de FamilyLine: $20.00 pagados a la cuenta #{account.pk}. Gracias. Responda STOP para cancelar."
    )


def test_one_cause_queues_one_text_per_number_however_often_the_outbox_runs_it():
    account = make_account()
    _opted_in(account)
    for _ in range(3):
        account_text_queue(account_id=account.pk, template="payment_receipt", context={"amount_cents": 500}, key="k")
    assert TextMessage.objects.count() == 1


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("template", sorted(TEXTED))
def test_every_notice_fits_in_two_segments(template, language, settings):
    settings.SITE_URL = "https://www.familyline.example"
    context = {"account_id": 9999999, "amount_cents": 99999, "balance_cents": -99999, "due_date": "2026-12-31"}
    assert segments_count(account_notice_text(template=template, language=language, context=context)) <= MAX_SEGMENTS


def test_segments_are_counted_as_carriers_count_them():
    assert segments_count("a" * 160) == 1
    assert segments_count("a" * 161) == 2
    assert segments_count("a" * 306) == 2 and segments_count("a" * 307) == 3
    assert segments_count("€" * 80) == 1 and segments_count("€" * 81) == 2  # two characters each in GSM-7
    assert segments_count("á" * 70) == 1 and segments_count("á" * 71) == 2  # UCS-2
    assert segments_count("á" * 134) == 2 and segments_count("á" * 135) == 3


# --- sent at most once -------------------------------------------------------------------------------


def _queued(number: str) -> TextMessage:
    return text_queue(to=number, body="FamilyLine test. Reply STOP to stop texts.", purpose="alert", language="en")


def test_a_text_whose_send_timed_out_is_left_unknown_and_never_sent_again(twilio_api):
    number = make_account().test_number
    message = _queued(number)
    twilio_api.answer("timeout")

    assert texts_send_due() == 1
    message.refresh_from_db()
    assert message.status == "unknown" and "Timeout" in message.error_message
    assert len(twilio_api.messages()) == 1
    with time_machine.travel(timezone.now() + SENDING_STALE_AFTER + timedelta(hours=1), tick=False):
        assert texts_send_due() == 0
    assert len(twilio_api.messages()) == 1


def test_a_text_claimed_by_a_worker_that_died_becomes_unknown_and_is_not_sent(twilio_api):
    message = _queued(make_account().test_number)
    TextMessage.objects.filter(pk=message.pk).update(status="sending", attempted_at=timezone.now())
    with time_machine.travel(timezone.now() + SENDING_STALE_AFTER + timedelta(minutes=1), tick=False):
        assert texts_send_due() == 0
    message.refresh_from_db()
    assert message.status == "unknown" and twilio_api.requests == []


def test_a_server_error_is_unclear_and_a_refusal_is_a_clear_failure(twilio_api):
    first, second = _queued(make_account().test_number), _queued(make_account().test_number)
    twilio_api.answer("server_error", "invalid_number")
    texts_send_due()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "unknown"
    assert (second.status, second.error_code) == ("failed", 21211)
    assert texts_send_due() == 0 and len(twilio_api.messages()) == 2


def test_twilios_opted_out_error_stops_texts_to_the_number(twilio_api):
    account = make_account()
    _opted_in(account)
    message = _queued(account.test_number)
    twilio_api.answer("opted_out")
    texts_send_due()
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 21610)
    assert TextOptOut.objects.get(number=account.test_number).opted_out_at is not None

    assert account_text_queue(account_id=account.pk, template="account_suspended", context={}, key="k") == 0
    assert len(twilio_api.messages()) == 1


# --- STOP, START, HELP -------------------------------------------------------------------------------


def _inbound(client, number: str, body: str):
    fields = {"From": number, "To": "+18605550100", "Body": body, "MessageSid": "SM" + "1" * 32, "AccountSid": "ACtest"}
    return twilio_post(client, INBOUND, fields)


def test_stop_stops_at_once_and_start_resumes(client):
    account = make_account()
    _opted_in(account)
    with time_machine.travel(ny(2026, 3, 10, 23, 0), tick=False):
        account_text_queue(account_id=account.pk, template="low_balance", context={"balance_cents": 400}, key="k1")

    response = _inbound(client, account.test_number, " Stop ")
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert "START" in response.content.decode()
    assert TextMessage.objects.get(template="low_balance").status == "canceled"  # the waiting alert too
    assert account_text_queue(account_id=account.pk, template="account_suspended", context={}, key="k2") == 0

    _inbound(client, account.test_number, "START")
    assert account_text_queue(account_id=account.pk, template="account_suspended", context={}, key="k3") == 1
    assert texts_send_due() == 1
    assert len(_sent_texts(account.test_number)) == 1


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit", "PARAR", "alto"])
def test_every_stop_synonym_stops(client, word):
    account = make_account()
    _inbound(client, account.test_number, word)
    assert TextOptOut.objects.get(number=account.test_number).opted_out_at is not None


def test_help_names_familyline_how_to_reach_it_rates_and_how_to_stop(client, settings):
    response = _inbound(client, make_account().test_number, "help")
    body = response.content.decode()
    assert "<Message>" in body
    assert help_text("en") in body.replace("&amp;", "&")
    for part in ("FamilyLine", settings.SITE_URL, "(860) 555-0100", "Msg & data rates may apply", "Reply STOP"):
        assert part in help_text("en")


def test_every_text_received_is_kept_with_its_reply(client):
    number = make_account().test_number
    _inbound(client, number, "Who is this?")
    _inbound(client, number, "ayuda")
    texts = list(TextReceived.objects.order_by("id"))
    assert [(t.from_number, t.body, t.keyword) for t in texts] == [
        (number, "Who is this?", ""),
        (number, "ayuda", "AYUDA"),
    ]
    assert texts[0].reply == "" and texts[1].reply == help_text("es")
    assert "Pueden aplicarse tarifas de mensajes y datos" in texts[1].reply


def test_an_unsigned_stop_changes_nothing(client):
    number = make_account().test_number
    fields = {"From": number, "Body": "STOP"}
    assert twilio_post(client, INBOUND, fields, token="not-the-token").status_code == 403
    assert client.post(INBOUND, fields).status_code == 403
    assert not TextOptOut.objects.exists() and not TextReceived.objects.exists()


# --- delivery statuses -------------------------------------------------------------------------------


def test_a_signed_delivery_status_is_kept_and_shown_on_its_message(client):
    message = _queued(make_account().test_number)
    texts_send_due()
    message.refresh_from_db()
    fields = {"MessageSid": message.provider_sid, "MessageStatus": "delivered", "AccountSid": "ACtest"}
    assert twilio_post(client, STATUS, fields).status_code == 204
    message.refresh_from_db()
    assert message.delivery_status == "delivered"
    assert TextStatusEvent.objects.get().message == message


def test_a_delivery_callback_with_a_bad_signature_changes_nothing(client):
    message = _queued(make_account().test_number)
    texts_send_due()
    message.refresh_from_db()
    fields = {"MessageSid": message.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    assert twilio_post(client, STATUS, fields, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    message.refresh_from_db()
    assert message.delivery_status == "" and message.error_code is None
    assert not TextStatusEvent.objects.exists() and not TextOptOut.objects.exists()


def test_staff_see_messages_and_their_statuses(client, staff):
    message = _queued(make_account().test_number)
    client.force_login(staff)
    assert client.get(reverse("admin:accounts_textmessage_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_textmessage_change", args=[message.pk])).status_code == 200


# --- backends ------------------------------------------------------------------------------------------


def test_under_make_run_texts_are_printed_like_emails(settings, capsys):
    settings.SMS_BACKEND = "console"
    message = _queued(make_account().test_number)
    assert texts_send_due() == 1
    printed = capsys.readouterr().out
    assert f"Text to {message.to_number} from {settings.TWILIO_PHONE_NUMBER}" in printed
    assert "FamilyLine test. Reply STOP to stop texts." in printed
    message.refresh_from_db()
    assert message.status == "sent"


def test_the_file_backend_writes_one_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path)
    number = make_account().test_number
    _queued(number)
    texts_send_due()
    [path] = list(tmp_path.iterdir())
    record = json.loads(path.read_text(encoding="utf-8"))
    assert (record["kind"], record["to"]) == ("sms", number)
    assert record["body"] == "FamilyLine test. Reply STOP to stop texts."


def test_every_staff_role_reads_texts(client):
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="agent"))
    message = _queued(make_account().test_number)
    client.force_login(agent)
    assert client.get(reverse("admin:accounts_textmessage_change", args=[message.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_textconsent_changelist")).status_code == 200
