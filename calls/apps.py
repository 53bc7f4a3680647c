from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Facilities and calls"

    def ready(self) -> None:
        # What the call path calls back into an app above it, found as the admin finds each app's
        # `admin` module, so this layer imports none of them: `callbacks` registers, for one, the
        # function that records a single call's refund (a billing row).
        autodiscover_modules("callbacks")
