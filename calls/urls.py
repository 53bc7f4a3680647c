from django.urls import path

from . import views

app_name = "calls"

urlpatterns = [
    path("accounts/<int:pk>/history/", views.history, name="history"),
    path("accounts/<int:pk>/sponsorships/", views.sponsorships, name="sponsorships"),
    path("sponsorships/<int:pk>/end/", views.sponsorship_end, name="sponsorship_end"),
    path("sponsorships/<int:pk>/limit/", views.sponsorship_cap, name="sponsorship_cap"),
]
