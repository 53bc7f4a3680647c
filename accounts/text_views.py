"""Texts on the web (a holder turns them on for a number with a code, or off) and Twilio's messaging
webhooks (what people text back, delivery statuses), signed by Twilio."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from twilio.twiml.messaging_response import MessagingResponse

from . import selectors
from .models import Language
from .phone.signatures import twilio_signed
from .security import client_ip
from .text_forms import CodeForm
from .texts import consent, inbound
from .texts.possession import PossessionError
from .texts.wording import consent_wording


def _page_language() -> str:
    language = (get_language() or "en")[:2]
    return language if language in Language.values else Language.ENGLISH


@login_required
@require_http_methods(["GET", "POST"])
def number_texts(request, pk: int):
    """Texts for one number of the holder's account: turn on (code, then confirm) or off."""
    phone = selectors.phone_number_get_for_holder(holder=request.user, pk=pk)
    action = request.POST.get("action", "")
    form = CodeForm(request.POST if action == "confirm" else None)
    code_sent = action in {"send", "confirm"}
    if action == "send":
        try:
            consent.text_opt_in_start(holder=request.user, phone=phone, client_address=client_ip(request))
        except PossessionError as exc:
            messages.error(request, str(exc))
            code_sent = False
        else:
            messages.success(request, _("We texted a code to %(number)s.") % {"number": phone.number.as_national})
    elif action == "confirm" and form.is_valid():
        try:
            consent.text_opt_in_confirm(
                holder=request.user,
                phone=phone,
                code=form.cleaned_data["code"],
                language=_page_language(),
                client_address=client_ip(request),
            )
        except PossessionError as exc:
            form.add_error("code", str(exc))
        else:
            messages.success(request, _("Texts to %(number)s are on.") % {"number": phone.number.as_national})
            return redirect("texts:number_texts", pk=phone.pk)
    elif action == "off":
        consent.text_opt_out(holder=request.user, phone=phone)
        messages.success(request, _("Texts to %(number)s are off.") % {"number": phone.number.as_national})
        return redirect("texts:number_texts", pk=phone.pk)
    context = {
        "phone": phone,
        "consent": consent.text_consent_active(phone=phone),
        "wording": consent_wording(_page_language()),
        "form": form,
        "code_sent": code_sent,
    }
    return render(request, "accounts/number_texts.html", context)


def _twiml(reply: str) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


@twilio_signed
def twilio_inbound(request):
    """A text to FamilyLine's number: STOP, START and HELP (and their synonyms) are honoured here."""
    reply = inbound.text_received(
        from_number=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
        provider_sid=request.POST.get("MessageSid", ""),
    )
    return _twiml(reply)


@twilio_signed
def twilio_status(request):
    """A message's delivery status, kept and shown to staff."""
    inbound.text_status_received(fields=request.POST.dict())
    return HttpResponse(status=204)
