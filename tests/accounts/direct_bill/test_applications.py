import datetime
import socket

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.direct_bill import credit
from accounts.direct_bill import services as applications
from accounts.models import AccountEvent, AccountKind, AccountStatus, CallingAccount, DirectBillApplication
from accounts.services import account_open
from tests.factories import UserFactory
from tests.helpers import ny

pytestmark = pytest.mark.django_db


def _submit(holder, **overrides):
    data = {
        "applicant": holder,
        "legal_name": "Ana Maria Lopez",
        "date_of_birth": datetime.date(1985, 3, 9),
        "address_line1": "12 Elm Street",
        "city": "Hartford",
        "state": holder.state,
        "postal_code": "06103",
        "consent": True,
    }
    data.update(overrides)
    return applications.application_submit(**data)


class FakeBureau(credit.CreditCheckProvider):
    """A fake credit bureau for tests: answers as told and remembers what it was sent."""

    name = "fake_bureau"

    def __init__(self, outcome, limit=None, reason="", unavailable=False):
        self.outcome, self.limit, self.reason, self.unavailable = outcome, limit, reason, unavailable
        self.seen = []

    def check(self, applicant):
        self.seen.append(applicant)
        if self.unavailable:
            raise credit.CreditCheckUnavailable("bureau timed out")
        return credit.CreditDecision(self.outcome, self.name, self.limit, self.reason)


@time_machine.travel(ny(2026, 3, 10, 9, 0), tick=False)
def test_alaska_resident_is_approved_at_fifty_dollars_without_review(django_capture_on_commit_callbacks):
    holder = UserFactory(state="AK")
    with django_capture_on_commit_callbacks(execute=True):
        application = _submit(holder, state="AK", city="Juneau", postal_code="99801")

    assert application.status == DirectBillApplication.Status.APPROVED
    assert application.provider == "alaska_preapproval"
    assert application.credit_limit_cents == 5000
    account = application.account
    assert account.kind == AccountKind.DIRECT_BILL
    assert account.credit_limit_cents == 5000
    assert account.status == AccountStatus.PENDING_ACTIVATION
    assert account.activates_at == timezone.now() + datetime.timedelta(hours=24)
    limit_event = account.events.get(action=AccountEvent.Action.CREDIT_LIMIT_CHANGED)
    assert limit_event.data == {"from": None, "to": 5000, "application": application.pk}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [holder.email]
    assert "approved" in mail.outbox[0].subject
    assert "credit limit of $50.00" in mail.outbox[0].body


@time_machine.travel(ny(2026, 3, 10, 9, 0), tick=False)
def test_approved_account_connects_only_after_the_activation_delay():
    application = _submit(UserFactory(state="AK"), state="AK")
    account = application.account
    assert account.status_at(timezone.now()) == AccountStatus.PENDING_ACTIVATION
    assert (
        account.status_at(timezone.now() + datetime.timedelta(hours=23, minutes=59)) == AccountStatus.PENDING_ACTIVATION
    )
    assert account.status_at(timezone.now() + datetime.timedelta(hours=24)) == AccountStatus.ACTIVE


def test_other_states_wait_for_staff_review(django_capture_on_commit_callbacks, client, staff):
    holder = UserFactory(state="CT")
    with django_capture_on_commit_callbacks(execute=True):
        application = _submit(holder)
    assert application.status == DirectBillApplication.Status.PENDING
    assert application.provider == "staff_review"
    assert application.account is None
    assert not CallingAccount.objects.filter(holder=holder).exists()
    assert mail.outbox == []

    client.force_login(staff)
    queue = client.get(reverse("admin:accounts_directbillapplication_changelist"))
    assert queue.status_code == 200
    assert "Ana Maria Lopez" in queue.content.decode()


