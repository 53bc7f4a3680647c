import contextlib
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import stripe
from celery._state import _set_task_join_will_block
from django.core.cache import cache
from django.db import connections
from django.utils import translation
from playwright.sync_api import sync_playwright

from accounts.services import account_open
from accounts.texts import backends as text_backends
from config.celery import app as celery_app
from tests.factories import FacilityFactory, InmateFactory, RatePlanFactory, UserFactory
from tests.helpers import ARTIFACTS, Calls, TwilioApi

VENV_BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url():
    """A real localstripe process for the whole session (one per xdist worker)."""
    port = _free_port()
    binary = VENV_BIN / "localstripe"
    proc = subprocess.Popen(
        [str(binary), "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("localstripe did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def stripe_server(localstripe_url, settings):
    """Point the app's Stripe settings at the suite's localstripe for one test."""
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    stripe.api_base = localstripe_url
    yield localstripe_url


@pytest.fixture
def holder(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def account(holder):
    """An AdvanceConnect account of `holder`, open and unfunded."""
    return account_open(holder=holder)


@pytest.fixture
def calls(db):
    return Calls()


@pytest.fixture
def facility(db):
    """A paid facility: $0.21/min + 6.35% tax, 15-minute calls, cell phones allowed."""
    facility = FacilityFactory()
    RatePlanFactory(facility=facility, rate_per_minute=Decimal("0.21"), tax_rate=Decimal("0.0635"))
    return facility


@pytest.fixture
def inmate(facility):
    return InmateFactory(facility=facility, first_name="John", last_name="Roe")


@pytest.fixture(autouse=True)
def _default_language():
    """A request served in Spanish leaves Spanish active on the thread: start each test in English."""
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture(autouse=True)
def _clear_sms_outbox():
    text_backends.outbox.clear()
    yield
    text_backends.outbox.clear()


@pytest.fixture
def twilio_api(settings):
    """Outgoing texts and calls through the real Twilio client, to a local recording server."""
    api = TwilioApi()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_API_BASE = api.url
    settings.TWILIO_TIMEOUT_SECONDS = 0.5
    yield api
    api.close()


@pytest.fixture(autouse=True)
def _celery_join_flag():
    """Celery marks "inside a task" with one process-wide flag that each eager task sets and then puts
    back as it found it. Eager tasks run after commit on several threads at once (the concurrency
    tests) can put it back in the wrong order and leave it set, so a later test's `.get()` is refused
    as if called inside a task: each test starts with it cleared."""
    _set_task_join_will_block(False)
    yield


@pytest.fixture(autouse=True)
def _clear_cache():
    yield
    with contextlib.suppress(Exception):  # a test may have stopped Redis on purpose
        cache.clear()


@pytest.fixture
def chromium():
    """Debian's Chromium driven by Playwright (its own browser download is never used)."""
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            # Queries the test made while Playwright's loop ran used connections of their own:
            # close them here, in the same context, so the test database can be dropped at the end.
            connections.close_all()
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        connections.close_all()


def _forget_connections():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(settings):
    """The broker (Redis) unreachable: a closed port, tasks no longer run in-process."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.broker_connection_retry, conf.broker_connection_timeout)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    conf.broker_url = "redis://127.0.0.1:9/0"
    conf.task_always_eager = False
    conf.broker_connection_timeout = 1
    _forget_connections()
    yield
    _forget_connections()
    conf.broker_url, conf.task_always_eager, conf.broker_connection_retry, conf.broker_connection_timeout = saved
