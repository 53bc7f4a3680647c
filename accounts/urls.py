from django.urls import path

from . import direct_bill_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("direct-bill/", direct_bill_views.direct_bill_home, name="direct_bill"),
    path("direct-bill/apply/", direct_bill_views.direct_bill_apply, name="direct_bill_apply"),
    path("direct-bill/applications/<int:pk>/", direct_bill_views.direct_bill_application, name="direct_bill_application"),
]
