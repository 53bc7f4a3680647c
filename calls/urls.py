from django.urls import path

from . import views

app_name = "calls"

urlpatterns = [
    path("accounts/<int:pk>/history/", views.history, name="history"),
    path("accounts/<int:pk>/history/calls.csv", views.history_calls_csv, name="history_calls_csv"),
    path("accounts/<int:pk>/history/payments.csv", views.history_payments_csv, name="history_payments_csv"),
    path("accounts/<int:pk>/sponsorships/", views.sponsorships, name="sponsorships"),
    path("sponsorships/<int:pk>/end/", views.sponsorship_end, name="sponsorship_end"),
    path("sponsorships/<int:pk>/limit/", views.sponsorship_cap, name="sponsorship_cap"),
]
