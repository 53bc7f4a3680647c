"""The platform API over HTTP, the way the phone platform calls it: gunicorn with production settings
on PostgreSQL, driven by `wrk`, next to the framework's floor and the database's own rate.

In one run, on a scratch database (dropped afterwards) with --accounts funded AdvanceConnect accounts
each holding one number:
  (a) GET /api/v1/ping: a trivial Django view through the same middleware;
  (b) POST /api/v1/calls/authorize, a unique call_id per request, spread over the accounts;
  (c) POST /api/v1/calls/complete for those call ids (its hold released, the call charged);
  (d) pgbench tpcb-like at the same concurrency;
then (b) and (c) again at --latency-connections for the latency goal. Prints requests/s,
p50/p90/p99, the CPU time per request of the app server and of the database server, and the
ratios; then checks that every allowed authorize placed exactly one hold and that
`manage.py ledger_check` is clean. Everything listens on 127.0.0.1 only; each phase lasts --seconds.

Needs Debian's wrk (`apt-get install -y wrk`) and pgbench (postgresql-client).
Run: `make bench` or `.venv/bin/python bench/api_http.py [--seconds 10] [--connections 16]`
Figures only: nothing here asserts on speed.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from ledger_post import SERVER_URL, _psql, pgbench_tps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "familyline_bench_http"
INMATE = "1"  # bench/fixtures.py's inmate (that module needs django.setup() to import)
FUNDS_CENTS = 1_000_000

LUA = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  n = 0; ok = 0; allowed = 0; bad = 0
end
function request()
  n = n + 1
  local cid = string.format("%s-%d-%d", PREFIX, tid, n)
  local number = string.format("+1512%07d", 5000000 + ((n * NTHREADS + tid) % ACCOUNTS))
  if METHOD == "GET" then
    return wrk.format("GET", PATH, HEADERS)
  end
  local body = string.format(BODY, cid, number)
  return wrk.format("POST", PATH, HEADERS, body)
end
function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if string.find(body, '"decision":"allow"', 1, true) then allowed = allowed + 1 end
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local t_ok, t_allowed, t_bad = 0, 0, 0
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok"); t_allowed = t_allowed + t:get("allowed"); t_bad = t_bad + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "ok": %d, "allowed": %d, "bad": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, t_ok, t_allowed, t_bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout))
end
"""


def _bench_env(db_url: str, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        DJANGO_SECRET_KEY="bench-only-not-secret",
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_PUBLISHABLE_KEY="pk_test_bench",
        STRIPE_WEBHOOK_SECRET="whsec_bench",
        PLATFORM_TOKEN_RATE_PER_SECOND="0",
        LOG_LEVEL="WARNING",
    )
    return env


def _setup_data(accounts: int) -> tuple[str, str]:
    """Migrate, then the benchmark's facility and `accounts` funded active accounts (bench/fixtures.py)
    and a platform token. Returns (facility code, raw token)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from fixtures import bench_facility, funded_accounts

    from calls import tokens

    call_command("migrate", verbosity=0)
    code = f"BENCH-{os.getpid()}"
    bench_facility(code)
    funded_accounts(accounts, funds_cents=FUNDS_CENTS)
    _, raw = tokens.platform_token_create(name="Bench platform", actor=None)
    connections.close_all()
    return code, raw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ask = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # behind a TLS proxy
            with urllib.request.urlopen(ask, timeout=1) as answer:  # noqa: S310 - loopback only
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU time (user + system) used so far by each app server (gunicorn) and database server
    (postgres) process on this machine, by pid, from /proc (Linux)."""
    used = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        side = "db" if name.startswith("postgres") else "app" if b"gunicorn" in cmdline else None
        if side:
            used[int(entry.name)] = (side, (int(fields[11]) + int(fields[12])) / _TICKS)
    return used


