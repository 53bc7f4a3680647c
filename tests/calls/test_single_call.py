"""The single call: a call to a number on no open account is refused with the offer of one paid call;
the called person pays by card (a PaymentMethod made in the suite's localstripe, as `<Pay>` hands it
over); the same call id is then allowed for the minutes paid; its completion charges the real minutes
and refunds the rest to the card once; a paid offer never used is refunded in full at expiry. The
money sits on the single calls system account in between, and the ledger stays clean."""

import base64
import datetime
import json
from io import StringIO

import pytest
import stripe
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import CallingAccount, OutboxMessage, PhoneNumber
from accounts.outbox import outbox_drain
from billing.ledger.models import Hold, SystemAccount
from billing.payments import disputes, stripe_gateway
from billing.payments import services as payments
from billing.payments.models import FeeSchedule, Payment, PaymentStatus, Refund, RefundStatus
from billing.payments.selectors import ledger_violations
from billing.payments.single_call import (
    PayOutcome,
    single_call_offer_find,
    single_call_pay,
    single_calls_expire,
)
from billing.staff import reconciliation, reports
from calls import single_calls
from calls.callpath.errors import DenyReason
from calls.callpath.importing import call_records_import
from calls.models import CallRecord, LineTypeLookup, SingleCall, SingleCallStatus
from tests.helpers import (
    authorize,
    complete,
    make_account,
    next_number,
    run_at_once,
    stripe_refunds_of,
    system_posted,
)

pytestmark = pytest.mark.django_db

OK_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_D_SECURE_CARD = "4000002500003155"
# The fixture facility: $0.21/min + 6.35 % tax, 15-minute calls: 15 min = $3.15 + $0.20 tax.
FULL_PRICE = 315 + 20
THREE_MINUTES = 63 + 4


def payment_method(base_url: str, card: str) -> str:
    """What Twilio's `<Pay>` (Stripe connector, tokenize mode) returns: a PaymentMethod id."""
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    return method.id


def assert_ledger_clean():
    assert ledger_violations() == []
    call_command("ledger_check", stdout=StringIO())  # exits non-zero (CommandError) on any violation


def offered(facility, inmate, number, cid):
    answer = authorize(facility, inmate, number, cid=cid)
    assert (answer.decision, answer.reason) == ("deny", DenyReason.NUMBER_NOT_REGISTERED)
    assert answer.single_call is not None
    return answer


