"""Every family and staff form that takes text, with a valid body and its text fields: the input
hygiene test and the malformed-input sweep both post to each of them."""

import datetime
import itertools
from dataclasses import dataclass, field

from django.apps import apps
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.direct_bill.services import application_submit
from accounts.models import AccountKind, AccountStatus, PhoneNumber
from accounts.services import account_open
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, SystemAccount
from billing.statements.models import Statement
from calls.models import Facility, Inmate, PlatformToken
from tests.factories import InmateFactory, RatePlanFactory, UserFactory

STAFF_PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def next_number() -> str:
    return f"+1860{3000000 + next(_numbers):07d}"


def token_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# Tables whose rows record an attempt rather than a state change.
AUDIT_ONLY = {"axes.accessattempt", "axes.accessfailurelog", "axes.accesslog", "sessions.session"}


@dataclass
class FormCase:
    name: str
    url: str
    data: dict
    text_fields: list[str]
    actor: str  # "anonymous", "holder" or "staff"
    # Hidden inputs: refused like the others, but the page shows the step before (no field to mark).
    hidden: list[str] = field(default_factory=list)


def state_snapshot() -> dict[str, int]:
    """Row counts of every project and auth table: a refused input changes none of them."""
    counts = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in AUDIT_ONLY or model._meta.app_label in {"contenttypes", "admin"}:
            continue
        counts[label] = model._default_manager.count()
    return counts


