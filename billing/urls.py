from django.urls import path

from billing.payments import reload_views, views, webhook_views
from billing.statements import call_credit_views
from billing.statements import views as statement_views

app_name = "billing"

urlpatterns = [
    path("fund/", views.fund, name="fund"),
    path("fund/pay/", views.fund_pay, name="fund_pay"),
    path("cards/setup/", views.card_setup, name="card_setup"),
    path("payments/<int:pk>/", views.receipt, name="receipt"),
    path("payments/<int:pk>/authenticate/", views.authenticate, name="authenticate"),
    path("payments/<int:pk>/cancel/", views.payment_cancel, name="payment_cancel"),
    path("accounts/<int:pk>/alerts/", reload_views.alerts_page, name="alerts"),
    path("stripe/webhook/", webhook_views.stripe_webhook, name="stripe_webhook"),
    path("calls/<int:pk>/credit/", call_credit_views.call_credit_request, name="call_credit_request"),
    path("statements/", statement_views.statement_list, name="statement_list"),
    path("statements/<int:pk>/", statement_views.statement_detail, name="statement_detail"),
    path("statements/<int:pk>/pdf/", statement_views.statement_pdf, name="statement_pdf"),
    path("statements/<int:pk>/pay/", statement_views.statement_pay, name="statement_pay"),
    path("statements/<int:pk>/pay/confirm/", statement_views.statement_pay_confirm, name="statement_pay_confirm"),
]
