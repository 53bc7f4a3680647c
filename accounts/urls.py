from django.urls import path

from . import direct_bill_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("accounts/open/", views.account_open, name="account_open"),
    path("accounts/<int:pk>/", views.account_detail, name="account_detail"),
    path("accounts/<int:pk>/close/", views.account_close, name="account_close"),
    path("numbers/<int:pk>/edit/", views.number_edit, name="number_edit"),
    path("numbers/<int:pk>/remove/", views.number_remove, name="number_remove"),
    path("direct-bill/", direct_bill_views.direct_bill_home, name="direct_bill"),
    path("direct-bill/apply/", direct_bill_views.direct_bill_apply, name="direct_bill_apply"),
    path(
        "direct-bill/applications/<int:pk>/", direct_bill_views.direct_bill_application, name="direct_bill_application"
    ),
]
