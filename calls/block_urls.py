from django.urls import path

from . import block_views

app_name = "blocks"

urlpatterns = [
    path("", block_views.block_start, name="block_start"),
    path("code/", block_views.block_code, name="block_code"),
]
