"""Where outgoing texts and voice calls go, chosen by the SMS_BACKEND setting as Django chooses an email
backend: "twilio" (the real REST client), "console" (printed, as under `make run`), "file" (one JSON
file per message in SMS_FILE_PATH, for black-box tests) or "locmem" (kept in `outbox`, for unit tests).

A backend answers in one of three ways, which decide whether a message may ever be tried again: a
message id (sent), SendRefused (the provider said no: nothing went out), or SendUnclear (a timeout, a
dropped connection, a server error: it may or may not have gone out, so it is never re-sent by itself).
"""

import json
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.utils import timezone
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# Twilio's error code for a number that replied STOP: nothing may be sent to it until it replies START.
OPTED_OUT_ERROR = 21610


class SendRefused(Exception):
    """The provider refused the message: it was not sent."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class SendUnclear(Exception):
    """No clear answer (timeout, connection lost, provider error): the message may have gone out."""


@dataclass(frozen=True)
class Outgoing:
    """One text or voice call, as a backend receives it."""

    kind: str  # "sms" or "voice"
    to: str
    body: str  # the text, or what the voice call says
    status_callback: str = ""


class BaseBackend:
    def send(self, outgoing: Outgoing) -> str:
        """Send one text or place one call; returns the provider's id for it."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Prints each message, like Django's console email backend."""

    def __init__(self, stream=None):
        self.stream = stream

    def send(self, outgoing: Outgoing) -> str:
        stream = self.stream or sys.stdout
        what = "Text" if outgoing.kind == "sms" else "Voice call"
        stream.write(f"{what} to {outgoing.to} from {settings.TWILIO_PHONE_NUMBER or 'FamilyLine'}\n")
        stream.write(f"{outgoing.body}\n{'-' * 79}\n")
        stream.flush()
        return f"console-{uuid.uuid4().hex}"


class FileBackend(BaseBackend):
    """Writes each message as a JSON file in SMS_FILE_PATH (named by time, so they sort)."""

    def send(self, outgoing: Outgoing) -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        sid = f"file-{uuid.uuid4().hex}"
        record = {"sid": sid, "kind": outgoing.kind, "to": outgoing.to, "body": outgoing.body}
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
        (folder / f"{stamp}-{sid}.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        return sid


# What the locmem backend sent, oldest first (tests read and clear it, as Django's mail.outbox).
outbox: list[Outgoing] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BaseBackend):
    def send(self, outgoing: Outgoing) -> str:
        with _outbox_lock:
            outbox.append(outgoing)
        return f"locmem-{uuid.uuid4().hex}"


class BaseUrlHttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, sending every request to another base URL (TWILIO_API_BASE: a local
    server in tests) with the same path and query."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def twilio_client(*, timeout: float) -> Client:
    """The `twilio` REST client with the account's credentials, its requests sent to TWILIO_API_BASE
    when that is set, each given up on after `timeout` seconds."""
    if settings.TWILIO_API_BASE:
        http_client: TwilioHttpClient = BaseUrlHttpClient(settings.TWILIO_API_BASE, timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


class TwilioBackend(BaseBackend):
    """Twilio Messaging and Voice through the `twilio` library."""

    def __init__(self):
        self.client = twilio_client(timeout=settings.TWILIO_TIMEOUT_SECONDS)

    def send(self, outgoing: Outgoing) -> str:
        callback = {"status_callback": outgoing.status_callback} if outgoing.status_callback else {}
        try:
            if outgoing.kind == "voice":
                created = self.client.calls.create(
                    to=outgoing.to, from_=settings.TWILIO_PHONE_NUMBER, twiml=outgoing.body, **callback
                )
            else:
                created = self.client.messages.create(
                    to=outgoing.to, from_=settings.TWILIO_PHONE_NUMBER, body=outgoing.body, **callback
                )
        except TwilioRestException as exc:
            if exc.status >= 500:
                raise SendUnclear(f"Twilio answered {exc.status}: {exc.msg}") from exc
            raise SendRefused(str(exc.msg), code=exc.code) from exc
        except requests.RequestException as exc:  # timeout, connection refused or dropped
            raise SendUnclear(f"{type(exc).__name__}: {exc}") from exc
        return created.sid


BACKENDS = {"twilio": TwilioBackend, "console": ConsoleBackend, "file": FileBackend, "locmem": LocmemBackend}


def backend_get() -> BaseBackend:
    try:
        backend = BACKENDS[settings.SMS_BACKEND]
    except KeyError:
        raise ValueError(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}") from None
    return backend()
