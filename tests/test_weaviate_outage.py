"""Weaviate taken away for real: a closed port for the CLI, and the fake stopped and restarted (same ports, same
data) under the bot while it serves questions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bestbefore.services import Services
from bestbefore.web import create_web_app
from bot.app import build_slack_bot
from bot.blocks import INDEX_UNAVAILABLE
from rag.config import WeaviateConfig
from tests.conftest import free_port
from tests.fakes.bot_harness import BotHarness, RecordingRecorder, WebServer, build_index, make_settings
from tests.fakes.slack_fake import FakeSlack
from tests.fakes.weaviate_fake import FakeWeaviateServer

BESTBEFORE = str(Path(sys.executable).parent / "bestbefore")


@pytest.mark.parametrize("command", [["ask", "how many holiday days?"], ["sources"], ["stale"]])
def test_cli_with_weaviate_unreachable_prints_one_line_naming_weaviate_url(
    command: list[str], home: Path, tmp_path: Path
) -> None:
    (tmp_path / "bestbefore.toml").write_text('[index]\nembedder = "hashing"\n')
    port = free_port()  # nothing listens there
    env = {**os.environ, "WEAVIATE_URL": f"http://127.0.0.1:{port}", "WEAVIATE_GRPC_PORT": str(free_port())}
    result = subprocess.run([BESTBEFORE, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: Cannot connect to Weaviate at http://127.0.0.1:") and "WEAVIATE_URL" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def weaviate() -> Iterator[list[FakeWeaviateServer]]:
    """The running fake Weaviate (a list, so a test can swap in its restarted self)."""
    servers = [FakeWeaviateServer().start()]
    yield servers
    servers[-1].stop()


@pytest.fixture
def harness(home: Path, weaviate: list[FakeWeaviateServer]) -> Iterator[BotHarness]:
    """tests/bot_harness.py's bot, its index in the fake Weaviate instead of SQLite."""
    fake = FakeSlack().start()
    server = weaviate[0]
    settings = make_settings(home, fake, weaviate=WeaviateConfig(search_deadline=2.0)).model_copy(
        update={"weaviate_url": server.url, "weaviate_grpc_port": server.grpc_port}
    )
    recorder = RecordingRecorder()
    services = Services(settings, recorders=[recorder])
    build_index(services)
    bot = build_slack_bot(settings, services)
    web = WebServer(create_web_app(services, slack_app=bot.app)).start()
    running = BotHarness(fake=fake, services=services, bot=bot, web=web, recorder=recorder)
    yield running
    running.close()


def _answer_text(harness: BotHarness, question: str, channel: str, count: int) -> str:
    harness.mention(question, channel=channel)
    return str(harness.wait_answered(channel, count=count, timeout=30)[-1]["text"])


def test_serve_says_the_index_is_unavailable_and_recovers_when_weaviate_is_back(
    harness: BotHarness, weaviate: list[FakeWeaviateServer]
) -> None:
    question = "how many days of paid holiday do employees get?"
    assert "25 days" in _answer_text(harness, question, "C0ONE", 1)
    answers_before = len(harness.recorder.seen)

    weaviate[0].stop()  # Weaviate goes away mid-serve
    reply = _answer_text(harness, question, "C0TWO", 1)
    assert reply == INDEX_UNAVAILABLE
    assert "document index is unavailable right now" in reply
    assert harness.http.get(harness.web.url + "/healthz").json() == {"status": "ok"}  # the process stays up

    weaviate.append(FakeWeaviateServer(restart_of=weaviate[0]).start())  # back, same ports, same data
    deadline = time.monotonic() + 30
    count = 0
    while True:  # each question is one attempt; gRPC reconnects within its capped backoff
        count += 1
        reply = _answer_text(harness, question, "C0THREE", count)
        if reply != INDEX_UNAVAILABLE or time.monotonic() > deadline:
            break
    assert "25 days" in reply
    assert len(harness.recorder.seen) == answers_before + 1  # the outage answered nothing wrong, nothing recorded
