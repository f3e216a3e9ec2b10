"""The composition root and the one refresh path: every client built once, one ledger row per source per run."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from bestbefore.services import Services
from bot.runtime import BotWorkers
from rag.config import AppConfig, DigestConfig, IndexConfig, Settings, load_settings
from rag.ledger.query_ledger import QueryLedger
from rag.ledger.schema import MIGRATIONS
from rag.models import AskContext
from tests.conftest import RedisServer
from tests.fakes.jobs_support import write_docs
from tests.fakes.ledger_seed import BASE, make_answer

runner = CliRunner()


@pytest.fixture
def two_sources(tmp_path: Path, home: Path) -> Path:
    write_docs(tmp_path / "handbook")
    write_docs(tmp_path / "wiki")
    path = tmp_path / "bestbefore.toml"
    path.write_text(
        '[[sources]]\nname = "handbook"\npath = "handbook"\n\n[[sources]]\nname = "wiki"\npath = "wiki"\n\n'
        '[index]\nembedder = "hashing"\n',
        encoding="utf-8",
    )
    return path


def refresh_rows(config: Path) -> list[tuple[str, bool]]:
    services = Services(load_settings(config))
    try:
        return sorted((row["source"], bool(row["ok"])) for row in services.ledger.refresh_runs())
    finally:
        services.close()


def test_cli_refresh_records_one_row_per_source_and_a_failing_source_too(two_sources: Path) -> None:
    first = runner.invoke(app, ["-c", str(two_sources), "ingest", "--json"])
    assert first.exit_code == 0, first.output
    assert refresh_rows(two_sources) == [("handbook", True), ("wiki", True)]

    shutil.rmtree(two_sources.parent / "wiki")  # the wiki's folder vanished: the handbook is still refreshed
    second = runner.invoke(app, ["-c", str(two_sources), "refresh"])
    assert second.exit_code == 1 and "wiki" in second.output
    assert refresh_rows(two_sources) == [("handbook", True), ("handbook", True), ("wiki", False), ("wiki", True)]


def test_one_redis_connection_serves_cache_event_claims_and_job_claims(
    home: Path, redis_server: RedisServer, redis_url: str
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bestbefore_home=home, redis_url=redis_url, app=AppConfig(index=IndexConfig(embedder="hashing")),
    )  # fmt: skip
    services = Services(settings)
    try:
        shared = services.redis
        assert shared is not None
        clients = {
            id(services.embedder.cache._client),  # type: ignore[attr-defined]
            id(services.event_claims._client),  # type: ignore[attr-defined]
            id(services.job_claims._redis),  # type: ignore[attr-defined]
        }
        assert clients == {id(shared.client)}
        assert services.event_claims.claim("event:Ev1") and not services.event_claims.claim("event:Ev1")

        redis_server.stop()  # one outage, seen by the cache and the claims alike, counted once
        services.embedder.embed_query("how many days of leave?")
        assert services.event_claims.claim("event:Ev2")  # in-process claims while Redis is away
        assert shared.outages == 1 and not shared.available
    finally:
        services.close()
        redis_server.start()


def test_the_nudge_log_lives_on_the_ledgers_engine_and_migrations(home: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bestbefore_home=home,
        app=AppConfig(index=IndexConfig(embedder="hashing"), digest=DigestConfig(nudge_owners=True)),
    )
    services = Services(settings)
    try:
        assert "003_owner_nudges" in [name for name, _ in MIGRATIONS]
        assert "003_owner_nudges" in services.ledger.applied_migrations
        nudges = services.nudges
        assert nudges is not None and nudges._engine is services.ledger.engine  # type: ignore[attr-defined]
        assert nudges.claim("handbook:leave.md", "2024-01-10", "alice@example.com", services.ledger.clock())
        assert nudges.sent() == [("handbook:leave.md", "2024-01-10", "alice@example.com")]
    finally:
        services.close()


def test_linking_a_message_never_waits_for_the_database(tmp_path: Path) -> None:
    """The reply path (record the answer, link its Slack message) returns while another writer holds the database."""
    path = tmp_path / "ledger.sqlite"
    ledger = QueryLedger(f"sqlite:///{path}")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # every other writer (and reader) now waits
        ledger.record_answer(make_answer("a1", BASE), AskContext(surface="slack", user="U1"))
        ledger.link_message("a1", "C1", "111.222")  # queued: returns at once, as the reply path needs
        blocker.execute("COMMIT")
        assert ledger.answer_for_message("C1", "111.222") == "a1"  # written after its answer once the lock is gone
    finally:
        blocker.close()
        ledger.close()


def test_the_bots_pool_runs_placeholders_before_queued_answers_and_drains() -> None:
    workers = BotWorkers(1)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []
    try:
        workers.submit(lambda: (started.set(), release.wait(10), order.append("answer 1")))
        assert started.wait(10)  # the only worker is busy with the first answer
        workers.submit(order.append, "answer 2")
        workers.submit(order.append, "placeholder 3", urgent=True)  # queued last, runs first once a worker is free
        assert not workers.wait_idle(0)
        release.set()
        assert workers.wait_idle(10)
        assert order == ["answer 1", "placeholder 3", "answer 2"]
    finally:
        release.set()
        workers.shutdown()


def test_the_store_gets_every_index_setting(home: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bestbefore_home=home, app=AppConfig(index=IndexConfig(embedder="hashing", title_weight=5.0)),
    )  # fmt: skip
    services = Services(settings)
    try:
        assert services.store._title_weight == 5.0  # type: ignore[attr-defined]
        scratch = services.evaluation_store(home / "eval.sqlite")
        assert scratch._title_weight == 5.0  # type: ignore[attr-defined]
        scratch.close()
    finally:
        services.close()
