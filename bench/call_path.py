"""How many calls per second the real-time call path handles (authorize, then complete), next to
pgbench's built-in tpcb-like debit/credit on the same server in the same run.

Run: `.venv/bin/python bench/call_path.py [--seconds 10] [--workers 4] [--accounts 200]`
Uses scratch databases on DATABASE_URL's server and drops them afterwards; bounded by --seconds
per phase. Prints figures and a ratio; asserts nothing about speed.
"""

import argparse
import datetime
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from ledger_post import SERVER_URL, _psql, pgbench_tps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "familyline_bench_calls"


def call_pairs_per_second(seconds: int, workers: int, accounts: int) -> dict:
    url = urlparse(SERVER_URL)
    os.environ["DATABASE_URL"] = url._replace(path=f"/{BENCH_DB}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _psql(f"CREATE DATABASE {BENCH_DB}")
    try:
        return _run(seconds, workers, accounts)
    finally:
        from django.db import connections

        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def _run(seconds: int, workers: int, accounts: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from fixtures import INMATE, bench_facility, funded_accounts

    from billing.ledger import kernel as ledger
    from calls.callpath.authorize import call_authorize
    from calls.callpath.complete import call_complete
    from calls.selectors import facility_cache_clear

    call_command("migrate", verbosity=0)
    code = f"BENCH-{os.getpid()}"
    bench_facility(code)
    numbers = funded_accounts(accounts, funds_cents=1_000_000)

    stop_at = time.monotonic() + seconds

    def work(t: int, results) -> None:
        # Each worker is a process, as gunicorn workers are: the GIL does not serialize them.
        i, denied, latencies = 0, 0, []
        while time.monotonic() < stop_at:
            call_id = f"bench-{t}-{i}"
            number = numbers[(t + i * workers) % accounts]
            began = time.perf_counter()
            answer = call_authorize(call_id=call_id, facility_code=code, inmate_number=INMATE, dialed_number=number)
            if answer.allowed:
                call_complete(
                    call_id=call_id,
                    facility_code=code,
                    inmate_number=INMATE,
                    dialed_number=number,
                    started_at=datetime.datetime.now(datetime.UTC),
                    duration_seconds=185,
                    disconnect="normal",
                )
            else:
                denied += 1
            latencies.append(time.perf_counter() - began)
            i += 1
        connections.close_all()
        results.put((i, denied, latencies))

    connections.close_all()  # a forked child must open its own connection
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=work, args=(t, results)) for t in range(workers)]
    started = time.monotonic()
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join()
    elapsed = time.monotonic() - started
    counts = [count for count, _, _ in outcomes]
    denials = [denied for _, denied, _ in outcomes]
    latencies = [per_worker for _, _, per_worker in outcomes]
    violations = ledger.check()
    facility_cache_clear(codes=[code])
    if violations:
        raise SystemExit(f"ledger invariants broken during the benchmark: {violations[:3]}")
    if sum(denials):
        raise SystemExit(f"{sum(denials)} calls were denied: the bench accounts ran out of funds")
    flat = sorted(x for per_thread in latencies for x in per_thread)
    return {
        "pairs": sum(counts),
        "per_second": sum(counts) / elapsed,
        "p50_ms": statistics.median(flat) * 1000,
        "p99_ms": flat[int(len(flat) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="processes (and pgbench clients)")
    parser.add_argument("--accounts", type=int, default=200, help="funded accounts the calls spread over")
    args = parser.parse_args()
    calls = call_pairs_per_second(args.seconds, args.workers, args.accounts)
    tps = pgbench_tps(args.seconds, args.workers)
    print(
        f"call path (authorize + complete): {calls['per_second']:,.0f} calls/s ({calls['pairs']:,} in "
        f"{args.seconds}s, {args.workers} processes, {args.accounts} accounts; "
        f"p50 {calls['p50_ms']:.1f} ms, p99 {calls['p99_ms']:.1f} ms per call)"
    )
    print(f"pgbench tpcb-like:                {tps:,.0f} transactions/s ({args.workers} clients)")
    print(f"ratio calls/pgbench:              {calls['per_second'] / tps:.2f}")


if __name__ == "__main__":
    main()
