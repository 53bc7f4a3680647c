"""Plain helpers shared by the tests: accounts, balances, calls and payments made through the real
services. Fixtures live in conftest.py; no test module imports another."""

import datetime
import itertools
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import requests
import stripe
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections
from django.utils import timezone
from twilio.request_validator import RequestValidator

from accounts.direct_bill.services import application_submit
from accounts.models import AccountKind, AccountStatus, CallingAccount, LineType, PhoneNumber
from accounts.services import account_activate, account_open, phone_number_add
from billing.ledger import kernel as ledger
from billing.ledger.models import EntryKind, LedgerAccount, SystemAccount
from billing.payments import refunds
from billing.payments import services as payments
from billing.payments.models import Channel, Payment, PaymentMethod, Refund
from calls.callpath.authorize import call_authorize
from calls.callpath.complete import call_complete
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory

# Screenshots the browser tests keep for a person to look at (not committed).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime.datetime:
    """A moment on the New York clock: ny(2026, 10, 3, 14, 30)."""
    return datetime.datetime(*args, tzinfo=NY)


# --- balances -----------------------------------------------------------------------------------


def balance_of(account) -> int:
    """A calling account's cached ledger balance, in cents (negative: owed)."""
    return LedgerAccount.objects.get(calling_account=account).balance_cents


def system_posted(code: SystemAccount) -> int:
    return ledger.balance(ledger.system_account(code))


_deposits = itertools.count(1)


def deposit(account, cents: int) -> None:
    """Money on the account straight through the ledger (no payment row)."""
    ledger.post(
        idempotency_key=f"test-deposit:{account.pk}:{next(_deposits)}",
        kind=EntryKind.PAYMENT,
        lines=[(ledger.system_account(SystemAccount.CARD_CLEARING), -cents), (ledger.account_ledger(account), cents)],
    )


# --- accounts and numbers -----------------------------------------------------------------------

_numbers = itertools.count(1)
_added_numbers = itertools.count(1000)


# When test numbers were registered: before any call a test reports (a call is charged to whoever
# held the number when it started).
LONG_AGO = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def next_number() -> str:
    """A distinct valid US number (Hartford exchange) per call."""
    return f"+1860{2000000 + next(_numbers):07d}"


def make_account(
    *,
    balance_cents: int = 0,
    kind: str = AccountKind.ADVANCE_CONNECT,
    status: str = AccountStatus.ACTIVE,
    credit_limit_cents: int = 0,
    number: str | None = None,
    line_type: str = "landline",
    language: str = "en",
    holder=None,
):
    """An account with one registered number (`account.test_number`, E.164) and a balance."""
    holder = holder or UserFactory(preferred_language=language)
    account = account_open(holder=holder, kind=kind, status=status, credit_limit_cents=credit_limit_cents)
    if balance_cents:
        deposit(account, balance_cents)
    account.test_number = number or next_number()
    phone = PhoneNumber.objects.create(account=account, number=account.test_number, line_type=line_type, label="home")
    # Registered well before any call a test reports (a call is charged to whoever held the number
    # when it started).
    PhoneNumber.objects.filter(pk=phone.pk).update(added_at=LONG_AGO)
    return account


def add_number(account, number=None, line_type=LineType.LANDLINE) -> str:
    number = number or f"+1860555{next(_added_numbers):04d}"
    phone = PhoneNumber.objects.create(account=account, number=number, label="Home", line_type=line_type)
    PhoneNumber.objects.filter(pk=phone.pk).update(added_at=LONG_AGO)  # before any call a test reports
    return number


def open_direct_bill(*, state="AK", holder=None, activate=True) -> CallingAccount:
    """A Direct Bill account through the real application path (Alaska: approved at once)."""
    holder = holder or UserFactory(state=state)
    application = application_submit(
        applicant=holder,
        legal_name=holder.get_full_name(),
        date_of_birth=datetime.date(1980, 5, 17),
        address_line1="1 Front Street",
        city="Juneau",
        state=state,
        postal_code="99801",
        consent=True,
    )
    account = application.account
    if activate:
        account_activate(account=account)
        account.refresh_from_db()
    return account


# --- calls --------------------------------------------------------------------------------------

_call_ids = itertools.count(1)


def call_id() -> str:
    return f"call-{next(_call_ids)}"


def authorize(facility, inmate, number, *, cid=None, now=None):
    return call_authorize(
        call_id=cid or call_id(),
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=number,
        now=now,
    )


