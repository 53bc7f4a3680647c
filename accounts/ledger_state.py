"""What the ledger kernel reads of a calling account when it places a hold: the account's standing
(status, suspension, activation) and its credit limit, read under the account's ledger-row lock in
the statement that reads the open holds. The kernel knows no other app's table: this module tells
it which (found by the ledger app when the apps are ready)."""

from django.db.models import Field

from billing.ledger import kernel as ledger

from .models import CallingAccount

STANDING_COLUMNS = ("status", "suspension_code", "activates_at")


def _column(name: str) -> str:
    field = CallingAccount._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None, "a concrete field has a column"
    return field.column


ledger.account_state_register(
    ledger.AccountState(
        table=CallingAccount._meta.db_table,
        columns=tuple(_column(name) for name in STANDING_COLUMNS),
        credit_limit=_column("credit_limit_cents"),
    )
)
