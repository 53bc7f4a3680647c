"""Card payments against a real localstripe process: credit, fee revenue, declines, 3-D Secure,
validation. The browser's part (Stripe.js confirming the SetupIntent with the card) is done here
with the same HTTP calls the fake Stripe.js makes."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, AccountKind, AccountStatus
from accounts.services import account_open
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, JournalEntry, SystemAccount
from billing.payments import selectors, services
from billing.payments.models import Channel, FeeSchedule, Payment, PaymentStatus
from tests.factories import UserFactory
from tests.helpers import (
    ATTACH_DECLINED_CARD,
    DECLINED_CARD,
    THREE_DS_CARD,
    balance_of,
    browser_authenticates_payment,
    browser_confirms_card,
    confirmed_setup_intent,
    system_posted,
)


def test_card_payment_credits_balance_posts_fee_revenue_and_starts_activation(
    stripe_server, holder, account, django_capture_on_commit_callbacks
):
    setup_id = confirmed_setup_intent(stripe_server, holder)
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        payment = services.card_payment_create(
            holder=holder, account=account, amount_cents=2500, setup_intent_id=setup_id
        )

    assert payment.status == PaymentStatus.SUCCEEDED
    assert (payment.amount_cents, payment.fee_cents, payment.total_cents) == (2500, 300, 2800)
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.card_last4 == "4242"
    assert balance_of(account) == 2500
    assert system_posted(SystemAccount.FEE_REVENUE) == 300
    assert system_posted(SystemAccount.CARD_CLEARING) == -2800
    assert payment.entry.idempotency_key == f"payment:{payment.pk}"
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_ACTIVATION
    assert before + settings.ACTIVATION_DELAY <= account.activates_at <= timezone.now() + settings.ACTIVATION_DELAY
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.FUNDED).count() == 1
    assert len(mail.outbox) == 1
    receipt = mail.outbox[0]
    assert receipt.to == [holder.email]
    assert "$25.00" in receipt.body and "$3.00" in receipt.body and "$28.00" in receipt.body
    assert "card ending 4242" in receipt.body
    assert selectors.ledger_violations() == []


def test_second_payment_does_not_restart_activation(stripe_server, holder, account):
    services.card_payment_create(
        holder=holder, account=account, amount_cents=1000, setup_intent_id=confirmed_setup_intent(stripe_server, holder)
    )
    account.refresh_from_db()
    first_activation = account.activates_at
    services.card_payment_create(
        holder=holder, account=account, amount_cents=1500, setup_intent_id=confirmed_setup_intent(stripe_server, holder)
    )
    account.refresh_from_db()
    assert account.activates_at == first_activation
    assert balance_of(account) == 2500
    assert AccountEvent.objects.filter(account=account, action=AccountEvent.Action.FUNDED).count() == 1


def test_declined_card_credits_nothing_and_says_so(stripe_server, holder, account, django_capture_on_commit_callbacks):
    setup_id = confirmed_setup_intent(stripe_server, holder, DECLINED_CARD)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(services.PaymentError, match="declined"),
    ):
        services.card_payment_create(holder=holder, account=account, amount_cents=2500, setup_intent_id=setup_id)

    payment = Payment.objects.get(account=account)
    assert payment.status == PaymentStatus.FAILED
    assert "declined" in payment.failure_message
    assert payment.entry is None
    assert balance_of(account) == 0
    assert not JournalEntry.objects.exists()
    account.refresh_from_db()
    assert account.status == AccountStatus.PENDING_FUNDING
    assert mail.outbox == []


def test_card_declined_when_attached_never_reaches_the_server(stripe_server, holder):
    _, client_secret = services.card_setup_start(holder=holder)
    result = browser_confirms_card(stripe_server, client_secret, ATTACH_DECLINED_CARD)
    assert result["error"]["message"] == "Your card was declined."


def test_three_d_secure_payment_is_credited_after_authentication(stripe_server, holder, account):
    setup_id = confirmed_setup_intent(stripe_server, holder, THREE_DS_CARD)

    payment = services.card_payment_create(holder=holder, account=account, amount_cents=2000, setup_intent_id=setup_id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert balance_of(account) == 0

    client_secret = services.payment_client_secret(payment=payment)
    assert browser_authenticates_payment(stripe_server, client_secret, success=True)["status"] == "succeeded"
    payment = services.card_payment_refresh(payment=payment)
    again = services.card_payment_refresh(payment=payment)

    assert payment.status == again.status == PaymentStatus.SUCCEEDED
    assert balance_of(account) == 2000
    assert JournalEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
    assert selectors.ledger_violations() == []


def test_three_d_secure_failed_authentication_credits_nothing(stripe_server, holder, account):
    setup_id = confirmed_setup_intent(stripe_server, holder, THREE_DS_CARD)
    payment = services.card_payment_create(holder=holder, account=account, amount_cents=2000, setup_intent_id=setup_id)

    browser_authenticates_payment(stripe_server, services.payment_client_secret(payment=payment), success=False)
    payment = services.card_payment_refresh(payment=payment)

    assert payment.status == PaymentStatus.FAILED
    assert "authentication" in payment.failure_message
    assert balance_of(account) == 0
    assert not JournalEntry.objects.exists()


def test_three_d_secure_through_the_pages(stripe_server, client, holder, account):
    client.force_login(holder)
    setup_id = confirmed_setup_intent(stripe_server, holder, THREE_DS_CARD)
    response = client.post(
        reverse("billing:fund_pay"), {"account": account.pk, "amount": "20.00", "setup_intent": setup_id}
    )
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:authenticate", args=[payment.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Confirm with your bank" in page.content

    browser_authenticates_payment(stripe_server, page.context["client_secret"], success=True)
    response = client.post(reverse("billing:authenticate", args=[payment.pk]))

    assert response["Location"] == reverse("billing:receipt", args=[payment.pk])
    assert balance_of(account) == 2000


def test_same_card_confirmation_submitted_twice_charges_once(stripe_server, client, holder, account):
    client.force_login(holder)
    setup_id = confirmed_setup_intent(stripe_server, holder)
    form = {"account": account.pk, "amount": "25.00", "setup_intent": setup_id}

    first = client.post(reverse("billing:fund_pay"), form)
    second = client.post(reverse("billing:fund_pay"), form)

    payment = Payment.objects.get()
    assert first["Location"] == second["Location"] == reverse("billing:receipt", args=[payment.pk])
    assert balance_of(account) == 2500


def test_setup_intent_of_another_holder_is_refused(stripe_server, holder, account):
    other = UserFactory()
    setup_id = confirmed_setup_intent(stripe_server, other)
    services.card_setup_start(holder=holder)
    holder.refresh_from_db()
    with pytest.raises(services.PaymentError, match="not entered on your account"):
        services.card_payment_create(holder=holder, account=account, amount_cents=2500, setup_intent_id=setup_id)
    assert not Payment.objects.exists()


def test_unconfirmed_setup_intent_is_refused(stripe_server, holder, account):
    setup_id, _ = services.card_setup_start(holder=holder)
    with pytest.raises(services.PaymentError, match="not confirmed"):
        services.card_payment_create(holder=holder, account=account, amount_cents=2500, setup_intent_id=setup_id)
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("50.01", "One payment can add at most $50.00."),
        ("0", "Enter an amount greater than zero."),
        ("-5", "The amount cannot be negative."),
        ("12.345", "Amounts have at most two decimal places (cents)."),
        ("ten dollars", "Enter an amount in dollars and cents, like 25.00."),
        ("", "Enter an amount."),
        ("4.99", "The smallest payment is $5.00."),
    ],
)
def test_bad_amount_is_refused_with_a_clear_error_and_nothing_charged(
    stripe_server, client, holder, account, amount, message
):
    client.force_login(holder)
    review = client.post(reverse("billing:fund"), {"account": account.pk, "amount": amount})
    assert review.status_code == 400
    assert message in review.content.decode()

    # The pay step re-validates: even a confirmed card is not charged for a bad amount.
    setup_id = confirmed_setup_intent(stripe_server, holder)
    pay = client.post(reverse("billing:fund_pay"), {"account": account.pk, "amount": amount, "setup_intent": setup_id})
    assert pay.status_code == 400
    assert message in pay.content.decode()
    assert not Payment.objects.exists()
    assert not JournalEntry.objects.exists()
    assert balance_of(account) == 0


def test_another_holders_account_in_the_form_is_refused(stripe_server, client, holder, account):
    other_account = account_open(holder=UserFactory())
    client.force_login(holder)
    review = client.post(reverse("billing:fund"), {"account": other_account.pk, "amount": "25.00"})
    assert review.status_code == 400
    assert "Choose one of your own open accounts." in review.content.decode()

    setup_id = confirmed_setup_intent(stripe_server, holder)
    pay = client.post(
        reverse("billing:fund_pay"), {"account": other_account.pk, "amount": "25.00", "setup_intent": setup_id}
    )
    assert pay.status_code == 400
    assert "Choose one of your own open accounts." in pay.content.decode()
    with pytest.raises(services.PaymentError, match="your own accounts"):
        services.card_payment_create(holder=holder, account=other_account, amount_cents=2500, setup_intent_id=setup_id)
    assert not Payment.objects.exists()
    assert not JournalEntry.objects.exists()


def test_review_page_shows_amount_fee_and_total_before_paying(stripe_server, client, holder, account):
    client.force_login(holder)
    response = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "25"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="quote-amount">$25.00' in html
    assert 'id="quote-fee">$3.00' in html
    assert "$28.00" in html and "Pay $28.00" in html
    assert settings.STRIPE_JS_URL in html
    assert not Payment.objects.exists()


def test_payment_covers_a_negative_balance_first(stripe_server, client, holder, account):
    account_ledger = ledger.account_ledger(account)
    ledger.post(
        idempotency_key="call:late-1",
        kind=EntryKind.CALL,
        lines=[(account_ledger, -420), (ledger.system_account(SystemAccount.CALL_REVENUE), 420)],
        memo="Call to (860) 555-0134",
    )
    client.force_login(holder)

    dashboard = client.get(reverse("accounts:dashboard")).content.decode()
    assert "You owe $4.20" in dashboard
    review = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "10.00"}).content.decode()
    assert "$4.20 of this payment covers that first" in review
    assert "your balance after it will be $5.80" in review

    payment = services.card_payment_create(
        holder=holder, account=account, amount_cents=1000, setup_intent_id=confirmed_setup_intent(stripe_server, holder)
    )
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance_of(account) == 580
    assert "You owe" not in client.get(reverse("accounts:dashboard")).content.decode()


def test_receipt_page_shows_the_payment_to_its_holder_only(stripe_server, client, holder, account):
    payment = services.card_payment_create(
        holder=holder, account=account, amount_cents=2500, setup_intent_id=confirmed_setup_intent(stripe_server, holder)
    )
    client.force_login(holder)
    html = client.get(reverse("billing:receipt", args=[payment.pk])).content.decode()
    for text in ("$25.00", "$3.00", "$28.00", "card ending 4242", 'id="receipt-balance">$25.00'):
        assert text in html
    client.force_login(UserFactory())
    assert client.get(reverse("billing:receipt", args=[payment.pk])).status_code == 404


def test_closed_account_takes_no_payment(holder, account):
    account.status = AccountStatus.CLOSED
    account.save(update_fields=["status"])
    with pytest.raises(services.PaymentError, match="closed"):
        services.payment_quote(account=account, amount_cents=2500, channel=Channel.WEB)


def test_direct_bill_rules_can_be_passed_as_limits(holder):
    direct = account_open(holder=holder, kind=AccountKind.DIRECT_BILL, credit_limit_cents=10000)
    quote = services.payment_quote(account=direct, amount_cents=7500, channel=Channel.WEB, limits=(1, 8000))
    assert quote.total_cents == 7800
    with pytest.raises(services.PaymentError, match=r"at most \$80.00"):
        services.payment_quote(account=direct, amount_cents=8001, channel=Channel.WEB, limits=(1, 8000))


def test_ledger_check_catches_a_payment_posted_with_the_wrong_amount(holder, account):
    staff = UserFactory(is_staff=True)
    payment = services.payment_record_offline(
        account=account,
        channel=Channel.MAIL,
        method="check",
        amount_cents=3000,
        reference="1042",
        recorded_by=staff,
    )
    assert selectors.ledger_violations() == []
    Payment.objects.filter(pk=payment.pk).update(amount_cents=3100)
    rules = [v.rule for v in selectors.ledger_violations()]
    assert rules == ["payment_amount_mismatch"]


def test_pending_payment_left_unconfirmed_is_not_credited(stripe_server, holder, account):
    setup_id = confirmed_setup_intent(stripe_server, holder, THREE_DS_CARD)
    payment = services.card_payment_create(holder=holder, account=account, amount_cents=2000, setup_intent_id=setup_id)
    later = services.card_payment_refresh(payment=payment)
    assert later.status == PaymentStatus.REQUIRES_ACTION
    assert later.created_at > timezone.now() - timedelta(minutes=5)
    assert balance_of(account) == 0


def test_fee_changed_after_review_shows_the_new_total_and_charges_nothing(stripe_server, client, holder, account):
    client.force_login(holder)
    review = client.post(reverse("billing:fund"), {"account": account.pk, "amount": "25.00"})
    assert review.context["form"].initial["total_cents"] == 2800
    FeeSchedule.objects.filter(channel="web").update(fee_cents=250)

    setup_id = confirmed_setup_intent(stripe_server, holder)
    response = client.post(
        reverse("billing:fund_pay"),
        {"account": account.pk, "amount": "25.00", "setup_intent": setup_id, "total_cents": 2800},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "The processing fee changed" in html and "Pay $27.50" in html
    assert not Payment.objects.exists()


def test_card_processor_unreachable_is_a_clear_error_not_a_500(settings, client, holder, account):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    client.force_login(holder)
    # The review step asks Stripe nothing; the card field's request for a SetupIntent is refused plainly.
    assert client.post(reverse("billing:fund"), {"account": account.pk, "amount": "25.00"}).status_code == 200
    response = client.post(reverse("billing:card_setup"), {"purpose": "payment"})
    assert response.status_code == 503
    assert "could not reach our card processor" in response.json()["error"]
    assert not Payment.objects.exists()
