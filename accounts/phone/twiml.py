"""One voice webhook request: the call's session, its language, and the TwiML answer built with
Twilio's VoiceResponse. Every prompt goes through `Call.say`, so it is read in the caller's
language by a voice of that language."""

from collections.abc import Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from twilio.twiml.voice_response import Gather, VoiceResponse

from accounts.models import PhoneSession

from .speech import VOICE_LANGUAGES

MENU_TIMEOUT_SECONDS = 6
ENTRY_TIMEOUT_SECONDS = 10
# A menu unanswered this many times in a row ends the call politely.
MAX_SILENCES = 3


def webhook_url(request: HttpRequest, name: str, **query) -> str:
    """The absolute address of a webhook, as Twilio will call it (and sign it): under PUBLIC_BASE_URL
    behind the proxy, else the address this request came to."""
    path = reverse(f"phone:{name}")
    if query:
        path += "?" + urlencode(query)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


class Call:
    """The request Twilio sent, and the session of the call it belongs to."""

    def __init__(self, request: HttpRequest, session: PhoneSession):
        self.request = request
        self.session = session

    @property
    def language(self) -> str:
        return self.session.language

    @property
    def account(self):
        return self.session.account

    @property
    def digits(self) -> str:
        return self.request.POST.get("Digits", "")

    def param(self, name: str, default: str = "") -> str:
        return self.request.GET.get(name, default)

    def url(self, name: str, **query) -> str:
        return webhook_url(self.request, name, **query)

    def say(self, target: VoiceResponse | Gather, *texts: str, language: str | None = None) -> None:
        language = language or self.language
        for text in texts:
            if text:
                target.say(text, language=VOICE_LANGUAGES[language])

    def gather(
        self,
        response: VoiceResponse,
        action: str,
        *,
        num_digits: int = 1,
        finish_on_key: str = "",
        timeout: int = MENU_TIMEOUT_SECONDS,
    ) -> Gather:
        attributes: dict[str, int | str] = {"num_digits": num_digits}
        if finish_on_key:
            attributes["finish_on_key"] = finish_on_key
        # Without a key pressed Twilio goes on with the verb after the Gather: each menu puts its
        # "we did not hear you" redirect there.
        return response.gather(input="dtmf", action=action, method="POST", timeout=timeout, **attributes)

    def redirect(self, response: VoiceResponse, name: str, **query) -> VoiceResponse:
        response.redirect(self.url(name, **query), method="POST")
        return response


def twiml(response: VoiceResponse) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def spoken(language: str, build) -> VoiceResponse:
    """Build a response with `language` active, so every gettext in `build` is in that language."""
    with translation.override(language):
        return build()


def join(parts: Iterable[str]) -> str:
    return " ".join(part for part in parts if part)
