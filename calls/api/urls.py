from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from .views import AuthorizeView, CompleteView, ping

app_name = "api"

urlpatterns = [
    path("calls/authorize", AuthorizeView.as_view(), name="calls-authorize"),
    path("calls/complete", CompleteView.as_view(), name="calls-complete"),
    path("ping", ping, name="ping"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]
