"""Before the test suite: say in one sentence which service is unreachable and how to start it."""

import os
import socket
import sys
from urllib.parse import urlparse

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/familyline")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    host, port, ok = reachable(DATABASE_URL, 5432)
    if not ok:
        print(
            f"PostgreSQL is not reachable at {host}:{port}: start it "
            "(e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
            "or point DATABASE_URL at a running server.",
            file=sys.stderr,
        )
        return 1
    host, port, ok = reachable(REDIS_URL, 6379)
    if not ok:
        print(
            f"Redis is not reachable at {host}:{port}: start it "
            '(e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`) '
            "or point REDIS_URL at a running server.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
