import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_services.py"


def _run(**env):
    return subprocess.run([sys.executable, str(SCRIPT)], env={**os.environ, **env}, capture_output=True, text=True)


def test_reachable_services_pass():
    assert _run().returncode == 0


@pytest.mark.parametrize(
    ("env", "service"),
    [
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x"}, "PostgreSQL is not reachable at 127.0.0.1:1"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis is not reachable at 127.0.0.1:1"),
    ],
)
def test_unreachable_service_is_named_in_one_sentence(env, service):
    result = _run(**env)
    assert result.returncode == 1
    assert result.stderr.startswith(service)
    assert result.stderr.count("\n") == 1
