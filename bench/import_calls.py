"""How fast `manage.py import_calls` charges a bulk file of call records, next to pgbench's tpcb-like
rate on the same server in the same run (one client, as the import is one process).

On a scratch database (dropped afterwards): --accounts funded accounts with one number each, one
facility and inmate, a --rows CSV of finished calls spread over the numbers; then one import, timed,
and the ledger check. Prints rows/s, the ratio to pgbench's transactions/s, and asserts nothing.

Run: `.venv/bin/python bench/import_calls.py [--rows 100000] [--accounts 1000] [--seconds 10]`
"""

import argparse
import datetime
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from ledger_post import SERVER_URL, _psql, pgbench_tps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "familyline_bench_import"


def _setup(accounts: int) -> tuple[str, list[str]]:
    import django

    django.setup()
    from decimal import Decimal

    from django.core.management import call_command

    from accounts.models import AccountStatus, PhoneNumber, User
    from accounts.services import account_open
    from billing.ledger import kernel as ledger
    from billing.ledger.models import EntryKind, SystemAccount
    from calls.models import Facility, Inmate, RatePlan

    call_command("migrate", verbosity=0)
    facility = Facility.objects.create(
        code="BENCH-IMPORT", name="Bench", town="Bench", state="TX", facility_type="jail", size_tier="large"
    )
    RatePlan.objects.create(
        facility=facility,
        name="Bench",
        rate_per_minute=Decimal("0.06"),
        tax_rate=Decimal("0.0625"),
        effective_from_date=datetime.date(2020, 1, 1),
    )
    Inmate.objects.create(facility=facility, inmate_number="1", first_name="Bench", last_name="Inmate")
    card = ledger.system_account(SystemAccount.CARD_CLEARING)
    numbers = []
    for n in range(accounts):
        account = account_open(holder=User.objects.create_user(email=f"import-{n}@example.com"))
        account.status = AccountStatus.ACTIVE
        account.save(update_fields=["status"])
        ledger.post(
            idempotency_key=f"bench-deposit:{n}",
            kind=EntryKind.PAYMENT,
            lines=[(card, -10_000_000), (ledger.account_ledger(account), 10_000_000)],
        )
        numbers.append(f"+1512{5_000_000 + n:07d}")
        PhoneNumber.objects.create(account=account, number=numbers[-1], line_type="landline")
    PhoneNumber.objects.update(added_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    return facility.code, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="pgbench run length")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = urlparse(SERVER_URL)._replace(path=f"/{BENCH_DB}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _psql(f"CREATE DATABASE {BENCH_DB}")
    try:
        code, numbers = _setup(args.accounts)
        from django.core.management import call_command
        from django.db import connection, connections, reset_queries
        from django.test.utils import CaptureQueriesContext

        from billing.ledger import kernel as ledger
        from calls.models import CallRecord

        started = datetime.datetime(2026, 1, 5, 14, tzinfo=datetime.UTC)
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
            handle.write("call_id,facility,inmate,dialed_number,started_at,duration_seconds,disconnect\n")
            for n in range(args.rows):
                at = (started + datetime.timedelta(seconds=n)).isoformat()
                handle.write(f"imp-{n},{code},1,{numbers[n % len(numbers)]},{at},{30 + n % 870},normal\n")
        out, err = io.StringIO(), io.StringIO()
        reset_queries()
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            call_command("import_calls", handle.name, stdout=out, stderr=err)
        seconds = time.perf_counter() - began
        os.unlink(handle.name)
        violations = ledger.check()
        recorded = CallRecord.objects.count()
        connections.close_all()
    finally:
        from django.db import connections

        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    tps = pgbench_tps(args.seconds, 1)
    rate = args.rows / seconds
    print(
        f"import_calls: {args.rows:,} rows in {seconds:.1f} s = {rate:,.0f} rows/s ({recorded:,} recorded, "
        f"{len(captured):,} SQL statements, {args.accounts:,} accounts)"
    )
    print(f"  {out.getvalue().splitlines()[0]}")
    print(f"pgbench tpcb-like (1 client): {tps:,.0f} transactions/s")
    print(f"ratio import rows/s / pgbench tps: {rate / tps:.2f}")
    if violations:
        raise SystemExit(f"ledger invariants broken: {violations[:3]}")
    print("ledger check: clean")


if __name__ == "__main__":
    main()
