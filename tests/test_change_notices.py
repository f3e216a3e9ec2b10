"""Change notices (#14): after a refresh, the Slack threads whose answers cited a changed doc hear about it once,
through the real composition root, ledger, SlackPublisher and slack_sdk client against the fake Web API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from bestbefore.jobs_setup import job_deps
from bestbefore.services import Services
from jobs.runs import compose_digest
from jobs.weeks import week_of
from rag.config import load_settings
from rag.ledger.change_notices import POSTED, POSTING
from rag.ledger.query_ledger import QueryLedger
from tests.fakes.jobs_support import seed_answer, write_docs
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack

HELPER = Path(__file__).parent / "fakes" / "change_notice_crash_helper.py"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LEAVE = "handbook:leave.md"


def write_config(tmp: Path, notices: str = "") -> Path:
    write_docs(tmp / "docs")
    path = tmp / "bestbefore.toml"
    path.write_text(
        f'[[sources]]\nname = "handbook"\npath = "docs"\n\n[index]\nembedder = "hashing"\n\n{notices}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def slack_env(home: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    return slack


@pytest.fixture
def services(tmp_path: Path, slack_env: FakeSlack) -> Iterator[Services]:
    built = Services(load_settings(write_config(tmp_path, "[channels.CMUTED]\nchange_notices = false\n")))
    yield built
    built.close()


def refresh(services: Services, now: datetime) -> Any:
    report = services.indexer.refresh(services.settings.app.sources, now=now)
    report.raise_for_failures()
    return report


def ask_in_thread(
    fake: FakeSlack, ledger: QueryLedger, at: datetime, cited: tuple[str, ...], channel: str = "C1"
) -> str:
    """A question in a channel and the bot's answer in its thread, recorded in the ledger; the thread's ts."""
    thread = fake.add_message(channel, "how many days of leave?", user="U1")
    seed_answer(ledger, at, cited=cited, channel=channel, thread=thread)
    return thread


def notices_in(fake: FakeSlack, channel: str, thread: str | None = None) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.bot_messages(channel)
        if m.get("text", "").startswith("Heads-up:") and (thread is None or m.get("thread_ts") == thread)
    ]


def edit(tmp: Path, name: str, old: str, new: str) -> None:
    path = tmp / "docs" / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_an_edited_doc_is_announced_once_in_the_thread_that_cited_it(
    tmp_path: Path, services: Services, slack_env: FakeSlack
) -> None:
    refresh(services, T0)
    ledger = services.ledger
    cited_twice = ask_in_thread(slack_env, ledger, T0 + timedelta(hours=1), (LEAVE,))
    seed_answer(ledger, T0 + timedelta(hours=2), cited=(LEAVE, "handbook:expenses.md"), thread=cited_twice)
    other_doc = ask_in_thread(slack_env, ledger, T0 + timedelta(hours=1), ("handbook:expenses.md",))
    too_old = ask_in_thread(slack_env, ledger, T0 - timedelta(days=45), (LEAVE,))
    muted = ask_in_thread(slack_env, ledger, T0 + timedelta(hours=1), (LEAVE,), channel="CMUTED")

    edit(tmp_path, "leave.md", "25 days", "27 days")
    report = refresh(services, T0 + timedelta(days=1))

    assert report.answers_notified == 1
    [notice] = notices_in(slack_env, "C1")
    assert notice["thread_ts"] == cited_twice
    assert notice["text"] == (
        "Heads-up: *Leave policy* changed on 21 Nov, after this answer. Ask again for an updated answer."
    )
    assert notice["metadata"]["event_payload"]["changes"][0].startswith(LEAVE + "@")
    assert not notices_in(slack_env, "C1", other_doc) and not notices_in(slack_env, "C1", too_old)
    assert not notices_in(slack_env, "CMUTED", muted)

    refresh(services, T0 + timedelta(days=2))  # nothing changed: nothing more
    assert len(notices_in(slack_env, "C1")) == 1
    edit(tmp_path, "leave.md", "27 days", "28 days")  # a second change is a second notice
    assert refresh(services, T0 + timedelta(days=3)).answers_notified == 1
    assert len(notices_in(slack_env, "C1", cited_twice)) == 2
    assert [n.state for n in services.change_notices.all()] == [POSTED, POSTED]


def test_a_removed_doc_is_announced_as_removed(tmp_path: Path, services: Services, slack_env: FakeSlack) -> None:
    refresh(services, T0)
    thread = ask_in_thread(slack_env, services.ledger, T0 + timedelta(hours=1), ("handbook:laptops.md",))
    (tmp_path / "docs" / "laptops.md").unlink()
    assert refresh(services, T0 + timedelta(days=1)).answers_notified == 1
    [notice] = notices_in(slack_env, "C1", thread)
    assert "*Laptops* was removed from handbook" in notice["text"]


def test_a_metadata_only_change_announces_nothing(tmp_path: Path, services: Services, slack_env: FakeSlack) -> None:
    refresh(services, T0)
    ask_in_thread(slack_env, services.ledger, T0 + timedelta(hours=1), (LEAVE,))
    edit(tmp_path, "leave.md", "owner: alice@example.com", "owner: dave@example.com")
    edit(tmp_path, "leave.md", "last_reviewed: 2024-01-10", "last_reviewed: 2026-11-21")
    report = refresh(services, T0 + timedelta(days=1))
    assert report.total().docs_relabelled == 1 and report.total().docs_changed == 0
    assert report.answers_notified == 0
    assert slack_env.calls_to("chat.postMessage") == []
    assert services.change_notices.all() == []


def test_two_hundred_changed_docs_stay_under_the_caps_and_the_rest_reach_the_digest(
    tmp_path: Path, slack_env: FakeSlack
) -> None:
    config = write_config(tmp_path, "[notices]\nmax_per_run = 8\nmax_per_channel = 5\n")
    for i in range(200):
        (tmp_path / "docs" / f"page-{i:03d}.md").write_text(f"# Page {i}\n\nVersion one of page {i}.\n", "utf-8")
    services = Services(load_settings(config))
    try:
        refresh(services, T0)
        for i in range(200):
            ask_in_thread(slack_env, services.ledger, T0 + timedelta(hours=1), (f"handbook:page-{i:03d}.md",),
                          channel="C1" if i % 2 else "C2")  # fmt: skip
            edit(tmp_path, f"page-{i:03d}.md", "Version one", "Version two")
        report = refresh(services, T0 + timedelta(days=1))

        assert report.answers_notified == 8
        assert len(notices_in(slack_env, "C1")) == 5 and len(notices_in(slack_env, "C2")) == 3
        states = [n.state for n in services.change_notices.all()]
        assert states.count(POSTED) == 8 and states.count("deferred") == 192
        refresh(services, T0 + timedelta(days=2))  # deferred notices are not posted later either
        assert len(slack_env.calls_to("chat.postMessage")) == 8

        digest = compose_digest(job_deps(services), week_of(T0 + timedelta(days=1), UTC), T0 + timedelta(days=2))
        figure = digest.figure("answers_affected_by_changes")
        assert figure.value == 200 and figure.note == "8 told in their thread, 192 over the cap"
        assert "Answers affected by changes: 200 (8 told in their thread, 192 over the cap)" in digest.text()
    finally:
        services.close()


def test_refresh_json_reports_answers_notified(tmp_path: Path, slack_env: FakeSlack) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["--config", str(config), "refresh", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["answers_notified"] == 0
    ledger = QueryLedger(load_settings(config).ledger_url)
    thread = ask_in_thread(slack_env, ledger, datetime.now(UTC) - timedelta(minutes=5), (LEAVE,))
    ledger.close()
    edit(tmp_path, "leave.md", "25 days", "26 days")
    second = runner.invoke(app, ["--config", str(config), "refresh", "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["answers_notified"] == 1
    assert len(notices_in(slack_env, "C1", thread)) == 1


@pytest.mark.parametrize("kill", ["--kill-after-post", "--kill-before-post"])
def test_a_process_killed_around_the_post_neither_loses_nor_doubles_the_notice(
    tmp_path: Path, home: Path, slack_env: FakeSlack, kill: str
) -> None:
    config = write_config(tmp_path)
    services = Services(load_settings(config))
    refresh(services, T0)
    thread = ask_in_thread(slack_env, services.ledger, T0 + timedelta(hours=1), (LEAVE,))
    services.close()
    edit(tmp_path, "leave.md", "25 days", "27 days")

    crash_at = T0 + timedelta(days=1)
    killed = subprocess.run(
        [sys.executable, str(HELPER), str(config), crash_at.isoformat(), kill],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    posted_before_restart = len(notices_in(slack_env, "C1", thread))
    assert posted_before_restart == (1 if kill == "--kill-after-post" else 0)

    restarted = Services(load_settings(config))
    try:
        [row] = restarted.change_notices.all()
        assert row.state == POSTING  # the intent survived the kill
        refresh(restarted, crash_at + timedelta(minutes=1))  # within the claim's lease: the dead run's claim holds
        assert len(notices_in(slack_env, "C1", thread)) == posted_before_restart
        refresh(restarted, crash_at + timedelta(minutes=11))  # lease over: checked in the thread, posted if missing
        [notice] = notices_in(slack_env, "C1", thread)
        [row] = restarted.change_notices.all()
        assert row.state == POSTED and row.key in notice["metadata"]["event_payload"]["changes"]
    finally:
        restarted.close()
