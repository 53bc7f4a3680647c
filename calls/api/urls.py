from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from .views import AuthorizeView, CompleteView, not_found, ping

app_name = "api"

urlpatterns = [
    path("calls/authorize", AuthorizeView.as_view(), name="calls-authorize"),
    path("calls/complete", CompleteView.as_view(), name="calls-complete"),
    path("ping", ping, name="ping"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^(?P<path>.*)$", not_found),
]
