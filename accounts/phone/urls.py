from django.urls import path

from . import called, pins, simulator, voice

app_name = "phone"

# Twilio's voice webhooks: configure the number's "A call comes in" with /phone/voice/ (POST).
urlpatterns = [
    path("voice/", voice.voice_incoming, name="voice_incoming"),
    path("voice/start/", voice.voice_start, name="voice_start"),
    path("voice/number/", voice.voice_number, name="voice_number"),
    path("voice/pin/", voice.voice_pin, name="voice_pin"),
    path("voice/menu/", voice.voice_menu, name="voice_menu"),
    path("voice/menu/choice/", voice.voice_choice, name="voice_choice"),
    path("voice/pay/amount/", voice.voice_pay_amount, name="voice_pay_amount"),
    path("voice/pay/confirm/", voice.voice_pay_confirm, name="voice_pay_confirm"),
    path("voice/pay/done/", voice.voice_pay_done, name="voice_pay_done"),
    path("voice/pay/status/", voice.voice_pay_status, name="voice_pay_status"),
    # For the called person (no account, no PIN): block or unblock calls to their number, and the
    # single call (a platform may transfer the called person straight to /phone/voice/single-call/).
    path("voice/block/", called.voice_block, name="voice_block"),
    path("voice/single-call/", called.voice_single_call, name="voice_single_call"),
    path("voice/single-call/confirm/", called.voice_single_call_confirm, name="voice_single_call_confirm"),
    path("voice/single-call/paid/", called.voice_single_call_paid, name="voice_single_call_paid"),
    # The holder's PIN and locks (on the web, logged in).
    path("pin/<int:pk>/", pins.phone_pin, name="pin"),
    # Under `make run` (or for staff): play the menu in a browser, as a chosen caller.
    path("try/", simulator.phone_try, name="try"),
]