def complete(facility, inmate, number, *, seconds, cid=None, started_at=None, disconnect="normal", now=None):
    return call_complete(
        call_id=cid or call_id(),
        facility_code=facility.code,
        inmate_number=inmate.inmate_number,
        dialed_number=number,
        started_at=started_at or datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds),
        duration_seconds=seconds,
        disconnect=disconnect,
        now=now,
    )


class Calls:
    """A facility at $0.21/min + 6.35 % tax (calls up to 30 minutes) and an inmate, for real calls."""

    def __init__(self):
        self.plan = RatePlanFactory(
            rate_per_minute="0.21", tax_rate="0.0635", effective_from_date="2020-01-01", facility__max_call_minutes=30
        )
        self.facility = self.plan.facility
        self.inmate = InmateFactory(facility=self.facility)

    def complete(self, *, number: str, minutes: int, started_at=None):
        started_at = started_at or timezone.now() - datetime.timedelta(minutes=minutes + 1)
        return complete(
            self.facility,
            self.inmate,
            number,
            seconds=minutes * 60 - 5,
            cid=f"db-call-{next(_call_ids)}",
            started_at=started_at,
        )

    def authorize(self, *, number: str, call_id: str | None = None):
        return authorize(self.facility, self.inmate, number, cid=call_id or f"db-auth-{next(_call_ids)}")


def ready_for_calls(account, *, staff, holder, number: str):
    """Activate the account, register `number` on it and give it a paid facility and an inmate."""
    account_activate(account=account, actor=staff)
    facility = FacilityFactory()
    RatePlanFactory(facility=facility)
    inmate = InmateFactory(facility=facility)
    phone = phone_number_add(account=account, number=number, label="Home", line_type="landline", actor=holder)
    PhoneNumber.objects.filter(pk=phone.pk).update(added_at=LONG_AGO)  # before any call a test reports
    return facility, inmate


# --- payments (the card side through a real localstripe) ---------------------------------------

OK_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
THREE_DS_CARD = "4000002500003155"
ATTACH_DECLINED_CARD = "4000000000000002"


def browser_confirms_card(base_url: str, client_secret: str, number: str, *, authenticate: bool = True) -> dict:
    """What Stripe.js `confirmCardSetup` does with the card element: the card goes to Stripe only."""
    seti = client_secret.split("_secret_")[0]
    body = {
        "key": settings.STRIPE_PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            "billing_details": {"address": {"postal_code": "06103"}},
        },
    }
    result = requests.post(f"{base_url}/v1/setup_intents/{seti}/confirm", json=body, timeout=10).json()
    if result.get("status") == "requires_action" and authenticate:
        again = {"key": settings.STRIPE_PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret}
        result = requests.post(f"{base_url}/v1/setup_intents/{seti}/confirm", json=again, timeout=10).json()
    return result


def browser_authenticates_payment(base_url: str, client_secret: str, *, success: bool) -> dict:
    """What Stripe.js `confirmCardPayment` does when the holder completes (or fails) 3-D Secure."""
    pi = client_secret.split("_secret_")[0]
    body = {"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": client_secret}
    url = f"{base_url}/v1/payment_intents/{pi}/_authenticate?success={'true' if success else 'false'}"
    return requests.post(url, json=body, timeout=10).json()


def stripe_object_count(base_url: str, kind: str) -> int:
    """How many Stripe objects of `kind` ("customers", "setup_intents") the stand-in holds, paging
    through its list as Stripe's clients do."""
    count, after = 0, None
    while True:
        params = {"limit": 100, **({"starting_after": after} if after else {})}
        page = requests.get(
            f"{base_url}/v1/{kind}", params=params, auth=(settings.STRIPE_SECRET_KEY, ""), timeout=10
        ).json()
        count += len(page["data"])
        if not page.get("has_more") or not page["data"]:
            return count
        after = page["data"][-1]["id"]


def confirmed_setup_intent(base_url: str, holder, number: str = OK_CARD) -> str:
    setup_id, client_secret = payments.card_setup_start(holder=holder)
    result = browser_confirms_card(base_url, client_secret, number)
    assert result.get("status") == "succeeded", result
    return setup_id


def card_payment(base_url, holder, account, cents: int) -> Payment:
    return payments.card_payment_create(
        holder=holder, account=account, amount_cents=cents, setup_intent_id=confirmed_setup_intent(base_url, holder)
    )


