"""The query ledger's PostgreSQL goes away mid-serve (a TCP proxy in front of the real server is cut) and comes
back: answers keep flowing, ledger rows wait (in memory, then in a spill file) and are all written afterwards."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text

from bot.blocks import error_reply
from rag.answer.pipeline import AskContext
from rag.errors import LedgerUnavailableError
from rag.index.refresh import RefreshResult
from rag.ledger.feedback import Vote
from rag.ledger.query_ledger import QueryLedger, table_counts
from rag.ledger.row_writes import apply_writes
from rag.ledger.schema import migrate, votes
from rag.ledger.writer import LedgerWrite, LedgerWriter
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.fault_support import cli_env, handbook_config, run_cli, serve_monitoring, wait_until
from tests.fakes.ledger_seed import BASE, make_answer
from tests.fakes.slack_fake import BOT_USER, event_body
from tests.fakes.tcp_proxy import TcpProxy

HOLIDAY = f"<@{BOT_USER}> How many days of paid holiday do employees get?"
VPN = f"<@{BOT_USER}> How do I set up the VPN?"
DEPLOY = f"<@{BOT_USER}> When do deploys go out?"
APOLOGY = error_reply("x").text.split("`")[0]  # "Sorry — something went wrong ..." without the reference


@dataclass
class ProxiedDatabase:
    """A fresh schema in the test PostgreSQL, reached through ``proxy`` (``url``) or directly (``direct``)."""

    url: str
    direct: Engine
    proxy: TcpProxy

    def counts(self) -> dict[str, int]:
        with self.direct.connect() as conn:
            return table_counts(conn)

    def votes(self) -> dict[tuple[str, str], tuple[int, bool]]:
        with self.direct.connect() as conn:
            rows = conn.execute(select(votes.c.answer_id, votes.c.user_id, votes.c.value, votes.c.retracted))
            return {(a, u): (int(v), bool(r)) for a, u, v, r in rows}


@pytest.fixture
def database(postgres_url: str) -> Iterator[ProxiedDatabase]:
    schema = f"f_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    search_path = f"?options=-csearch_path%3D{schema}"
    proxy = TcpProxy("127.0.0.1", 5432).start()
    direct = create_engine(postgres_url + search_path)
    proxied = postgres_url.replace("127.0.0.1:5432", proxy.address) + search_path
    yield ProxiedDatabase(url=proxied, direct=direct, proxy=proxy)
    proxy.stop()
    direct.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def reaction(harness: BotHarness, name: str, channel: str, ts: str, *, user: str, kind: str = "reaction_added") -> None:
    event = {
        "type": kind, "user": user, "reaction": name, "item_user": BOT_USER,
        "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": f"{time.time():.6f}",
    }  # fmt: skip
    assert harness.post(event_body(event)).status_code == 200


def reply_text(update: dict[str, Any]) -> str:
    return str(update["text"]) + json.dumps(update.get("blocks") or [])


def votes_known(ledger: QueryLedger, answer_id: str) -> dict[str, int] | None:
    """The votes the ledger knows; None while it is down and has not yet seen one for this answer (the reaction
    event may still be on its way)."""
    try:
        return ledger.votes(answer_id)
    except LedgerUnavailableError:
        return None


def test_slack_answers_keep_flowing_while_the_ledger_is_down_and_nothing_is_lost(
    home: Path, database: ProxiedDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database.url)
    harness = start_harness(home)
    monitoring = serve_monitoring(harness.services)
    try:
        ledger = harness.services.ledger
        ledger.writer.retry_interval = 0.1  # the test waits for recovery; production retries every second
        harness.mention(HOLIDAY, channel="C0ONE")
        [before] = harness.wait_answered("C0ONE")
        assert ledger.flush(10)
        assert database.counts()["answers"] == 1

        database.proxy.cut()
        for channel, question in (("C0TWO", VPN), ("C0THREE", DEPLOY)):
            harness.mention(question, channel=channel)
        [vpn] = harness.wait_answered("C0TWO")
        [deploy] = harness.wait_answered("C0THREE")
        for update in (vpn, deploy):  # real answers, not the apology
            assert APOLOGY not in reply_text(update)
        assert "WireGuard" in reply_text(vpn) and "Tuesdays" in reply_text(deploy)
        wait_until(lambda: not ledger.available, what="the ledger noticing the outage")

        # A vote during the outage on an answer whose message link has not been written yet still counts.
        reaction(harness, "+1", "C0TWO", vpn["ts"], user="U0BOB")
        reaction(harness, "+1", "C0ONE", before["ts"], user="U0DAVE")  # and on an answer from before the outage
        deploy_id = ledger.answer_for_message("C0THREE", deploy["ts"])
        assert deploy_id is not None
        reaction(harness, "+1", "C0THREE", deploy["ts"], user="U0EVE")
        wait_until(lambda: votes_known(ledger, deploy_id) == {"U0EVE": 1}, what="Eve's vote, known while it is down")
        reaction(harness, "+1", "C0THREE", deploy["ts"], user="U0EVE", kind="reaction_removed")  # and retracted
        wait_until(lambda: votes_known(ledger, deploy_id) == {}, what="Eve's retraction")
        ledger.record_refresh(RefreshResult(source="handbook"), started_at=BASE)  # what the refresh job records
        wait_until(lambda: ledger.writer.backlog >= 9, what="answers, links, votes and refresh waiting")

        dashboard = httpx.get(monitoring.url + "/dashboard/data?window=7d", timeout=10)
        assert dashboard.status_code == 503 and "ledger unavailable" in dashboard.json()["error"]
        stats = run_cli(handbook_config(home.parent / "cfg"), cli_env(home, DATABASE_URL=database.url), "stats")
        assert stats.returncode == 1 and "ledger unavailable" in stats.stderr and "Traceback" not in stats.stderr
        assert database.counts()["answers"] == 1  # nothing reached the database yet

        database.proxy.restore()
        wait_until(lambda: ledger.available and ledger.writer.backlog == 0, timeout=30, what="the ledger catching up")
        counts = database.counts()
        assert (counts["answers"], counts["answer_messages"], counts["votes"], counts["refresh_runs"]) == (3, 3, 3, 1)
        assert database.votes()[(deploy_id, "U0EVE")] == (1, True)  # retracted
        # A vote after recovery on an answer given during the outage counts too (its link was replayed).
        reaction(harness, "-1", "C0THREE", deploy["ts"], user="U0CAROL")
        wait_until(lambda: len(database.votes()) == 4, what="the vote after recovery")
        answer_ids = {harness.recorder.seen[i][0].answer_id for i in range(3)}
        active = {key: value for key, (value, retracted) in database.votes().items() if not retracted}
        assert {answer for answer, _ in active} == answer_ids  # one standing vote on each answer
        assert sorted(active.values()) == [-1, 1, 1]
        recovered = httpx.get(monitoring.url + "/dashboard/data?window=7d", timeout=10)
        assert recovered.status_code == 200 and recovered.json()["questions"] == 3
    finally:
        monitoring.stop()
        harness.close()


def test_a_full_buffer_spills_to_a_file_that_is_replayed_in_order_after_a_restart(
    database: ProxiedDatabase, tmp_path: Path
) -> None:
    spill = tmp_path / "home" / "ledger-spill.jsonl"
    ledger = QueryLedger(database.url, spill_path=spill, buffer_size=3, retry_interval=0.1)
    ledger.record_answer(make_answer("before", BASE), AskContext(surface="cli"))
    assert ledger.flush(10)

    database.proxy.cut()
    for n in range(8):
        ledger.record_answer(make_answer(f"down-{n}", BASE + timedelta(minutes=n)), AskContext(surface="slack"))
    ledger.link_message("down-0", "C1", "100.1")
    ledger.record_vote(Vote("down-0", "U1", 1, BASE))
    ledger.record_vote(Vote("down-0", "U1", -1, BASE + timedelta(seconds=1)))  # the later vote must win
    ledger.record_refresh(RefreshResult(source="handbook"), started_at=BASE)
    ledger.record_job_failure("digest", "SlackApiError: channel_not_found", at=BASE)
    wait_until(lambda: not ledger.available, what="the ledger noticing the outage")
    assert ledger.answer_for_message("C1", "100.1") == "down-0"  # found in the queue
    with pytest.raises(LedgerUnavailableError, match="Ledger unavailable"):
        ledger.stats(BASE - timedelta(days=1), BASE + timedelta(days=1))
    assert spill.exists() and ledger.writer.backlog == 13
    ledger.close()  # still down: what was in memory goes to the front of the spill file
    assert len(spill.read_text().splitlines()) == 13
    assert database.counts()["answers"] == 1

    database.proxy.restore()
    again = QueryLedger(database.url, spill_path=spill, buffer_size=3)
    try:
        assert again.flush(30)
        counts = database.counts()
        assert (counts["answers"], counts["answer_messages"], counts["votes"]) == (9, 1, 1)
        assert (counts["refresh_runs"], counts["job_runs"]) == (1, 1)
        assert database.votes() == {("down-0", "U1"): (-1, False)}
        assert again.answer_for_message("C1", "100.1") == "down-0"
        assert not spill.exists() and again.write_errors == 0
    finally:
        again.close()


def test_a_replayed_write_that_already_reached_the_database_is_not_written_twice(
    database: ProxiedDatabase, tmp_path: Path
) -> None:
    """A commit whose acknowledgement was lost is replayed from the spill file: the duplicate is skipped."""
    spill = tmp_path / "ledger-spill.jsonl"
    first = QueryLedger(database.url, spill_path=spill)
    first.record_answer(make_answer("twice", BASE), AskContext())
    assert first.flush(10)
    database.proxy.cut()
    first.record_answer(make_answer("once", BASE), AskContext())
    wait_until(lambda: not first.available)
    first.close()
    lines = spill.read_text().splitlines()
    row = json.loads(lines[0])["row"]["answer"]
    spill.write_text(lines[0].replace('"once"', '"twice"') + "\n" + "\n".join(lines) + "\n")
    assert row["id"] == "once"
    database.proxy.restore()
    again = QueryLedger(database.url, spill_path=spill)
    try:
        assert again.flush(30)
        assert database.counts()["answers"] == 2 and again.write_errors == 0
    finally:
        again.close()


def test_a_locked_sqlite_ledger_never_holds_up_an_answer(home: Path) -> None:
    """Another process holds the SQLite ledger's write lock (a backup, a stuck writer): answers go out at once and
    their rows are written when the lock is released. Before, linking the reply waited 30 s, then apologised."""
    harness = start_harness(home)
    try:
        ledger = harness.services.ledger
        harness.mention(HOLIDAY, channel="C0ONE")
        harness.wait_answered("C0ONE")
        assert ledger.flush(10)
        locker = sqlite3.connect(home / "ledger.sqlite", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            harness.mention(VPN, channel="C0TWO")
            [vpn] = harness.wait_answered("C0TWO", timeout=20)  # well inside SQLite's 30 s busy timeout
            assert APOLOGY not in reply_text(vpn) and "WireGuard" in reply_text(vpn)
            assert ledger.writer.backlog >= 2  # the answer and its message link wait for the lock
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert ledger.flush(30)
        with sqlite3.connect(home / "ledger.sqlite") as check:
            assert check.execute("SELECT count(*) FROM answers").fetchone()[0] == 2
            assert check.execute("SELECT count(*) FROM answer_messages").fetchone()[0] == 2
    finally:
        harness.close()


def test_a_row_the_database_refuses_is_skipped_and_counted_without_blocking_the_rest(
    database: ProxiedDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = QueryLedger(database.url)
    try:
        ledger.record_answer(make_answer("first", BASE), AskContext())
        ledger.record_vote(Vote("first", "U" * 500, 1, BASE))  # user_id is VARCHAR(100): PostgreSQL refuses it
        ledger.record_answer(make_answer("after", BASE), AskContext())
        assert ledger.flush(10)
        assert database.counts()["answers"] == 2 and database.counts()["votes"] == 0
        assert ledger.write_errors == 1 and ledger.available
        assert "a vote write was refused and skipped" in caplog.text
    finally:
        ledger.close()


def test_a_replay_cut_short_by_another_outage_keeps_every_write_once_in_order(
    database: ProxiedDatabase, tmp_path: Path
) -> None:
    spill = tmp_path / "ledger-spill.jsonl"
    writes = [LedgerWrite("job_run", {"job": f"job-{n}", "started_at": BASE, "finished_at": BASE, "ok": True,
                                      "error": None, "detail": {}}) for n in range(13)]  # fmt: skip
    spill.write_text("".join(w.to_json() + "\n" for w in writes))
    with database.direct.begin() as conn:
        migrate(conn)
    database.proxy.cut()  # down again while the spilled writes are being replayed
    engine = create_engine(database.url)
    writer = LedgerWriter(engine, apply_writes, where="test", spill_path=spill, capacity=3, retry_interval=0.1)
    wait_until(lambda: not writer.available, what="the writer noticing the outage")
    writer.close()
    assert spill.read_text().splitlines() == [w.to_json() for w in writes]  # the loaded 3 went back in front

    database.proxy.restore()
    writer = LedgerWriter(engine, apply_writes, where="test", spill_path=spill, capacity=3)
    try:
        assert writer.flush(30) and not spill.exists()
        with database.direct.connect() as conn:
            jobs = conn.execute(text("SELECT job FROM job_runs ORDER BY id")).scalars().all()
        assert jobs == [f"job-{n}" for n in range(13)]
    finally:
        writer.close()
        engine.dispose()
