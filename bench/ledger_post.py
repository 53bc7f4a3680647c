"""How fast the ledger posts charges, next to pgbench's debit/credit on the same server.

Run: `.venv/bin/python bench/ledger_post.py [--seconds 10] [--threads 4]`
Uses scratch databases on DATABASE_URL's server and drops them afterwards. Prints figures and a
ratio; asserts nothing about speed.
"""

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/familyline")
BENCH_DB = "familyline_bench_ledger"
PGBENCH_DB = "familyline_bench_pgbench"


def _pg_args() -> list[str]:
    url = urlparse(SERVER_URL)
    return ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]


def _psql(sql: str) -> None:
    subprocess.run(["psql", *_pg_args(), "-d", "postgres", "-qc", sql], check=True, capture_output=True)


def pgbench_tps(seconds: int, clients: int) -> float:
    _psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")
    _psql(f"CREATE DATABASE {PGBENCH_DB}")
    try:
        subprocess.run(["pgbench", *_pg_args(), "-i", "-q", "-s", "1", PGBENCH_DB], check=True, capture_output=True)
        out = subprocess.run(
            ["pgbench", *_pg_args(), "-T", str(seconds), "-c", str(clients), "-j", str(clients), PGBENCH_DB],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        found = re.search(r"tps = ([0-9.]+)", out)
        if found is None:
            raise RuntimeError(f"pgbench printed no tps: {out!r}")
        return float(found.group(1))
    finally:
        _psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB}")


def ledger_posts_per_second(seconds: int, threads: int, accounts: int) -> tuple[float, int]:
    url = urlparse(SERVER_URL)
    os.environ["DATABASE_URL"] = url._replace(path=f"/{BENCH_DB}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _psql(f"CREATE DATABASE {BENCH_DB}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import User
    from accounts.services import account_open
    from billing.ledger import kernel as ledger
    from billing.ledger.models import EntryKind, SystemAccount

    call_command("migrate", verbosity=0)
    # One holder per account: a holder keeps at most a few accounts open.
    holders = [User.objects.create_user(email=f"bench{n}@example.com") for n in range(accounts)]
    ledgers = [ledger.account_ledger(account_open(holder=holder)) for holder in holders]
    revenue = ledger.system_account(SystemAccount.CALL_REVENUE)
    tax = ledger.system_account(SystemAccount.TAX_PAYABLE)
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def work(n: int) -> None:
        i = 0
        while time.monotonic() < stop_at:
            target = ledgers[(n + i * threads) % accounts]
            ledger.post(
                idempotency_key=f"call:bench-{n}-{i}",
                kind=EntryKind.CALL,
                lines=[(target, -223), (revenue, 210), (tax, 13)],
            )
            i += 1
        counts[n] = i
        connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    violations = ledger.check()
    connections.close_all()
    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    if violations:
        raise SystemExit(f"ledger invariants broken during the benchmark: {violations[:3]}")
    return sum(counts) / elapsed, sum(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=100, help="calling accounts the charges spread over")
    args = parser.parse_args()
    posts, total = ledger_posts_per_second(args.seconds, args.threads, args.accounts)
    tps = pgbench_tps(args.seconds, args.threads)
    print(
        f"ledger.post (call charge, 3 postings): {posts:,.0f} entries/s ({total:,} in {args.seconds}s, "
        f"{args.threads} threads, {args.accounts} accounts)"
    )
    print(f"pgbench tpcb-like:                     {tps:,.0f} transactions/s ({args.threads} clients)")
    print(f"ratio ledger/pgbench:                  {posts / tps:.2f}")


if __name__ == "__main__":
    main()
