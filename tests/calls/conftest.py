import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from calls.tokens import platform_token_create


@pytest.fixture
def connecticut(db):
    """The Connecticut DOC facilities of the data migration (recreated: transactional tests flush)."""
    migration = importlib.import_module("calls.migrations.0002_connecticut_facilities")
    migration.forward(apps, None)
    return apps.get_model("calls", "Facility").objects.get(code="CT-HFD")


@pytest.fixture
def platform_token(db):
    token, raw = platform_token_create(name="Test platform", actor=None)
    return raw


@pytest.fixture
def api(platform_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform_token}")
    return client


class TwilioStandIn:
    """A small local HTTP server standing in for Twilio's REST API: it records each request and
    answers Lookup v2 with the JSON Twilio documents (`line_types` maps a number to its
    `line_type_intelligence.type`; a number not in it is a landline)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.line_types: dict[str, str] = {}
        self.failing = False  # answer Twilio's documented 500 error instead
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                url = urlsplit(self.path)
                stand_in.requests.append(
                    {
                        "method": "GET",
                        "path": unquote(url.path),
                        "query": parse_qs(url.query),
                        "headers": dict(self.headers),
                    }
                )
                number = unquote(url.path).rsplit("/", 1)[-1]
                if stand_in.failing:
                    status, answer = 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
                else:
                    status, answer = 200, stand_in.lookup_answer(number)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def lookup_answer(self, number: str) -> dict:
        carrier_type = self.line_types.get(number, "landline")
        return {
            "calling_country_code": "1",
            "country_code": "US",
            "phone_number": number,
            "national_format": f"({number[2:5]}) {number[5:8]}-{number[8:]}",
            "valid": True,
            "validation_errors": [],
            "caller_name": None,
            "sim_swap": None,
            "call_forwarding": None,
            "line_status": None,
            "line_type_intelligence": {
                "error_code": None,
                "mobile_country_code": "310" if carrier_type == "mobile" else None,
                "mobile_network_code": "456" if carrier_type == "mobile" else None,
                "carrier_name": "Example Wireless" if carrier_type == "mobile" else "Example Telephone",
                "type": carrier_type,
            },
            "identity_match": None,
            "reassigned_number": None,
            "sms_pumping_risk": None,
            "phone_number_quality_score": None,
            "pre_fill": None,
            "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}",
        }

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio_server(settings):
    """Twilio's REST client pointed at a local recording server for one test."""
    stand_in = TwilioStandIn()
    settings.TWILIO_API_BASE = stand_in.url
    yield stand_in
    stand_in.close()
