"""Service URLs at start-up: a malformed one is a config error at load (exit 2), an unreachable one a single line
naming its variable (exit 1), never a 100-400-line traceback; ``--verbose`` / ``BESTBEFORE_LOG=debug`` show it.

Unreachable means really unreachable: a port nobody listens on (``free_port``). Redis is the exception: the cache
works without it, so an unreachable Redis is a warning and the command goes on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app as cli
from bestbefore.startup_checks import warn_if_redis_is_down
from rag.config import load_settings
from tests.conftest import free_port
from tests.test_config_errors import make_indexed_project, one_line_error


@pytest.fixture
def indexed(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_indexed_project(tmp_path, monkeypatch)


MALFORMED = [
    ("REDIS_URL", "http://127.0.0.1:6379/0", "scheme must be one of redis://"),
    ("REDIS_URL", "redis://127.0.0.1:sixthree/0", "port is not a number"),
    ("REDIS_URL", "redis://:hunter2@/0", "no host"),
    ("DATABASE_URL", "postgres:/nohost", "not a valid database URL"),
    ("DATABASE_URL", "postgresql+psycopg://bb:hunter2@db:five/bestbefore", "not a valid database URL"),
    ("DATABASE_URL", "mysql://db/bestbefore", "needs PostgreSQL or SQLite"),
    ("DATABASE_URL", "postgresql+nosuchdriver://db/bestbefore", "not a valid database URL"),
    ("WEAVIATE_URL", "ftp://weaviate", "scheme must be one of http://"),
    ("WEAVIATE_URL", "localhost:8080", "scheme must be one of http://"),
    ("WEAVIATE_URL", "http://weaviate:99999", "port is not a number"),
    ("CO_API_URL", "http://:8080", "no host"),
    ("CO_API_URL", "api.cohere.com", "scheme must be one of http://"),
    ("WEAVIATE_GRPC_PORT", "fifty", "valid integer"),
]


@pytest.mark.parametrize(("variable", "value", "problem"), MALFORMED)
def test_malformed_service_url_is_a_config_error_at_load(
    indexed: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("COHERE_API_KEY", "co-test-key")
    for command in (["sources"], ["ask", "How many days of leave?"], ["stats"]):
        line = one_line_error(CliRunner().invoke(cli, command), f"{variable}: ", problem)
        assert "hunter2" not in line  # a password in the URL is never echoed


def test_unreachable_database_is_one_line_naming_database_url(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://bestbefore:hunter2@127.0.0.1:{free_port()}/ledger")
    for command in (["stats"], ["ask", "How many days of leave?"], ["digest"]):
        line = one_line_error(CliRunner().invoke(cli, command), "DATABASE_URL", "127.0.0.1", code=1)
        assert "Connection refused" in line and "hunter2" not in line


def test_unreachable_weaviate_is_one_line_naming_weaviate_url(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEAVIATE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WEAVIATE_GRPC_PORT", str(free_port()))
    for command in (["sources"], ["ask", "How many days of leave?"]):
        one_line_error(CliRunner().invoke(cli, command), "WEAVIATE_URL", code=1)


@pytest.mark.parametrize("how", [["--verbose"], ["-v"], "BESTBEFORE_LOG=debug"])
def test_verbose_shows_the_traceback_then_the_line(
    indexed: Path, monkeypatch: pytest.MonkeyPatch, how: list[str] | str
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://bestbefore@127.0.0.1:{free_port()}/ledger")
    quiet = CliRunner().invoke(cli, ["stats"])
    assert quiet.exit_code == 1 and "Traceback" not in quiet.stderr
    if isinstance(how, str):
        monkeypatch.setenv(*how.split("=", 1))
        flags: list[str] = []
    else:
        flags = how
    loud = CliRunner().invoke(cli, [*flags, "stats"])
    assert loud.exit_code == 1
    assert "Traceback (most recent call last)" in loud.stderr and "OperationalError" in loud.stderr
    last = loud.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "DATABASE_URL" in last


def test_unreachable_redis_warns_and_the_answer_still_comes(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = CliRunner().invoke(cli, ["ask", "How many days of leave?"])
    assert result.exit_code == 0 and "25 days of paid leave" in result.stdout
    assert "Traceback" not in result.output


def test_redis_probe_warns_only_when_redis_is_down(home: Path, tmp_path: Path, redis_url: str) -> None:
    warnings: list[str] = []
    assert warn_if_redis_is_down(load_settings(cwd=tmp_path, redis_url=redis_url), warnings.append)
    assert warnings == []
    down = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    assert not warn_if_redis_is_down(load_settings(cwd=tmp_path, redis_url=down), warnings.append)
    [warning] = warnings
    assert warning.startswith("REDIS_URL: ") and "going on without it" in warning and "hunter2" not in warning


def test_jobs_starts_with_a_warning_when_redis_is_down(indexed: Path) -> None:
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "PYTHONUNBUFFERED": "1"}
    command = [str(Path(sys.executable).parent / "bestbefore"), "jobs"]
    process = subprocess.Popen(command, env=env, cwd=indexed, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline().decode()
            if not line:
                break
            lines.append(line)
            if "Running the scheduled jobs" in line:
                break
        assert process.poll() is None, "".join(lines)  # still running: the outage did not stop it
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert any(line.startswith("Warning: REDIS_URL: ") for line in lines), "".join(lines)
    assert any("Running the scheduled jobs" in line for line in lines)
    assert not any("Traceback" in line for line in lines)