def test_deny_offer_pay_allow_complete_charges_three_minutes_and_refunds_twelve_once(facility, inmate, stripe_server):
    number = next_number()
    answer = offered(facility, inmate, number, "sc-1")
    offer = answer.single_call
    assert offer["phone"] == "+18605550100"
    assert len(offer["code"]) == 6 and offer["code"].isdigit()
    expires_at = datetime.datetime.fromisoformat(offer["expires_at"])
    assert expires_at == SingleCall.objects.get(call_id="sc-1").expires_at
    assert answer.as_dict()["single_call"] == offer
    # The same call id asked again while the offer lasts: the same offer, not a second one.
    assert authorize(facility, inmate, number, cid="sc-1").single_call == offer
    assert SingleCall.objects.count() == 1

    found = single_call_offer_find(code=offer["code"])
    assert (found.facility_name, found.inmate_name, found.minutes) == (facility.name, "John Roe", 15)
    assert (found.charge_cents, found.tax_cents, found.total_cents, found.paid) == (315, 20, FULL_PRICE, False)

    # A declined card charges nothing and leaves the offer payable.
    declined = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, DECLINED_CARD))
    assert declined.outcome == PayOutcome.DECLINED and declined.message
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert authorize(facility, inmate, number, cid="sc-1").decision == "deny"

    paid = single_call_pay(
        offer_id=found.id,
        payment_method_id=payment_method(stripe_server, OK_CARD),
        expected_total_cents=found.total_cents,
    )
    assert paid.outcome == PayOutcome.PAID
    payment = paid.payment
    assert (payment.amount_cents, payment.fee_cents, payment.account_id, payment.card_last4) == (
        FULL_PRICE,
        0,
        None,
        "4242",
    )
    assert payment.entry.idempotency_key == "single_call:sc-1:payment"
    assert system_posted(SystemAccount.SINGLE_CALLS) == FULL_PRICE
    # Paying again charges nothing more.
    again = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert again.outcome == PayOutcome.PAID and again.payment == payment
    assert Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count() == 1

    allowed = authorize(facility, inmate, number, cid="sc-1")
    assert (allowed.decision, allowed.billing, allowed.max_seconds, allowed.rate_per_minute) == (
        "allow",
        "single_call",
        15 * 60,
        "0.21",
    )
    assert allowed.single_call is None
    assert not Hold.objects.exists() and not CallingAccount.objects.exists()
    assert not PhoneNumber.objects.filter(number=number).exists()

    done = complete(facility, inmate, number, seconds=2 * 60 + 50, cid="sc-1")
    assert (done.billable_minutes, done.charge_cents, done.tax_cents, done.refused_reason) == (3, 63, 4, "")
    record = CallRecord.objects.get(call_id="sc-1")
    assert (record.billing, record.account_id, record.entry.idempotency_key) == (
        "single_call",
        None,
        "single_call:sc-1:charge",
    )
    refund = Refund.objects.get()
    assert (refund.single_call.call_id, refund.account_id, refund.amount_cents) == (
        "sc-1",
        None,
        FULL_PRICE - THREE_MINUTES,
    )
    assert refund.amount_cents == 12 * 21 + 16  # twelve minutes' worth: $2.52 + $0.16 tax

    outbox_drain()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.entry.idempotency_key == "single_call:sc-1:refund"
    at_stripe = stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)
    assert [r["amount"] for r in at_stripe] == [FULL_PRICE - THREE_MINUTES]

    # Reported again: the same answer, no second charge or refund.
    assert complete(facility, inmate, number, seconds=2 * 60 + 50, cid="sc-1") == done
    outbox_drain()
    single_calls_expire()
    assert Refund.objects.count() == 1
    assert len(stripe_refunds_of(stripe_server, payment.stripe_payment_intent_id)) == 1
    assert SingleCall.objects.get().status == SingleCallStatus.COMPLETED

    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    assert system_posted(SystemAccount.CALL_REVENUE) == 63
    assert system_posted(SystemAccount.TAX_PAYABLE) == 4
    assert system_posted(SystemAccount.FEE_REVENUE) == 0
    assert_ledger_clean()


def test_a_single_call_has_no_fee_even_when_phone_payments_have_one(facility, inmate, stripe_server):
    FeeSchedule.objects.update_or_create(channel="phone_ivr", defaults={"fee_cents": 300})
    code = offered(facility, inmate, next_number(), "sc-fee").single_call["code"]
    found = single_call_offer_find(code=code)
    assert found.total_cents == FULL_PRICE
    paid = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert (paid.payment.fee_cents, paid.payment.total_cents) == (0, FULL_PRICE)
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": stripe_server})
    assert client.v1.payment_intents.retrieve(paid.payment.stripe_payment_intent_id).amount == FULL_PRICE
    assert system_posted(SystemAccount.FEE_REVENUE) == 0
    assert_ledger_clean()


def test_the_price_is_fixed_when_paid(facility, inmate, stripe_server):
    code = offered(facility, inmate, next_number(), "sc-fixed").single_call["code"]
    found = single_call_offer_find(code=code)
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    # The rate goes up and calls may last longer after payment: the paid call keeps its price and length.
    facility.rate_plans.update(rate_per_minute="0.25")
    facility.max_call_minutes = 30
    facility.save(update_fields=["max_call_minutes"])
    allowed = authorize(facility, inmate, SingleCall.objects.get().dialed_number.as_e164, cid="sc-fixed")
    assert allowed.decision == "allow"
    assert (allowed.rate_per_minute, allowed.max_seconds) == ("0.21", 900)
    number = SingleCall.objects.get().dialed_number.as_e164
    done = complete(facility, inmate, number, seconds=20 * 60, cid="sc-fixed")  # ran past what was paid
    assert (done.billable_minutes, done.charge_cents, done.tax_cents) == (15, 315, 20)
    assert not Refund.objects.exists()  # all of it was used
    assert_ledger_clean()