def build_world():
    holder = UserFactory(first_name="Ana", last_name="Ruiz", state="CT")
    staff = UserFactory(email="staff.sweep@familyline.example", is_staff=True, is_superuser=True)
    account = account_open(holder=holder, kind=AccountKind.ADVANCE_CONNECT, status=AccountStatus.ACTIVE)
    number = PhoneNumber.objects.create(account=account, number="+18605559001", line_type="landline", label="home")
    plan = RatePlanFactory(rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01")
    facility = plan.facility
    inmate = InmateFactory(facility=facility)
    ak = UserFactory(state="AK")
    application = application_submit(
        applicant=ak,
        legal_name="Bo Ak",
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="1 Front Street",
        city="Juneau",
        state="AK",
        postal_code="99801",
        consent=True,
    )
    pending = application_submit(
        applicant=UserFactory(state="NY"),
        legal_name="Cy Ny",
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="2 Broad Street",
        city="Albany",
        state="NY",
        postal_code="12207",
        consent=True,
    )
    # What the Direct Bill account owes, so its statement offers the payment form.
    ledger.post(
        idempotency_key=f"sweep-owed:{application.account.pk}",
        kind=EntryKind.ADJUSTMENT,
        lines=[
            (ledger.account_ledger(application.account), -1000),
            (ledger.system_account(SystemAccount.ADJUSTMENTS), 1000),
        ],
    )
    statement = Statement.objects.create(
        account=application.account,
        period_start_date=datetime.date(2026, 10, 1),
        period_end_date=datetime.date(2026, 10, 31),
        opening_balance_cents=0,
        closing_balance_cents=1000,
        charges_cents=1000,
        due_date=timezone.localdate() + datetime.timedelta(days=10),
    )
    return {
        "holder": holder,
        "staff": staff,
        "account": account,
        "number": number,
        "facility": facility,
        "inmate": inmate,
        "application": application,
        "pending": pending,
        "statement": statement,
        "ak": ak,
    }


def form_cases(world) -> list[FormCase]:
    w = world
    admin_change = lambda model, pk: reverse(f"admin:{model}_change", args=[pk])  # noqa: E731
    admin_add = lambda model: reverse(f"admin:{model}_add")  # noqa: E731
    profile = {
        "first_name": "Ana",
        "last_name": "Ruiz",
        "preferred_language": "en",
        "address_line1": "1 Main Street",
        "address_line2": "",
        "city": "Hartford",
        "state": "CT",
        "postal_code": "06103",
    }
    application = {
        "legal_name": "Di Ct",
        "date_of_birth": "1980-05-17",
        "address_line1": "3 Elm Street",
        "address_line2": "",
        "city": "Hartford",
        "state": "CT",
        "postal_code": "06103",
        "ssn": "",
        "consent": "on",
    }
    return [
        # Family pages (allauth's included).
        FormCase(
            "signup",
            reverse("account_signup"),
            {
                "email": "new.person@example.com",
                "password1": "a long enough passphrase",
                "password2": "a long enough passphrase",
                "first_name": "New",
                "last_name": "Person",
                "preferred_language": "en",
            },
            ["email", "password1", "password2", "first_name", "last_name"],
            "anonymous",
        ),
        FormCase(
            "login",
            reverse("account_login"),
            {"login": w["holder"].email, "password": "correct horse battery"},
            ["login", "password"],
            "anonymous",
        ),
        FormCase(
            "password reset", reverse("account_reset_password"), {"email": w["holder"].email}, ["email"], "anonymous"
        ),
        FormCase(
            "profile",
            reverse("accounts:profile"),
            profile,
            ["first_name", "last_name", "address_line1", "address_line2", "city", "postal_code"],
            "holder",
        ),
        FormCase(
            "add a number",
            reverse("accounts:account_detail", args=[w["account"].pk]),
            {"number": "(860) 555-0177", "label": "Work", "line_type": "landline"},
            ["number", "label"],
            "holder",
        ),
        FormCase(
            "edit a number",
            reverse("accounts:number_edit", args=[w["number"].pk]),
            {"label": "Grandma", "line_type": "landline"},
            ["label"],
            "holder",
        ),
        FormCase(
            "close an account",
            reverse("accounts:account_close", args=[w["account"].pk]),
            {"reason": "Moving away"},
            ["reason"],
            "holder",
        ),
        FormCase(
            "fund an account",
            reverse("billing:fund"),
            {"account": w["account"].pk, "amount": "25.00"},
            ["amount"],
            "holder",
        ),
        FormCase(
            "pay by card",
            reverse("billing:fund_pay"),
            {"account": w["account"].pk, "amount": "25.00", "setup_intent": "seti_123", "total_cents": "2500"},
            ["amount", "setup_intent"],
            "holder",
            hidden=["amount", "setup_intent"],
        ),
        FormCase(
            "sponsor an inmate",
            reverse("calls:sponsorships", args=[w["account"].pk]),
            {"facility": w["facility"].pk, "inmate_number": w["inmate"].inmate_number},
            ["inmate_number"],
            "holder",
        ),
        FormCase(
            "apply for Direct Bill",
            reverse("accounts:direct_bill_apply"),
            application,
            ["legal_name", "address_line1", "address_line2", "city", "postal_code", "ssn"],
            "holder",
        ),
        FormCase(
            "pay a statement",
            reverse("billing:statement_pay", args=[w["statement"].pk]),
            {"amount": "5.00"},
            ["amount"],
            "ak",
        ),
        # Staff pages.
        FormCase(
            "staff login",
            reverse("admin:login"),
            {"username": w["staff"].email, "password": "correct horse battery", "next": "/admin/"},
            ["username", "password"],
            "anonymous",
        ),
        FormCase(
            "staff: edit a user",
            admin_change("accounts_user", w["holder"].pk),
            {
                "email": w["holder"].email,
                "first_name": "Ana",
                "last_name": "Ruiz",
                "preferred_language": "en",
                "address_line1": "1 Main Street",
                "address_line2": "",
                "city": "Hartford",
                "state": "CT",
                "postal_code": "06103",
                "stripe_customer_id": "",
                "is_active": "on",
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
                "initial-date_joined_0": "2026-01-01",
                "initial-date_joined_1": "00:00:00",
            },
            ["email", "first_name", "last_name", "address_line1", "city", "postal_code"],
            "staff",
        ),
        FormCase(
            "staff: add a user",
            admin_add("accounts_user"),
            {
                "email": "agent@familyline.example",
                "password1": "a long enough passphrase",
                "password2": "a long enough passphrase",
            },
            ["email", "password1", "password2"],
            "staff",
        ),
        FormCase(
            "staff: suspend with a reason",
            reverse("admin:accounts_callingaccount_changelist"),
            {"action": "suspend", "_selected_action": [w["account"].pk], "apply": "1", "reason": "Fraud check"},
            ["reason"],
            "staff",
        ),
        FormCase(
            "staff: record a mail payment",
            admin_add("billing_payment"),
            {
                "account": w["account"].pk,
                "channel": "mail",
                "method": "check",
                "amount": "20.00",
                "reference": "chk 1001",
            },
            ["amount", "reference"],
            "staff",
        ),
        FormCase(
            "staff: mail payment on a statement",
            reverse("admin:billing_statement_mail_payment", args=[w["statement"].pk]),
            {"method": "check", "amount": "5.00", "reference": "chk 77"},
            ["amount", "reference"],
            "staff",
        ),
        FormCase(
            "staff: adjustment",
            admin_add("billing_adjustment"),
            {"account": w["account"].pk, "direction": "credit", "amount": "1.00", "reason": "Dropped call"},
            ["amount", "reason"],
            "staff",
        ),
        FormCase(
            "staff: approve an application",
            reverse("admin:accounts_directbillapplication_approve", args=[w["pending"].pk]),
            {"credit_limit": "100.00"},
            ["credit_limit"],
            "staff",
        ),
        FormCase(
            "staff: decline an application",
            reverse("admin:accounts_directbillapplication_decline", args=[w["pending"].pk]),
            {"reason": "Could not verify"},
            ["reason"],
            "staff",
        ),
        FormCase(
            "staff: change a credit limit",
            reverse("admin:accounts_directbillapplication_credit_limit", args=[w["application"].pk]),
            {"credit_limit": "60.00", "reason": "Good history"},
            ["credit_limit", "reason"],
            "staff",
        ),
        FormCase(
            "staff: block a number",
            admin_add("calls_blockednumber"),
            {"number": "+18605550999", "facility": w["facility"].pk, "reason": "Victim request"},
            ["number", "reason"],
            "staff",
        ),
        FormCase(
            "staff: issue a platform token",
            admin_add("calls_platformtoken"),
            {"name": "Platform B"},
            ["name"],
            "staff",
        ),
        FormCase(
            "staff: edit an inmate",
            admin_change("calls_inmate", w["inmate"].pk),
            _model_initial(w["inmate"]),
            ["first_name", "last_name", "inmate_number"],
            "staff",
        ),
        FormCase(
            "confirm texts with a code",
            reverse("texts:number_texts", args=[w["number"].pk]),
            {"action": "confirm", "code": "123456"},
            ["code"],
            "holder",
        ),
        FormCase(
            "block my number",
            reverse("blocks:block_start"),
            {"number": "(860) 555-9002", "action": "block", "channel": "sms"},
            ["number"],
            "anonymous",
        ),
    ]


def _model_initial(instance) -> dict:
    data = {}
    for f in instance._meta.concrete_fields:
        if f.primary_key or not f.editable:
            continue
        value = getattr(instance, f.attname)
        if isinstance(value, bool):
            if value:
                data[f.name] = "on"
            continue
        data[f.name] = "" if value is None else value
    return data


def login_as(client, case: FormCase, world) -> None:
    if case.actor == "holder":
        client.force_login(world["holder"])
    elif case.actor == "ak":
        client.force_login(world["ak"])
    elif case.actor == "staff":
        client.force_login(world["staff"])


__all__ = ["Facility", "FormCase", "Inmate", "PlatformToken", "build_world", "form_cases", "login_as", "state_snapshot"]
