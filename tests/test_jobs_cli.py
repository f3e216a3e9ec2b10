"""``bestbefore digest`` (print / --json / --post once per week) through the real CLI, settings and services."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bestbefore.cli import app
from bestbefore.jobs_setup import start_jobs
from bestbefore.services import Services
from jobs.locks import LocalSlotClaims
from rag.config import load_settings
from rag.ledger.query_ledger import QueryLedger
from tests.fakes.jobs_support import seed_answer, write_docs
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack

W47 = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, home: Path) -> Path:
    write_docs(tmp_path / "docs")
    path = tmp_path / "bestbefore.toml"
    path.write_text(
        '[[sources]]\nname = "handbook"\npath = "docs"\n\n[index]\nembedder = "hashing"\n\n'
        '[digest]\nchannel = "#ops-digest"\n',
        encoding="utf-8",
    )
    ledger = QueryLedger(f"sqlite:///{home / 'ledger.sqlite'}")
    for day in range(3):
        seed_answer(ledger, W47 + timedelta(days=day), user=f"U{day}", total_ms=100 * (day + 1), vote=1)
    seed_answer(ledger, W47 - timedelta(days=3), total_ms=50)
    ledger.close()
    return path


def test_digest_prints_text_and_json(config: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["--config", str(config), "digest", "--week", "2026-W47"])
    assert text.exit_code == 0, text.output
    assert "bestbefore weekly digest, 2026-W47" in text.output
    assert "Questions: 3 [▲ +200%]" in text.output
    data = json.loads(runner.invoke(app, ["--config", str(config), "digest", "--week", "2026-W47", "--json"]).output)
    assert data["figures"]["unique_askers"]["value"] == 3
    assert data["figures"]["thumbs_up_rate"]["value"] == 1.0
    bad = runner.invoke(app, ["--config", str(config), "digest", "--week", "2026-47"])
    assert bad.exit_code == 1 and "write it like 2026-W47" in bad.output


def test_digest_post_goes_to_the_configured_channel_once(
    config: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    args = ["--config", str(config), "digest", "--week", "2026-W47", "--post"]
    without_token = runner.invoke(app, args)
    assert without_token.exit_code == 1 and "SLACK_BOT_TOKEN" in without_token.output
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Posted the digest for 2026-W47 to #ops-digest" in first.output
    assert BOT_TOKEN not in first.output
    [post] = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "#ops-digest"
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "already posted" in second.output
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_start_jobs_wires_the_webhook_to_a_real_refresh_recorded_in_the_ledger(config: Path, home: Path) -> None:
    services = Services(load_settings(config, bestbefore_webhook_secret=SecretStr("s3cret")))
    runtime = start_jobs(services, start=False)
    try:
        assert isinstance(runtime.scheduler.claims, LocalSlotClaims)  # no REDIS_URL
        assert runtime.deps.slack is None and set(runtime.scheduler.next_runs()) == {"refresh", "watchdog"}
        assert runtime.webhook_route.path == "/hooks/refresh"
        assert runtime.queue.submit("handbook", ["leave.md"]) is True
        assert runtime.queue.wait_idle(30)
        [run] = services.ledger.refresh_runs()
        assert run["ok"] and run["source"] == "handbook" and run["result"]["docs_new"] == 1
    finally:
        runtime.close()
        services.close()