def test_the_same_card_entry_sent_again_is_answered_without_asking_stripe_again(facility, inmate, stripe_server):
    code = offered(facility, inmate, next_number(), "sc-retry").single_call["code"]
    found = single_call_offer_find(code=code)
    declined_card = payment_method(stripe_server, DECLINED_CARD)
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": stripe_server})

    def intents_at_stripe() -> int:
        intents = client.v1.payment_intents.list().auto_paging_iter()
        return sum((i.to_dict().get("metadata") or {}).get("single_call") == "sc-retry" for i in intents)

    first = single_call_pay(offer_id=found.id, payment_method_id=declined_card)
    asked = intents_at_stripe()
    again = single_call_pay(offer_id=found.id, payment_method_id=declined_card)
    assert (first.outcome, again.outcome) == (PayOutcome.DECLINED, PayOutcome.DECLINED)
    assert again.payment.pk == first.payment.pk and again.message
    assert intents_at_stripe() == asked  # Stripe was not asked again
    ok_card = payment_method(stripe_server, OK_CARD)
    paid = single_call_pay(offer_id=found.id, payment_method_id=ok_card)
    assert single_call_pay(offer_id=found.id, payment_method_id=ok_card).payment == paid.payment
    assert Payment.objects.count() == 2
    assert_ledger_clean()


def test_a_card_that_asks_for_3d_secure_is_not_charged(facility, inmate, stripe_server):
    code = offered(facility, inmate, next_number(), "sc-3ds").single_call["code"]
    found = single_call_offer_find(code=code)
    result = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, THREE_D_SECURE_CARD))
    assert result.outcome == PayOutcome.NEEDS_AUTHENTICATION
    assert result.payment.status == PaymentStatus.CANCELED
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    # Another card may still pay.
    assert single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD)).paid
    assert_ledger_clean()


def test_an_unused_paid_offer_is_refunded_in_full_at_expiry(facility, inmate, stripe_server):
    number = next_number()
    code = offered(facility, inmate, number, "sc-unused").single_call["code"]
    found = single_call_offer_find(code=code)
    paid = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert single_calls_expire().refunded == 0  # not expired yet
    with time_machine.travel(found.expires_at + datetime.timedelta(seconds=1)):
        # Too late to use it: refused, and no new offer for this call id.
        late = authorize(facility, inmate, number, cid="sc-unused")
        assert (late.decision, late.reason, late.single_call) == ("deny", DenyReason.NUMBER_NOT_REGISTERED, None)
        assert single_call_offer_find(code=code) is None
        run = single_calls_expire()
        assert run.refunded == 1
        outbox_drain()
        assert single_calls_expire().refunded == 0  # once
    refund = Refund.objects.get()
    assert (refund.amount_cents, refund.status) == (FULL_PRICE, RefundStatus.SUCCEEDED)
    assert refund.entry.idempotency_key == "single_call:sc-unused:refund"
    assert [r["amount"] for r in stripe_refunds_of(stripe_server, paid.payment.stripe_payment_intent_id)] == [
        FULL_PRICE
    ]
    assert SingleCall.objects.get().status == SingleCallStatus.REFUNDED
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    assert system_posted(SystemAccount.CALL_REVENUE) == 0
    assert_ledger_clean()


def test_an_unpaid_offer_expires_and_its_call_id_gets_a_new_code(facility, inmate):
    number = next_number()
    first = offered(facility, inmate, number, "sc-renew").single_call
    expiry = datetime.datetime.fromisoformat(first["expires_at"])
    with time_machine.travel(expiry + datetime.timedelta(seconds=1)):
        assert single_call_offer_find(code=first["code"]) is None
        assert single_calls_expire().expired == 1
        again = offered(facility, inmate, number, "sc-renew").single_call
    assert datetime.datetime.fromisoformat(again["expires_at"]) > expiry
    assert SingleCall.objects.count() == 1


def test_a_number_freed_by_a_closed_account_is_offered_a_single_call(facility, inmate):
    account = make_account(balance_cents=0)
    PhoneNumber.objects.filter(account=account).update(is_active=False, removed_at=timezone.now())
    CallingAccount.objects.filter(pk=account.pk).update(status="closed", closed_at=timezone.now())
    offered(facility, inmate, account.test_number, "sc-freed")


def _statements(captured) -> list[str]:
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return [q["sql"].split()[0] for q in captured if not q["sql"].lstrip().upper().startswith(control)]


