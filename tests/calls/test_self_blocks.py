"""A called person blocks calls to their own number on the public page, after proving it is theirs
with a code sent by text or read out by a voice call; their unblock lifts only their own block."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from accounts.models import PossessionCode, TextMessage
from accounts.texts import backends
from accounts.texts.possession import PER_CLIENT_LIMIT, PER_NUMBER_LIMIT, PossessionError
from calls import blocks, self_blocks
from calls.callpath.errors import DenyReason
from calls.models import BlockedNumber
from tests.helpers import authorize, make_account, next_number, run_at_once

pytestmark = pytest.mark.django_db

START = "/block/"
CODE = "/block/code/"


def _last_code(number: str) -> str:
    [body] = [m.body for m in backends.outbox if m.to == number][-1:]
    return re.search(r"(\d)\D{0,2}(\d)\D{0,2}(\d)\D{0,2}(\d)\D{0,2}(\d)\D{0,2}(\d)", body).expand(r"\1\2\3\4\5\6")


def _prove(client, number: str, action: str, channel: str = "sms"):
    """The page's two steps: ask for a code, then type the code received."""
    response = client.post(START, {"number": number, "action": action, "channel": channel})
    assert response.status_code == 302, response.content.decode()
    return client.post(CODE, {"code": _last_code(number)})


def test_a_number_blocked_by_its_owner_with_a_texted_code_is_refused_at_once(client, facility, inmate):
    account = make_account(balance_cents=1000)
    number = account.test_number
    assert authorize(facility, inmate, number).decision == "allow"

    assert client.get(START).status_code == 200  # no login
    page = _prove(client, number, "block")
    assert "Your number is blocked" in page.content.decode()

    result = authorize(facility, inmate, number)
    assert (result.decision, result.reason) == ("deny", DenyReason.NUMBER_BLOCKED)
    block = BlockedNumber.objects.get(number=number)
    assert (block.source, block.proven_by, block.client_address, block.facility) == ("self", "sms", "127.0.0.1", None)
    assert block.created_at is not None
    # The code went out by text and was never stored.
    [message] = TextMessage.objects.filter(to_number=number)
    assert (message.channel, message.status, message.purpose) == ("sms", "sent", "code")
    assert not re.search(r"\d{6}", message.body)


def test_a_landline_proves_possession_with_a_code_read_out_by_a_voice_call(client, facility, inmate, twilio_api):
    number = make_account(balance_cents=1000).test_number
    response = client.post(START, {"number": number, "action": "block", "channel": "voice"})
    assert response.status_code == 302

    [call] = twilio_api.calls()
    assert call["To"] == number and "<Say" in call["Twiml"]
    code = re.search(r"is (\d), (\d), (\d), (\d), (\d), (\d)\.", call["Twiml"]).expand(r"\1\2\3\4\5\6")
    assert twilio_api.messages() == []
    client.post(CODE, {"code": code})

    assert BlockedNumber.objects.get(number=number).proven_by == "voice"
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_BLOCKED


def test_a_self_unblock_leaves_a_staff_block_in_force_and_a_staff_unblock_leaves_a_self_block(
    client, facility, inmate, staff
):
    number = make_account(balance_cents=1000).test_number
    staff_block = blocks.number_block(number=number, facility=None, reason="court order", actor=staff)
    _prove(client, number, "block")
    assert BlockedNumber.objects.filter(number=number, lifted_at=None).count() == 2  # one per source

    page = _prove(client, number, "unblock")
    assert "If FamilyLine staff also blocked this number" in page.content.decode()
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_BLOCKED
    staff_block.refresh_from_db()
    assert staff_block.lifted_at is None

    _prove(client, number, "block")
    blocks.number_unblock(block=staff_block)
    own = BlockedNumber.objects.get(number=number, source="self", lifted_at=None)
    blocks.number_unblock(block=own)  # staff cannot lift the owner's block
    assert authorize(facility, inmate, number).reason == DenyReason.NUMBER_BLOCKED

    _prove(client, number, "unblock")
    assert authorize(facility, inmate, number).decision == "allow"
    own.refresh_from_db()
    assert own.lifted_at is not None and own.lifted_proven_by == "sms"


