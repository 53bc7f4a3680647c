"""Staff read every admin detail page in plain terms: money in dollars under a clear label (never
"Charge cents: 135"), codes by their label (never "staff_review"), and every moment with its zone."""

import datetime
import html
import re

import pytest
import stripe
import time_machine
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

from accounts.direct_bill.services import application_approve, application_submit
from accounts.models import DirectBillApplication
from billing.closing.services import account_close
from billing.payments import disputes
from billing.payments.selectors import ledger_violations
from billing.staff import reconciliation
from billing.statements import call_credits
from billing.statements.adjustments import adjustment_create
from billing.tasks import statements_monthly_run
from calls.blocks import number_block
from calls.models import CallRecord
from calls.sponsorships import sponsorship_start
from calls.tokens import platform_token_create
from tests.factories import UserFactory
from tests.helpers import Calls, add_number, card_payment, mail_payment, make_account, ny, open_direct_bill

pytestmark = pytest.mark.django_db

# Django's own rendering of a moment without a zone ("Dec. 6, 2026, 4:58 p.m.", "…, midnight").
ZONELESS_MOMENT = re.compile(r"\b\d{4}, (\d{1,2}(:\d{2})? [ap]\.m\.|midnight|noon)")
# A stored code shown as it is ("staff_review", "inmate_debit") in a read-only field.
RAW_CODE = re.compile(r'<div class="readonly">\s*([a-z]+(?:_[a-z]+)+)\s*</div>')
OUR_APPS = {"accounts", "billing", "calls", "ledger"}


def _content(page: str) -> str:
    main = page.split('id="content-main"', 1)[1]
    return re.sub(r"<script.*?</script>", "", main, flags=re.S)


def _text(content: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content)))


def _every_kind_of_record(stripe_server, staff):
    """Calls, holds, payments (mail and card), refunds, adjustments, a statement with its lines, a
    dispute, a call credit, a sponsorship, a block, a token and a Direct Bill application decided by
    staff review."""
    calls = Calls()
    with time_machine.travel(ny(2026, 9, 2, 9, 0), tick=False):
        direct_bill = open_direct_bill()
        number = add_number(direct_bill)
    with time_machine.travel(ny(2026, 9, 20, 9, 0), tick=False):
        calls.complete(number=number, minutes=4)
        adjustment_create(account=direct_bill, amount_cents=-135, reason="Calls carried over", actor=staff)
    with time_machine.travel(ny(2026, 10, 1, 3, 0), tick=False):
        statements_monthly_run()

    sponsor = make_account(balance_cents=2000)
    sponsorship_start(
        account=sponsor,
        facility=calls.facility,
        inmate_number=calls.inmate.inmate_number,
        actor=sponsor.holder,
        confirmed=True,
        monthly_cap_cents=2500,
    )
    waiting = make_account(balance_cents=2000)
    calls.authorize(number=waiting.test_number)  # its hold stays open

    closing = make_account(balance_cents=2000)
    calls.complete(number=closing.test_number, minutes=3)
    call_credits.call_credit_request(
        call=CallRecord.objects.get(account=closing), reason="dropped", details="Cut off", holder=closing.holder
    )
    mail_payment(closing, 1000, staff)
    paid = card_payment(stripe_server, closing.holder, closing, 1000)
    disputes.dispute_opened(
        data={
            "id": "du_1MtJUT2eZvKYlo2CNaw2HvEv",
            "amount": 500,
            "payment_intent": paid.stripe_payment_intent_id,
            "reason": "fraudulent",
            "status": "needs_response",
        }
    )
    account_close(account=closing, actor=closing.holder, reason="Moving")

    number_block(number="+18605550177", facility=None, reason="Asked by the callee", actor=staff)
    platform_token_create(name="Facility platform", actor=staff)

    applicant = UserFactory(state="CT")
    application = application_submit(
        applicant=applicant,
        legal_name="Rosa Diaz",
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="1 Main Street",
        city="Hartford",
        state="CT",
        postal_code="06103",
        consent=True,
    )
    application_approve(application=application, credit_limit_cents=5000, actor=staff)

    # A card charge at Stripe that FamilyLine has no payment for: a reconciliation difference.
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": stripe_server})
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    method = client.v1.payment_methods.create(params={"type": "card", "card": card})
    client.v1.payment_intents.create(
        params={"amount": 700, "currency": "usd", "payment_method": method.id, "confirm": True}
    )
    assert reconciliation.reconciliation_run().differences.filter(kind="stripe_charge_unknown").exists()


def test_admin_detail_pages_show_dollars_labels_and_zones(admin_client, stripe_server, staff):
    _every_kind_of_record(stripe_server, staff)
    problems, seen = [], []
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        obj = model._default_manager.order_by("-pk").first()
        if obj is None:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
        response = admin_client.get(url)
        assert response.status_code == 200, url
        content = _content(response.content.decode())
        text = _text(content)
        seen.append(model.__name__)
        if re.search(r"(?<!dollars and )\bcents\b", text, flags=re.I):
            problems.append(f"{model.__name__}: an amount in cents")
        if ZONELESS_MOMENT.search(text):
            problems.append(f"{model.__name__}: a time without its zone ({ZONELESS_MOMENT.search(text).group(0)})")
        for code in RAW_CODE.findall(content):
            problems.append(f"{model.__name__}: the raw code {code!r}")
    assert problems == [], "\n".join(problems)
    for name in (
        "CallRecord",
        "Hold",
        "Payment",
        "Refund",
        "Adjustment",
        "Statement",
        "Dispute",
        "CallCreditRequest",
        "ReconciliationRun",
        "ReconciliationDifference",
    ):
        assert name in seen
    assert ledger_violations() == []


def test_a_call_record_reads_in_dollars_with_its_zone(admin_client, calls):
    account = make_account(balance_cents=2000)
    with time_machine.travel(ny(2026, 11, 3, 14, 30), tick=False):
        calls.complete(number=account.test_number, minutes=6)  # 6 x $0.21 = $1.26 + $0.08 tax
    call = CallRecord.objects.get(account=account)
    text = _text(_content(admin_client.get(reverse("admin:calls_callrecord_change", args=[call.pk])).content.decode()))
    assert "Charge: $1.26" in text and "Tax: $0.08" in text and "Balance after: $18.66" in text
    assert "Started at: Nov 3, 2026, 2:23 PM EST" in text
    assert "Billing: Collect (AdvanceConnect)" in text


def test_a_hold_names_its_billing_facility_and_inmate(admin_client, calls):
    account = make_account(balance_cents=2000)
    calls.authorize(number=account.test_number)
    page = admin_client.get(reverse("admin:ledger_hold_change", args=[account.holds.get().pk])).content.decode()
    text = _text(_content(page))
    assert "Billing label: Collect (AdvanceConnect)" in text or "Billing: Collect (AdvanceConnect)" in text
    assert calls.facility.name in text and calls.inmate.full_name in text
    assert "Amount held: $" in text and "Amount cents" not in text


def test_a_staff_reviewed_application_names_its_provider(admin_client, staff):
    applicant = UserFactory(state="CT")
    application = application_submit(
        applicant=applicant,
        legal_name="Rosa Diaz",
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="1 Main Street",
        city="Hartford",
        state="CT",
        postal_code="06103",
        consent=True,
    )
    application_approve(application=application, credit_limit_cents=5000, actor=staff)
    application = DirectBillApplication.objects.get(pk=application.pk)
    url = reverse("admin:accounts_directbillapplication_change", args=[application.pk])
    text = _text(_content(admin_client.get(url).content.decode()))
    assert "Credit check: Staff review" in text
    assert "staff_review" not in text