def test_the_deny_with_an_offer_stays_cheap(facility, inmate, settings):
    settings.FACILITY_CACHE_SECONDS = 60
    authorize(facility, inmate, next_number())  # fills the facility cache
    number = next_number()
    with CaptureQueriesContext(connection) as captured:
        first = authorize(facility, inmate, number, cid="sc-cheap")
    # the one read; the call id's single call looked for; the offer inserted; the decision's upsert
    assert _statements(captured) == ["SELECT", "SELECT", "INSERT", "INSERT"], [q["sql"] for q in captured]
    with CaptureQueriesContext(connection) as captured:
        again = authorize(facility, inmate, number, cid="sc-cheap")
    assert again.single_call == first.single_call
    assert _statements(captured) == ["SELECT", "SELECT", "INSERT"], [q["sql"] for q in captured]


def test_a_registered_number_gets_no_offer(facility, inmate):
    account = make_account(balance_cents=0)
    answer = authorize(facility, inmate, account.test_number)
    assert (answer.decision, answer.reason, answer.single_call) == ("deny", DenyReason.INSUFFICIENT_FUNDS, None)
    assert not SingleCall.objects.exists()


def test_codes_are_unique_among_live_offers(facility, inmate, monkeypatch):
    codes = iter(["111111", "111111", "222222"])
    monkeypatch.setattr(single_calls, "_new_code", lambda: next(codes))
    first = offered(facility, inmate, next_number(), "sc-a").single_call["code"]
    second = offered(facility, inmate, next_number(), "sc-b").single_call["code"]
    assert (first, second) == ("111111", "222222")


