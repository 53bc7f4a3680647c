from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """The money kernel as an app of its own: ledger accounts, journal entries, postings and holds."""

    name = "billing.ledger"
    label = "ledger"
    verbose_name = "Ledger"
