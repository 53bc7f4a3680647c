from django.contrib import admin
from django.urls import include, path

from accounts.security import admin_site_harden

urlpatterns = [
    path("", include("accounts.urls")),
    path("billing/", include("billing.urls")),
    path("calls/", include("calls.urls")),
    path("texts/", include("accounts.text_urls")),
    path("block/", include("calls.block_urls")),
    path("api/v1/", include("calls.api.urls")),
    path("phone/", include("accounts.phone.urls")),
    path("auth/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "FamilyLine staff"
admin.site.site_title = "FamilyLine staff"
# Every admin form refuses control characters (NUL included) with a field error.
admin_site_harden(admin.site)