def test_one_active_block_per_number_and_source():
    number = next_number()
    BlockedNumber.objects.create(number=number, source="self", proven_by="sms", reason="mine")
    BlockedNumber.objects.create(number=number, source="staff", reason="court order")
    with pytest.raises(IntegrityError):
        BlockedNumber.objects.create(number=number, source="self", proven_by="voice", reason="mine again")


def test_blocking_twice_keeps_one_block(client):
    number = next_number()
    _prove(client, number, "block")
    _prove(client, number, "block")
    assert BlockedNumber.objects.filter(number=number, lifted_at=None).count() == 1


def test_a_wrong_or_late_code_blocks_nothing(client):
    number = next_number()
    client.post(START, {"number": number, "action": "block", "channel": "sms"})
    code = _last_code(number)
    page = client.post(CODE, {"code": "000000" if code != "000000" else "111111"})
    assert "This code is not right" in page.content.decode()
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        page = client.post(CODE, {"code": code})
    assert "This code has expired" in page.content.decode()
    assert not BlockedNumber.objects.exists()


def test_five_wrong_codes_use_the_code_up():
    number = next_number()
    self_blocks.self_block_code_send(number=number, action="block", channel="sms", client_address="10.0.0.1")
    code = _last_code(number)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(PossessionError, match="not right"):
            self_blocks.self_block_confirm(number=number, action="block", code=wrong, client_address="10.0.0.1")
    with pytest.raises(PossessionError, match="Too many wrong codes"):
        self_blocks.self_block_confirm(number=number, action="block", code=code, client_address="10.0.0.1")
    assert not BlockedNumber.objects.exists()


def test_a_code_for_unblocking_cannot_block_and_caller_id_alone_proves_nothing():
    number = next_number()
    self_blocks.self_block_code_send(number=number, action="unblock", channel="sms", client_address=None)
    with pytest.raises(PossessionError):
        self_blocks.self_block_confirm(number=number, action="block", code=_last_code(number), client_address=None)


def test_codes_are_rate_limited_per_number_and_per_client(client):
    number = next_number()
    for _ in range(PER_NUMBER_LIMIT):
        self_blocks.self_block_code_send(number=number, action="block", channel="sms", client_address="10.0.0.2")
    page = client.post(START, {"number": number, "action": "block", "channel": "sms"})
    assert "Too many codes were sent to this number" in page.content.decode()

    for _ in range(PER_CLIENT_LIMIT):
        self_blocks.self_block_code_send(number=next_number(), action="block", channel="sms", client_address="10.0.0.3")
    with pytest.raises(PossessionError, match="from here"):
        self_blocks.self_block_code_send(number=next_number(), action="block", channel="sms", client_address="10.0.0.3")
    assert PossessionCode.objects.count() == PER_NUMBER_LIMIT + PER_CLIENT_LIMIT


def test_a_number_that_is_not_one_is_refused_on_the_page(client):
    page = client.post(START, {"number": "12", "action": "block", "channel": "sms"})
    assert page.status_code == 200 and backends.outbox == []


def test_the_block_page_reads_in_spanish(client):
    page = client.get(START, HTTP_ACCEPT_LANGUAGE="es")
    assert "Bloquear las llamadas a su número" in page.content.decode()


def test_staff_see_who_blocked_and_how(client, staff):
    number = next_number()
    _prove(client, number, "block")
    block = BlockedNumber.objects.get(number=number)
    client.force_login(staff)
    listing = client.get(reverse("admin:calls_blockednumber_changelist") + "?source=self").content.decode()
    assert "Code by text" in listing and number in listing
    page = client.get(reverse("admin:calls_blockednumber_change", args=[block.pk])).content.decode()
    assert "127.0.0.1" in page and "Code by text" in page


@pytest.mark.django_db(transaction=True)
def test_codes_asked_for_at_once_do_not_slip_past_the_limit():
    number = next_number()
    ask = lambda: self_blocks.self_block_code_send(  # noqa: E731
        number=number, action="block", channel="sms", client_address=None
    )
    results = run_at_once([ask] * (PER_NUMBER_LIMIT + 5))
    assert sum(isinstance(r, PossessionCode) for r in results) == PER_NUMBER_LIMIT
    assert all(isinstance(r, PossessionCode | PossessionError) for r in results)
    assert PossessionCode.objects.filter(number=number).count() == PER_NUMBER_LIMIT
