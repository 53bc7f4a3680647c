from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Money, ledger and payments"

    def ready(self) -> None:
        # What a package calls back in one above it is registered from an app's `hooks` module
        # (billing/hooks.py: a Direct Bill payment ends dunning), found as the admin finds `admin`.
        autodiscover_modules("hooks")
