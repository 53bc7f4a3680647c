from django.core.management.base import BaseCommand, CommandError

from billing.payments import selectors


class Command(BaseCommand):
    help = "Verify every ledger invariant; exit non-zero naming each violation."

    def handle(self, *args, **options):
        violations = selectors.ledger_violations()
        if violations:
            for violation in violations:
                self.stderr.write(f"VIOLATION {violation}")
            raise CommandError(f"{len(violations)} ledger invariant violation(s)")
        self.stdout.write(self.style.SUCCESS("Ledger OK: every entry balances and every cached balance matches."))
