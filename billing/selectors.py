from . import ledger

# Other apps register invariants of their own here (e.g. "each external payment id applied once").
EXTRA_LEDGER_CHECKS: list = []


def ledger_violations() -> list[ledger.Violation]:
    return ledger.check(EXTRA_LEDGER_CHECKS)
