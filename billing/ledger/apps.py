from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class LedgerConfig(AppConfig):
    """The money kernel as an app of its own: ledger accounts, journal entries, postings and holds."""

    name = "billing.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        # What other apps tell the kernel, found as the admin finds each app's `admin` module, so the
        # kernel names none of them: `ledger_checks` registers a workflow's invariants with the
        # ledger's check, `ledger_state` the calling account's columns a hold decision reads.
        autodiscover_modules("ledger_checks", "ledger_state")