def test_a_mobile_number_at_a_facility_without_cell_phones_gets_no_offer(facility, inmate, twilio_server):
    facility.cell_phones_allowed = False
    facility.save(update_fields=["cell_phones_allowed"])
    mobile, landline = next_number(), next_number()
    twilio_server.line_types[mobile] = "mobile"

    answer = authorize(facility, inmate, mobile, cid="sc-mobile")
    assert (answer.decision, answer.reason, answer.single_call) == ("deny", DenyReason.CELL_PHONE_NOT_ALLOWED, None)
    assert not SingleCall.objects.exists()
    [request] = twilio_server.requests
    assert request["path"] == f"/v2/PhoneNumbers/{mobile}"
    assert request["query"] == {"Fields": ["line_type_intelligence"]}
    expected_auth = base64.b64encode(f"{settings.TWILIO_ACCOUNT_SID}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
    assert request["headers"]["Authorization"] == f"Basic {expected_auth}"
    assert LineTypeLookup.objects.get(number=mobile).line_type == "mobile"

    # Looked up once: the next call to that number uses the kept answer.
    again = authorize(facility, inmate, mobile, cid="sc-mobile-2")
    assert again.reason == DenyReason.CELL_PHONE_NOT_ALLOWED
    assert len(twilio_server.requests) == 1

    # A landline there is offered the call.
    offered(facility, inmate, landline, "sc-landline")
    assert [r["path"] for r in twilio_server.requests][1:] == [f"/v2/PhoneNumbers/{landline}"]


def test_a_failed_lookup_refuses_as_a_mobile_would_and_is_asked_again(facility, inmate, twilio_server):
    facility.cell_phones_allowed = False
    facility.save(update_fields=["cell_phones_allowed"])
    number = next_number()
    twilio_server.failing = True
    answer = authorize(facility, inmate, number, cid="sc-lookup-down")
    assert (answer.reason, answer.single_call) == (DenyReason.CELL_PHONE_NOT_ALLOWED, None)
    assert not LineTypeLookup.objects.exists()
    twilio_server.failing = False
    offered(facility, inmate, number, "sc-lookup-down")
    assert len(twilio_server.requests) == 2
    assert LineTypeLookup.objects.get(number=number).line_type == "landline"


def test_no_lookup_where_cell_phones_are_allowed(facility, inmate, twilio_server):
    twilio_server.line_types[(number := next_number())] = "mobile"
    offered(facility, inmate, number, "sc-cells-ok")
    assert twilio_server.requests == []


def test_reconciliation_and_the_monthly_report_include_single_calls(facility, inmate, stripe_server):
    number = next_number()
    code = offered(facility, inmate, number, "sc-recon").single_call["code"]
    found = single_call_offer_find(code=code)
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    authorize(facility, inmate, number, cid="sc-recon")
    complete(facility, inmate, number, seconds=170, cid="sc-recon")
    outbox_drain()

    since = timezone.now() - datetime.timedelta(minutes=5)
    run = reconciliation.reconciliation_run(since=since)
    kinds = [d.kind for d in run.differences.all() if d.payment_id or d.refund_id or d.kind == "card_clearing_total"]
    assert kinds == []
    assert run.stripe_net_cents == run.ledger_card_clearing_cents == THREE_MINUTES
    assert (run.payments_checked, run.refunds_checked) == (1, 1)

    report = reports.monthly_report(month=timezone.localdate())
    assert report.ties, [(c.label, c.difference_cents) for c in report.checks]
    assert (report.single_call_payments["amount_cents"], report.single_call_refunds["amount_cents"]) == (
        FULL_PRICE,
        FULL_PRICE - THREE_MINUTES,
    )
    assert "Single calls" in reports.monthly_report_csv(report=report)


def test_a_single_call_imported_from_csv_is_charged_like_completed_by_the_api(facility, inmate, stripe_server):
    number = next_number()
    code = offered(facility, inmate, number, "sc-csv").single_call["code"]
    found = single_call_offer_find(code=code)
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert authorize(facility, inmate, number, cid="sc-csv").billing == "single_call"
    started = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()
    row = f"sc-csv,{facility.code},{inmate.inmate_number},{number},{started},170,normal"
    lines = ["call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect", row]
    summary = call_records_import(lines=lines)
    assert (summary.posted, summary.duplicate, summary.rejected) == (1, 0, [])
    record = CallRecord.objects.get(call_id="sc-csv")
    assert (record.billing, record.source, record.charge_cents, record.tax_cents) == ("single_call", "import", 63, 4)
    assert Refund.objects.get().amount_cents == FULL_PRICE - THREE_MINUTES
    # The same file again, and the API: duplicates, nothing charged or refunded twice.
    assert call_records_import(lines=lines).duplicate == 1
    assert complete(facility, inmate, number, seconds=170, cid="sc-csv").charge_cents == 63
    outbox_drain()
    assert Refund.objects.count() == 1
    assert_ledger_clean()


def test_a_payment_or_refund_belongs_to_exactly_one_of_an_account_and_a_single_call(facility, inmate):
    offered(facility, inmate, next_number(), "sc-db")
    single = SingleCall.objects.get()
    account = make_account()
    for payer in ({"account": account, "single_call": single}, {}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.create(channel="phone_ivr", amount_cents=100, **payer)
    payment = Payment.objects.create(channel="phone_ivr", amount_cents=100, single_call=single)
    for payer in ({"account": account, "single_call": single}, {}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Refund.objects.create(method="card", payment=payment, amount_cents=100, **payer)


@pytest.mark.django_db(transaction=True)
def test_completions_racing_charge_and_refund_once(facility, inmate, stripe_server):
    number = next_number()
    code = offered(facility, inmate, number, "sc-race").single_call["code"]
    found = single_call_offer_find(code=code)
    assert single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD)).paid
    authorize(facility, inmate, number, cid="sc-race")
    results = run_at_once([lambda: complete(facility, inmate, number, seconds=170, cid="sc-race")] * 6)
    assert all(not isinstance(r, Exception) for r in results), results
    assert {(r.billable_minutes, r.charge_cents, r.tax_cents) for r in results} == {(3, 63, 4)}
    assert CallRecord.objects.count() == 1 and Refund.objects.count() == 1
    outbox_drain()
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    assert_ledger_clean()


def test_a_chargeback_on_a_single_call_moves_money_between_system_accounts_and_emails_no_one(
    facility, inmate, stripe_server
):
    code = offered(facility, inmate, next_number(), "sc-dispute").single_call["code"]
    found = single_call_offer_find(code=code)
    payment = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD)).payment
    data = {"id": "dp_single", "payment_intent": payment.stripe_payment_intent_id, "amount": FULL_PRICE}
    dispute = disputes.dispute_opened(data={**data, "reason": "fraudulent", "status": "needs_response"})
    assert dispute.payment == payment
    disputes.dispute_closed(data={**data, "status": "lost"})
    assert system_posted(SystemAccount.DISPUTE_LOSSES) == -FULL_PRICE
    assert not OutboxMessage.objects.filter(kind="email.account").exists()
    assert_ledger_clean()


