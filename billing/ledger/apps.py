from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class LedgerConfig(AppConfig):
    """The money kernel as an app of its own: ledger accounts, journal entries, postings and holds."""

    name = "billing.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        # Each app's `ledger_checks` module registers the invariants of its workflows with the
        # ledger's check (as the admin finds each app's `admin` module): the kernel names none of them.
        autodiscover_modules("ledger_checks")
