from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Money, ledger and payments"

    def ready(self) -> None:
        # What lower code calls back in a package above it is registered from an app's `callbacks`
        # module (billing/callbacks.py: a Direct Bill payment ends dunning), found as the admin finds
        # `admin` modules. The name is ours alone: no installed library has such a module.
        autodiscover_modules("callbacks")
