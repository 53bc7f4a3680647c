from django.urls import path

from . import text_views

app_name = "texts"

urlpatterns = [
    path("numbers/<int:pk>/", text_views.number_texts, name="number_texts"),
    path("twilio/inbound/", text_views.twilio_inbound, name="twilio_inbound"),
    path("twilio/status/", text_views.twilio_status, name="twilio_status"),
]