_references = itertools.count(1)


def mail_payment(account, cents: int, staff) -> Payment:
    return payments.payment_record_offline(
        account=account,
        channel=Channel.MAIL,
        method=PaymentMethod.MONEY_ORDER,
        amount_cents=cents,
        reference=f"MO-{next(_references)}",
        recorded_by=staff,
    )


def stripe_refund(base_url: str, refund_id: str) -> dict:
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    return client.v1.refunds.retrieve(refund_id).to_dict()


def stripe_refunds_of(base_url: str, payment_intent_id: str) -> list[dict]:
    client = stripe.StripeClient(api_key=settings.STRIPE_SECRET_KEY, base_addresses={"api": base_url})
    return [r.to_dict() for r in client.v1.refunds.list(params={"payment_intent": payment_intent_id}).data]


# --- concurrency ------------------------------------------------------------------------------


def run_at_once(targets, workers: int | None = None):
    """Run every target on real threads (one connection each), released together. Returns each
    target's result, or the exception it raised; no target may deadlock (PostgreSQL would raise)."""
    workers = workers or len(targets)
    pending = queue.SimpleQueue()
    for i, target in enumerate(targets):
        pending.put((i, target))
    barrier = threading.Barrier(workers)
    results = [None] * len(targets)

    def run():
        try:
            barrier.wait()
            while True:
                try:
                    i, target = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = target()
                except Exception as exc:  # noqa: BLE001 - returned to the test
                    results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- Twilio: signed webhooks and a local REST server --------------------------------------------


def twilio_post(client, path: str, fields: dict, *, token: str | None = None, signature: str | None = None):
    """POST form fields to a webhook signed as Twilio signs them (with the settings' auth token, or
    `token`), or with the given `signature`."""
    url = f"http://testserver{path}"
    if signature is None:
        signature = RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, fields)
    return client.post(path, fields, HTTP_X_TWILIO_SIGNATURE=signature)


class TwilioApi:
    """A local stand-in for api.twilio.com: records each request (method, path, form fields) and
    answers with the JSON Twilio documents. `answer` picks the next answers: "ok", "opted_out"
    (error 21610), "invalid_number" (21211), "server_error" (500) or "timeout" (no answer in time)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[str] = []
        self.sids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *answers: str) -> None:
        self.answers.extend(answers)

    def messages(self) -> list[dict]:
        return [r["fields"] for r in self.requests if r["path"].endswith("/Messages.json")]

    def calls(self) -> list[dict]:
        return [r["fields"] for r in self.requests if r["path"].endswith("/Calls.json")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                api.requests.append({"method": "POST", "path": self.path, "fields": fields})
                answer = api.answers.pop(0) if api.answers else "ok"
                if answer == "timeout":
                    time.sleep(settings.TWILIO_TIMEOUT_SECONDS + 1)
                    return
                status, body = api.reply(answer, self.path, fields)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def reply(self, answer: str, path: str, fields: dict) -> tuple[int, dict]:
        account = path.split("/Accounts/")[1].split("/")[0]
        if answer == "opted_out":
            return 400, _twilio_error(21610, "Attempt to send to unsubscribed recipient")
        if answer == "invalid_number":
            return 400, _twilio_error(21211, f"The 'To' number {fields.get('To')} is not a valid phone number.")
        if answer == "server_error":
            return 500, _twilio_error(20500, "Internal Server Error")
        now = "Sun, 06 Dec 2026 22:00:00 +0000"
        if path.endswith("/Calls.json"):
            sid = f"CA{next(self.sids):032x}"
            return 201, {
                "sid": sid,
                "account_sid": account,
                "to": fields.get("To"),
                "from": fields.get("From"),
                "status": "queued",
                "direction": "outbound-api",
                "date_created": now,
                "date_updated": now,
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
            }
        sid = f"SM{next(self.sids):032x}"
        return 201, {
            "sid": sid,
            "account_sid": account,
            "to": fields.get("To"),
            "from": fields.get("From"),
            "body": fields.get("Body"),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "messaging_service_sid": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
        }


def _twilio_error(code: int, message: str) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": 400}


def staff_in(group: str):
    """A staff member in one of the roles (agent, billing, supervisor)."""
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def second_approval(refund: Refund) -> Refund:
    """Approve a check refund as a billing staff member who recorded none of its account's payments."""
    return refunds.refund_check_approve(refund=refund, actor=staff_in("billing"))