def test_staff_approve_with_a_limit_opens_the_account_and_emails(client, staff, django_capture_on_commit_callbacks):
    holder = UserFactory(state="NY")
    application = _submit(holder, state="NY")
    client.force_login(staff)
    url = reverse("admin:accounts_directbillapplication_approve", args=[application.pk])
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"credit_limit": "120.00"})
    assert response.status_code == 302

    application.refresh_from_db()
    assert application.status == DirectBillApplication.Status.APPROVED
    assert application.decided_by == staff
    assert application.account.credit_limit_cents == 12000
    assert application.account.status == AccountStatus.PENDING_ACTIVATION
    assert application.account.activates_at is not None
    assert [m.to for m in mail.outbox] == [[holder.email]]
    assert "$120.00" in mail.outbox[0].body

    # Deciding again is refused and changes nothing.
    again = client.post(url, {"credit_limit": "150.00"})
    assert again.status_code == 200
    assert "already approved" in again.content.decode()
    assert CallingAccount.objects.filter(holder=holder).count() == 1


def test_staff_decline_shows_and_emails_the_reason(client, staff, django_capture_on_commit_callbacks):
    holder = UserFactory(state="TX")
    application = _submit(holder, state="TX")
    client.force_login(staff)
    url = reverse("admin:accounts_directbillapplication_decline", args=[application.pk])

    refused = client.post(url, {"reason": "   "})
    assert refused.status_code == 200
    application.refresh_from_db()
    assert application.status == DirectBillApplication.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"reason": "We could not verify your identity with the details given."})
    application.refresh_from_db()
    assert application.status == DirectBillApplication.Status.DECLINED
    assert application.account is None
    assert len(mail.outbox) == 1
    assert "could not verify your identity" in mail.outbox[0].body

    client.force_login(holder)
    page = client.get(reverse("accounts:direct_bill_application", args=[application.pk]))
    assert "We could not verify your identity with the details given." in page.content.decode()
    # Another holder cannot see it.
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:direct_bill_application", args=[application.pk])).status_code == 404


def test_a_full_ssn_goes_to_the_provider_and_only_the_last_four_digits_are_stored():
    bureau = FakeBureau(credit.Outcome.APPROVED, limit=7500)
    application = _submit(UserFactory(state="OH"), state="OH", ssn="123-45-6789", provider=bureau)
    assert bureau.seen[0].ssn == "123456789"
    assert "6789" not in repr(bureau.seen[0])
    assert application.status == DirectBillApplication.Status.APPROVED
    assert application.provider == "fake_bureau"
    assert application.account.credit_limit_cents == 7500
    application.refresh_from_db()
    assert application.ssn_last4 == "6789"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_directbillapplication WHERE id = %s", [application.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "123456789" not in row and "123-45-6789" not in row and "12345" not in row


def test_a_provider_decline_is_recorded_and_an_unavailable_provider_leaves_it_for_staff():
    declined = _submit(
        UserFactory(state="OH"), state="OH", provider=FakeBureau(credit.Outcome.DECLINED, reason="Thin credit file.")
    )
    assert declined.status == DirectBillApplication.Status.DECLINED
    assert declined.decision_reason == "Thin credit file."

    waiting = _submit(UserFactory(state="OH"), state="OH", provider=FakeBureau(None, unavailable=True))
    assert waiting.status == DirectBillApplication.Status.PENDING
    assert waiting.provider == "staff_review"


def test_alaska_is_decided_before_any_provider_is_asked():
    bureau = FakeBureau(credit.Outcome.DECLINED, reason="no")
    application = _submit(UserFactory(state="AK"), state="AK", provider=bureau)
    assert application.status == DirectBillApplication.Status.APPROVED
    assert bureau.seen == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent": False}, "agree to the credit check"),
        ({"date_of_birth": datetime.date(2010, 1, 1)}, "18 or older"),
        ({"ssn": "12-345"}, "nine digits"),
        ({"state": "ZZ"}, "Choose the state"),
    ],
)
def test_bad_applications_are_refused_and_store_nothing(overrides, message):
    holder = UserFactory(state="CT")
    with pytest.raises(applications.ApplicationError, match=message):
        _submit(holder, **overrides)
    assert not DirectBillApplication.objects.exists()


@time_machine.travel(ny(2026, 6, 15, 12, 0), tick=False)
def test_the_applicant_must_be_eighteen_on_the_day():
    holder = UserFactory(state="CT")
    with pytest.raises(applications.ApplicationError, match="18 or older"):
        _submit(holder, date_of_birth=datetime.date(2008, 6, 16))
    assert _submit(holder, date_of_birth=datetime.date(2008, 6, 15)).status == DirectBillApplication.Status.PENDING