def test_a_payment_whose_answer_was_lost_is_settled_by_stripes_webhook(facility, inmate, stripe_server, monkeypatch):
    code = offered(facility, inmate, next_number(), "sc-webhook").single_call["code"]
    found = single_call_offer_find(code=code)
    created = []
    real_create = stripe_gateway.payment_intent_create

    def charged_then_lost(**kwargs):
        created.append(real_create(**kwargs))  # Stripe took the card...
        raise stripe_gateway.GatewayError("We could not reach our card processor.")  # ...the answer was lost

    monkeypatch.setattr(stripe_gateway, "payment_intent_create", charged_then_lost)
    result = single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert result.outcome == PayOutcome.PENDING
    assert result.payment.status == PaymentStatus.PROCESSING
    assert system_posted(SystemAccount.SINGLE_CALLS) == 0
    # Paying again meanwhile charges nothing more.
    assert single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD)).outcome == (
        PayOutcome.PENDING
    )
    assert len(created) == 1
    # Stripe's payment_intent.succeeded event, as the webhook hands it over.
    applied = payments.payment_intent_apply(intent=created[0])
    assert applied.status == PaymentStatus.SUCCEEDED and applied.pk == result.payment.pk
    assert SingleCall.objects.get().status == SingleCallStatus.PAID
    assert system_posted(SystemAccount.SINGLE_CALLS) == FULL_PRICE
    assert_ledger_clean()


def test_staff_see_single_calls_and_their_payments_in_the_admin(admin_client, facility, inmate, stripe_server):
    code = offered(facility, inmate, next_number(), "sc-admin").single_call["code"]
    found = single_call_offer_find(code=code)
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    single_call = SingleCall.objects.get()
    for url in (
        "/admin/calls/singlecall/",
        f"/admin/calls/singlecall/{single_call.pk}/change/",
        "/admin/billing/payment/",
        f"/admin/billing/payment/{Payment.objects.get().pk}/change/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "sc-admin" in response.content.decode(), url
        assert code not in response.content.decode(), url


def test_the_ledger_check_names_a_single_call_whose_money_does_not_match_its_state(facility, inmate, stripe_server):
    number = next_number()
    code = offered(facility, inmate, number, "sc-check").single_call["code"]
    found = single_call_offer_find(code=code)
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    assert_ledger_clean()
    # Marked charged without its charge or refund: the money it still holds is named.
    SingleCall.objects.filter(call_id="sc-check").update(status=SingleCallStatus.COMPLETED)
    assert [v.rule for v in ledger_violations()] == ["single_call_held_mismatch"]


# --- the platform API ---------------------------------------------------------------------------


def test_api_authorize_carries_the_offer_and_then_allows_single_call(api, facility, inmate, stripe_server):
    number = next_number()
    body = {"call_id": "api-sc", "facility": facility.code, "inmate": inmate.inmate_number, "dialed_number": number}
    denied = api.post("/api/v1/calls/authorize", body, format="json").json()
    assert denied["reason"] == "number_not_registered"
    assert set(denied["single_call"]) == {"phone", "code", "expires_at"}
    assert denied["single_call"]["phone"] == "+18605550100"
    found = single_call_offer_find(code=denied["single_call"]["code"])
    single_call_pay(offer_id=found.id, payment_method_id=payment_method(stripe_server, OK_CARD))
    allowed = api.post("/api/v1/calls/authorize", body, format="json").json()
    assert (allowed["decision"], allowed["billing"], allowed["max_seconds"]) == ("allow", "single_call", 900)
    assert "single_call" not in allowed


def test_openapi_schema_documents_single_call(client):
    schema = json.loads(client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    authorize_answer = schema["components"]["schemas"]["AuthorizeResponse"]
    assert "single_call" in authorize_answer["properties"]
    assert "single_call" not in authorize_answer.get("required", [])
    offer = schema["components"]["schemas"]["SingleCallOffer"]
    assert set(offer["properties"]) == {"phone", "code", "expires_at"}
    assert "single_call" in schema["components"]["schemas"]["BillingEnum"]["enum"]
