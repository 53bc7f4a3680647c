import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stripe

from tests.factories import UserFactory

VENV_BIN = Path(sys.executable).parent


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


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    yield
    with contextlib.suppress(Exception):  # a test may have stopped Redis on purpose
        cache.clear()