def test_one_pending_application_and_one_open_direct_bill_account_per_person():
    holder = UserFactory(state="CT")
    _submit(holder)
    with pytest.raises(applications.ApplicationError, match="waiting for review"):
        _submit(holder)
    alaskan = UserFactory(state="AK")
    _submit(alaskan, state="AK")
    with pytest.raises(applications.ApplicationError, match="already have a Direct Bill account"):
        _submit(alaskan, state="AK")


def test_credit_limit_changes_are_audited_and_emailed(staff, client, django_capture_on_commit_callbacks):
    application = _submit(UserFactory(state="AK"), state="AK")
    account = application.account
    client.force_login(staff)
    url = reverse("admin:accounts_directbillapplication_credit_limit", args=[application.pk])
    missing_reason = client.post(url, {"credit_limit": "80.00", "reason": ""})
    assert missing_reason.status_code == 200
    account.refresh_from_db()
    assert account.credit_limit_cents == 5000

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"credit_limit": "80.00", "reason": "Two years paid on time"})
    account.refresh_from_db()
    assert account.credit_limit_cents == 8000
    event = account.events.filter(action=AccountEvent.Action.CREDIT_LIMIT_CHANGED).order_by("-id").first()
    assert (event.actor, event.reason, event.data) == (staff, "Two years paid on time", {"from": 5000, "to": 8000})
    assert "$80.00" in mail.outbox[-1].body
    change_page = client.get(reverse("admin:accounts_directbillapplication_change", args=[application.pk]))
    assert "$50.00 → $80.00" in change_page.content.decode()


def test_only_direct_bill_accounts_have_a_credit_limit(staff):
    prepaid = account_open(holder=UserFactory())
    with pytest.raises(applications.ApplicationError, match="Only Direct Bill"):
        applications.credit_limit_change(account=prepaid, credit_limit_cents=1000, actor=staff, reason="x")


def test_apply_in_the_browser_form(client, django_capture_on_commit_callbacks):
    holder = UserFactory(state="AK", city="Juneau", postal_code="99801")
    client.force_login(holder)
    form_page = client.get(reverse("accounts:direct_bill_apply"))
    assert form_page.status_code == 200
    assert 'value="Juneau"' in form_page.content.decode()

    no_consent = client.post(
        reverse("accounts:direct_bill_apply"),
        {"legal_name": "Jo Doe", "date_of_birth": "1990-01-02", "address_line1": "1 Front St", "city": "Juneau",
         "state": "AK", "postal_code": "99801"},
    )  # fmt: skip
    assert no_consent.status_code == 200
    assert not DirectBillApplication.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:direct_bill_apply"),
            {"legal_name": "Jo Doe", "date_of_birth": "1990-01-02", "address_line1": "1 Front St", "city": "Juneau",
             "state": "AK", "postal_code": "99801", "ssn": "123456789", "consent": "on"},
        )  # fmt: skip
    application = DirectBillApplication.objects.get(applicant=holder)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:direct_bill_application", args=[application.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Approved with a credit limit of <strong>$50.00</strong>" in page
    assert application.ssn_last4 == "6789"
    home = client.get(reverse("accounts:direct_bill")).content.decode()
    assert "Apply for Direct Bill" not in home


def test_a_mail_outage_after_approval_is_not_an_error(client, staff, settings, django_capture_on_commit_callbacks):
    with socket.socket() as sock:  # a port nobody listens on: the mail server is down
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    application = _submit(UserFactory(state="NY"), state="NY")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_directbillapplication_approve", args=[application.pk]), {"credit_limit": "75.00"}
        )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == DirectBillApplication.Status.APPROVED


def test_numbers_on_a_direct_bill_account_are_managed_like_any_account(client):
    application = _submit(UserFactory(state="AK"), state="AK")
    client.force_login(application.applicant)
    url = reverse("accounts:account_detail", args=[application.account.pk])
    response = client.post(url, {"number": "(860) 555-0142", "label": "Home", "line_type": "landline"})
    assert response.status_code == 302
    assert application.account.phone_numbers.get().number.as_e164 == "+18605550142"
