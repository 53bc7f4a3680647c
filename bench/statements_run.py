"""How long one monthly statement run takes, and how many SQL statements it sends, at 1,000 and at
10,000 Direct Bill accounts (the statements must grow with batches, not with accounts).

For each size, on a scratch PostgreSQL database (dropped afterwards): that many active Direct Bill
accounts, each with --calls calls last month, created in bulk (the accounts through the ORM, the
entries, postings and call records by set-based SQL); then one `statements_generate_for_month` for
last month, timed, with its SQL statements counted; then the ledger check. Figures only.

Run: `.venv/bin/python bench/statements_run.py [--sizes 1000,10000] [--calls 30]`
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from ledger_post import SERVER_URL, _psql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "familyline_bench_statements"
CHARGE, TAX = 30, 2  # 5 minutes at $0.06 + 6.25 % tax


def _populate(accounts: int, calls: int, period) -> None:
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection

    from accounts.models import AccountKind, AccountStatus, CallingAccount, User
    from billing.ledger import kernel as ledger
    from billing.ledger.models import LedgerAccount, SystemAccount
    from calls.models import Facility, Inmate, RatePlan

    call_command("migrate", verbosity=0)
    facility = Facility.objects.create(
        code="BENCH-ST", name="Bench County Jail", town="Bench", state="TX", facility_type="jail", size_tier="large"
    )
    plan = RatePlan.objects.create(
        facility=facility,
        name="Bench",
        rate_per_minute=Decimal("0.06"),
        tax_rate=Decimal("0.0625"),
        effective_from_date=datetime.date(2020, 1, 1),
    )
    inmate = Inmate.objects.create(facility=facility, inmate_number="1", first_name="Bench", last_name="Inmate")
    users = User.objects.bulk_create(
        [User(email=f"st-{n}@example.com", password="!") for n in range(accounts)], batch_size=2000
    )
    opened = CallingAccount.objects.bulk_create(
        [
            CallingAccount(
                holder=u, kind=AccountKind.DIRECT_BILL, status=AccountStatus.ACTIVE, credit_limit_cents=50_000
            )
            for u in users
        ],
        batch_size=2000,
    )
    CallingAccount.objects.update(created_at=period.starts_at - datetime.timedelta(days=20))
    LedgerAccount.objects.bulk_create(
        [LedgerAccount(code=f"account:{a.pk}", name=f"#{a.pk}", calling_account=a, balance_cents=0) for a in opened],
        batch_size=2000,
    )
    revenue, tax = ledger.system_accounts(SystemAccount.CALL_REVENUE, SystemAccount.TAX_PAYABLE)
    first_call = period.starts_at + datetime.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_journalentry (idempotency_key, kind, memo, created_at) "
            "SELECT 'call:st-' || l.id || '-' || g, 'call', 'bench', %s + g * interval '17 minutes' "
            "FROM billing_ledgeraccount l CROSS JOIN generate_series(1, %s) g WHERE l.calling_account_id IS NOT NULL",
            [first_call, calls],
        )
        keyed = "FROM billing_journalentry e WHERE e.idempotency_key LIKE 'call:st-%%'"
        cursor.execute(
            "INSERT INTO billing_posting (entry_id, ledger_account_id, amount_cents) "
            f"SELECT e.id, split_part(e.idempotency_key, '-', 2)::bigint, %s {keyed} "
            f"UNION ALL SELECT e.id, %s, %s {keyed} UNION ALL SELECT e.id, %s, %s {keyed}",
            [-(CHARGE + TAX), revenue.pk, CHARGE, tax.pk, TAX],
        )
        cursor.execute(
            "INSERT INTO calls_callrecord (call_id, account_id, facility_id, inmate_id, dialed_number, started_at, "
            "duration_seconds, disconnect, billing, rate_plan_id, rate_per_minute, tax_rate, billable_minutes, "
            "charge_cents, tax_cents, entry_id, source, completed_at) "
            "SELECT substr(e.idempotency_key, 6), l.calling_account_id, %s, %s, '+15125550100', e.created_at, 300, "
            "'normal', 'direct_bill', %s, 0.06, 0.0625, 5, %s, %s, e.id, 'import', e.created_at "
            "FROM billing_journalentry e JOIN billing_ledgeraccount l "
            "ON l.id = split_part(e.idempotency_key, '-', 2)::bigint WHERE e.idempotency_key LIKE 'call:st-%%'",
            [facility.pk, inmate.pk, plan.pk, CHARGE, TAX],
        )
        cursor.execute(
            "UPDATE billing_ledgeraccount SET balance_cents = %s WHERE calling_account_id IS NOT NULL",
            [-(CHARGE + TAX) * calls],
        )
        cursor.execute("ANALYZE")


def _one_size(accounts: int, calls: int) -> dict:
    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from billing.ledger import kernel as ledger
    from billing.statements.models import Statement, StatementLine
    from billing.statements.periods import previous_month
    from billing.statements.services import statements_generate_for_month

    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _psql(f"CREATE DATABASE {BENCH_DB}")
    try:
        now = timezone.now()
        period = previous_month(now)
        began = time.perf_counter()
        _populate(accounts, calls, period)
        populated = time.perf_counter() - began
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            created = statements_generate_for_month(period=period, now=now)
        seconds = time.perf_counter() - began
        lines = StatementLine.objects.count()
        assert Statement.objects.count() == len(created) == accounts
        violations = ledger.check()
        if violations:
            raise SystemExit(f"ledger invariants broken: {violations[:3]}")
        return {"seconds": seconds, "statements": len(captured), "lines": lines, "populate": populated}
    finally:
        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="account counts, comma-separated")
    parser.add_argument("--calls", type=int, default=30, help="calls per account in the month")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = urlparse(SERVER_URL)._replace(path=f"/{BENCH_DB}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/10")
    import django

    django.setup()
    from accounts import outbox
    from billing.statements.services import BATCH_ACCOUNTS

    # The emails are the outbox's work after commit (a worker drains it); here they stay queued, so
    # the figures are the run's own.
    outbox._kick = lambda: None

    print(f"monthly statement run, {args.calls} calls per account, batches of {BATCH_ACCOUNTS} accounts")
    for size in (int(x) for x in args.sizes.split(",")):
        r = _one_size(size, args.calls)
        print(
            f"{size:>7,} accounts, {size * args.calls:>9,} calls: {r['seconds']:6.1f} s, "
            f"{r['statements']:>6,} SQL statements ({r['statements'] / size:.3f} per account), "
            f"{r['lines']:,} statement lines  [data set up in {r['populate']:.0f} s]"
        )


if __name__ == "__main__":
    main()
