"""scripts/services.py: the suite's services are used where they answer and started where they do not;
what it started is stopped when the command ends."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import redis

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "services.py"
# Prints the URLs the command is given, and proves each answers while it runs.
PROBE = """
import json, os, psycopg, redis, urllib.parse
url = urllib.parse.urlparse(os.environ["DATABASE_URL"])._replace(scheme="postgresql", path="/postgres").geturl()
with psycopg.connect(url) as conn:
    version = conn.execute("SHOW server_version_num").fetchone()[0]
redis.Redis.from_url(os.environ["REDIS_URL"]).set("services-probe", "1")
print(json.dumps({"database": os.environ["DATABASE_URL"], "redis": os.environ["REDIS_URL"], "version": version}))
"""


def _run(**env):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "test", "--", sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_services_that_answer_are_used_as_they_are():
    result = _run()
    assert result.returncode == 0, result.stderr
    urls = json.loads(result.stdout)
    assert urls["database"] == os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/familyline")
    assert "started" not in result.stderr


def test_closed_ports_start_an_embedded_postgres_and_a_redis_then_stop_them():
    result = _run(DATABASE_URL="postgres://postgres@127.0.0.1:9/familyline", REDIS_URL="redis://127.0.0.1:9/15")
    assert result.returncode == 0, result.stderr
    urls = json.loads(result.stdout)
    assert "?host=" in urls["database"] and int(urls["version"]) >= 150000
    assert urls["redis"] != "redis://127.0.0.1:9/15"
    assert "started PostgreSQL" in result.stderr and "started redis-server" in result.stderr
    assert "stopped the embedded PostgreSQL and deleted its data" in result.stderr
    # Both are gone once the command has ended.
    try:
        psycopg.connect(urls["database"].replace("postgres://", "postgresql://", 1), connect_timeout=2).close()
        raise AssertionError("the embedded PostgreSQL still answers")
    except psycopg.OperationalError:
        pass
    assert not Path(urls["database"].split("host=")[1]).parent.exists()
    try:
        redis.Redis.from_url(urls["redis"], socket_connect_timeout=2).ping()
        raise AssertionError("the suite's redis-server still answers")
    except redis.ConnectionError:
        pass


def test_the_command_exit_code_is_the_script_exit_code():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "test", "--", sys.executable, "-c", "raise SystemExit(5)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5
