from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("fund/", views.fund, name="fund"),
    path("fund/pay/", views.fund_pay, name="fund_pay"),
    path("payments/<int:pk>/", views.receipt, name="receipt"),
    path("payments/<int:pk>/authenticate/", views.authenticate, name="authenticate"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