def _cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds each side used between two `_cpu_seconds` readings (a process that ended in
    between is not counted; one that started is counted whole)."""
    used = {"app": 0.0, "db": 0.0}
    for pid, (side, seconds) in after.items():
        earlier = before.get(pid)
        used[side] += seconds - (earlier[1] if earlier and earlier[0] == side else 0.0)
    return used


def _wrk(base: str, *, path: str, method: str, prefix: str, body: str, token: str, accounts: int, args, conns: int):
    """One wrk phase; its figures, with the CPU time per request the app and the database used."""
    before = _cpu_seconds()
    result = _wrk_run(
        base, path=path, method=method, prefix=prefix, body=body, token=token, accounts=accounts, args=args, conns=conns
    )
    used = _cpu_used(before, _cpu_seconds())
    for side in ("app", "db"):
        result[f"{side}_cpu_us"] = used[side] / max(1, result["requests"]) * 1e6
    return result


def _wrk_run(base: str, *, path: str, method: str, prefix: str, body: str, token: str, accounts: int, args, conns: int):
    threads = min(2, conns)
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
    if method == "POST":
        headers["Content-Type"] = "application/json"
    lua_headers = "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"
    script = (
        f"PREFIX = {json.dumps(prefix)}\nPATH = {json.dumps(path)}\nMETHOD = {json.dumps(method)}\n"
        f"BODY = {json.dumps(body)}\nHEADERS = {lua_headers}\nNTHREADS = {threads}\nACCOUNTS = {accounts}\n" + LUA
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{args.seconds}s", "--timeout", "10s"]
            + ["-s", handle.name, base + path],
            check=True,
            capture_output=True,
            text=True,
            timeout=args.seconds + 60,
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = json.loads(line[len("BENCH ") :])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _line(name: str, r: dict, conns: int) -> str:
    extra = f", {r['bad']} non-200" if r["bad"] else ""
    extra += f", {r['socket_errors']} socket errors" if r["socket_errors"] else ""
    return (
        f"{name:<28} {r['rps']:>8,.0f} req/s  p50 {r['p50'] / 1000:6.1f} ms  p90 {r['p90'] / 1000:6.1f} ms  "
        f"p99 {r['p99'] / 1000:6.1f} ms  cpu/request app {r['app_cpu_us']:5,.0f} us db {r['db_cpu_us']:5,.0f} us  "
        f"({r['requests']:,} requests, {conns} connections{extra})"
    )


def _check(env: dict, allowed: int, in_flight: int) -> list[str]:
    from billing.ledger.models import Hold
    from calls.models import CallRecord

    problems = []
    holds = Hold.objects.count()
    distinct = Hold.objects.values("call_id").distinct().count()
    if holds != distinct:
        problems.append(f"{holds} holds for {distinct} call ids")
    # wrk stops with up to one request per connection in flight: the server may have answered
    # (and held for) it after wrk stopped counting.
    if not allowed <= holds <= allowed + in_flight:
        problems.append(f"{allowed} authorizations allowed but {holds} holds placed")
    with_hold = CallRecord.objects.filter(call_id__in=Hold.objects.values("call_id")).count()
    print(
        f"holds placed: {holds:,} for {allowed:,} allowed answers; calls charged: {CallRecord.objects.count():,} "
        f"({with_hold:,} after their authorize)"
    )
    check = subprocess.run(
        [sys.executable, "manage.py", "ledger_check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    print("ledger_check:", (check.stdout or check.stderr).strip().splitlines()[-1])
    if check.returncode:
        problems.append("ledger_check found violations")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections and pgbench clients")
    parser.add_argument("--latency-connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    db_url = urlparse(SERVER_URL)._replace(path=f"/{BENCH_DB}").geturl()
    env = _bench_env(db_url, args.redis)
    os.environ.update(env)
    _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _psql(f"CREATE DATABASE {BENCH_DB}")
    gunicorn = None
    try:
        code, token = _setup_data(args.accounts)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        (ROOT / "var").mkdir(exist_ok=True)
        log = open(ROOT / "var" / "bench-gunicorn.log", "w")  # noqa: SIM115
        gunicorn = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "-w", str(args.workers)]
            + ["-b", f"127.0.0.1:{port}", "--worker-class", "sync", "--access-logfile", "-"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        _wait_up(f"{base}/api/v1/ping")
        started = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=4)).isoformat()
        auth_body = json.dumps(
            {"call_id": "%s", "facility": code, "inmate": INMATE, "dialed_number": "%s"}, separators=(",", ":")
        )
        done_body = json.dumps(
            {
                "call_id": "%s",
                "facility": code,
                "inmate": INMATE,
                "dialed_number": "%s",
                "started_at": started,
                "duration_seconds": 185,
                "disconnect": "normal",
            },
            separators=(",", ":"),
        )
        common = {"token": token, "accounts": args.accounts, "args": args}
        hi, lo = args.connections, args.latency_connections
        results = {}
        # One unmeasured second to warm each worker's connections and caches.
        subprocess.run(
            ["wrk", "-t", "2", "-c", str(args.workers * 2), "-d", "2s", "-H", "X-Forwarded-Proto: https"]
            + [f"{base}/api/v1/ping"],
            capture_output=True,
            check=False,
        )
        results["ping"] = _wrk(base, path="/api/v1/ping", method="GET", prefix="p", body="", conns=hi, **common)
        results["authorize"] = _wrk(
            base, path="/api/v1/calls/authorize", method="POST", prefix="a", body=auth_body, conns=hi, **common
        )
        results["complete"] = _wrk(
            base, path="/api/v1/calls/complete", method="POST", prefix="a", body=done_body, conns=hi, **common
        )
        results["authorize_lo"] = _wrk(
            base, path="/api/v1/calls/authorize", method="POST", prefix="l", body=auth_body, conns=lo, **common
        )
        results["complete_lo"] = _wrk(
            base, path="/api/v1/calls/complete", method="POST", prefix="l", body=done_body, conns=lo, **common
        )
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)
        gunicorn = None
        tps = pgbench_tps(args.seconds, hi)

        print(
            f"platform API over HTTP: gunicorn {args.workers} sync workers, production settings, "
            f"{args.accounts:,} funded accounts, {args.seconds}s per phase"
        )
        print(_line("(a) trivial view (ping)", results["ping"], hi))
        print(_line("(b) authorize", results["authorize"], hi))
        print(_line("(c) complete", results["complete"], hi))
        print(f"{'(d) pgbench tpcb-like':<28} {tps:>8,.0f} tps    ({hi} clients)")
        print(_line("    authorize", results["authorize_lo"], lo))
        print(_line("    complete", results["complete_lo"], lo))
        ping = results["ping"]["rps"]
        for name in ("authorize", "complete"):
            r = results[name]["rps"]
            print(f"ratio {name}/trivial view: {r / ping:5.2f}   {name}/pgbench: {r / tps:5.2f}")
        print(f"ratio trivial view/pgbench: {ping / tps:5.2f}")

        allowed = results["authorize"]["allowed"] + results["authorize_lo"]["allowed"]
        problems = _check(env, allowed, hi + lo)
        for name, r in results.items():
            if name != "ping" and r["ok"] + r["bad"] and r["bad"]:
                problems.append(f"{name}: {r['bad']} answers were not 200")
        if problems:
            raise SystemExit("CHECK FAILED: " + "; ".join(problems))
        print("checks passed: one hold per allowed authorize, ledger clean")
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if hasattr(connections["default"], "close_pool"):
            connections["default"].close_pool()  # production settings pool their connections
        _psql(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
