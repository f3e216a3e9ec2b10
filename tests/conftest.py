"""Shared fixtures: a private Redis server, a private PostgreSQL database, isolated BESTBEFORE_HOME, real data paths."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.network import free_port
from tests.fakes.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
HANDBOOK_BUNDLE = SHARED_DATA / "handbook" / "handbook.bundle"
GDS_WAY_BUNDLE = SHARED_DATA / "gds-way" / "gds-way.bundle"
SCIFACT = SHARED_DATA / "scifact"
EXAMPLES = ROOT / "examples" / "handbook"


class RedisServer:
    """A private redis-server on a free port; can be stopped and started again (for outage tests)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A clean private Redis (flushed before each test)."""
    import redis

    if redis_server.process is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), dropped afterwards."""
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"bestbefore_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated BESTBEFORE_HOME, and no stray service variables from the developer's shell."""
    path = tmp_path / "home"
    monkeypatch.setenv("BESTBEFORE_HOME", str(path))
    for name in (
        "REDIS_URL", "COHERE_API_KEY", "CO_API_URL", "WEAVIATE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY",
        "LANGFUSE_HOST", "DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
        "BESTBEFORE_CONFIG", "WEAVIATE_API_KEY", "WEAVIATE_GRPC_PORT",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return path


def clone_bundle(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git bundle of ../shared/data cloned into a fresh folder (skips the test when the bundle is missing)."""
    if not bundle.exists():
        pytest.skip(f"{bundle} not found (the shared data folder sits beside the project)")
    name = bundle.name.removesuffix(".bundle")
    target = tmp_path_factory.mktemp(name) / name
    subprocess.run(["git", "clone", "-q", str(bundle), str(target)], check=True)
    return target


@pytest.fixture(scope="session")
def handbook_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real staff handbook (git bundle in ../shared/data), cloned once per test session."""
    return clone_bundle(HANDBOOK_BUNDLE, tmp_path_factory)


@pytest.fixture(scope="session")
def gds_way_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GOV.UK's GDS Way (Middleman + tech-docs gem; git bundle in ../shared/data), cloned once per test session."""
    return clone_bundle(GDS_WAY_BUNDLE, tmp_path_factory)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on a free port that records every call (tests/slack_fake.py)."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()
