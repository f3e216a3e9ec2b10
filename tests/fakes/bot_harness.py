"""The bot, for real, on free ports: a small real index, the Bolt app in the Starlette app under uvicorn, and the
fake Slack Web API. Events are posted as signed HTTP requests; assertions read the fake's recorded calls.
Shared by tests/test_bot_*.py and benchmarks/slack_ack.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bestbefore.services import Services
from bestbefore.web import create_web_app
from bot.app import SlackBot, build_slack_bot
from rag.answer.pipeline import AskContext
from rag.config import AppConfig, ChannelConfig, IndexConfig, Settings, SourceConfig
from rag.index.refresh import apply_refresh, plan_refresh
from rag.models import Answer, DateOrigin, Document
from tests.fakes.slack_fake import BOT_TOKEN, FakeSlack, event_body, signed_headers

SECRET = "test-signing-secret-0123456789abcdef"
NOW = datetime.now(UTC)

# (source, path, title, updated days ago, text)
DOCS: list[tuple[str, str, str, int, str]] = [
    ("handbook", "leave/holidays.md", "Holiday allowance", 3 * 365,
     "Employees get 25 days of paid holiday per year. Unused holiday days carry over up to 5 days into the next "
     "year. Book holiday days in the HR portal at least two weeks in advance."),
    ("handbook", "leave/contractors.md", "Contractor leave", 12,
     "Contractors do not receive paid holiday. Contractors invoice only for the days they work and agree their "
     "time off with their project lead."),
    ("handbook", "it/vpn.md", "VPN setup", 40,
     "Install the WireGuard client and import the VPN profile from the IT portal. The VPN is required for the "
     "staging servers."),
    ("eng", "deploy.md", "Deploy process", 20,
     "Deploys go out from the main branch through the release pipeline on Tuesdays and Thursdays. Hotfixes need "
     "approval from the on-call engineer."),
]  # fmt: skip


def make_documents(now: datetime = NOW) -> list[Document]:
    docs = []
    for source, path, title, age_days, text in DOCS:
        docs.append(
            Document(
                doc_id=f"{source}:{path}", source=source, path=path, title=title, text=text,
                source_hash=hashlib.sha256(text.encode()).hexdigest(),
                updated_at=now - timedelta(days=age_days), date_origin=DateOrigin.FRONT_MATTER,
                url=f"https://docs.example.com/{source}/{path.removesuffix('.md')}", format="markdown",
            )
        )  # fmt: skip
    return docs


def build_index(services: Services) -> None:
    store, embedder = services.store, services.embedder
    store.ensure_embedder(embedder.id, embedder.dimension)
    documents = make_documents()
    for source in sorted({d.source for d in documents}):
        mine = [d for d in documents if d.source == source]
        plan = plan_refresh(mine, store.stored_docs(source), now=NOW)
        apply_refresh(plan, store=store, embedder=embedder, chunking=services.chunking)


class RecordingRecorder:
    """An answer observer (:mod:`rag.observers`) that keeps what the pipeline saw (question, context) for assertions."""

    def __init__(self) -> None:
        self.seen: list[tuple[Answer, AskContext]] = []
        self._lock = threading.Lock()

    def record_answer(self, answer: Answer, context: AskContext) -> None:
        with self._lock:
            self.seen.append((answer, context))


class WebServer:
    """uvicorn serving an ASGI app in a background thread on a free port."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> WebServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        sockets = self.server.servers[0].sockets
        return f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class BotHarness:
    fake: FakeSlack
    services: Services
    bot: SlackBot
    web: WebServer
    recorder: RecordingRecorder
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def events_url(self) -> str:
        return self.web.url + "/slack/events"

    def post(
        self, body: dict[str, Any], *, secret: str = SECRET, timestamp: float | None = None, **headers: str
    ) -> httpx.Response:
        raw = json.dumps(body).encode()
        return self.http.post(
            self.events_url, content=raw, headers={**signed_headers(secret, raw, timestamp=timestamp), **headers}
        )

    def mention(
        self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", thread_ts: str | None = None
    ) -> tuple[str, httpx.Response]:
        """A person mentions the bot: the message lands in the fake's history and its event is posted."""
        ts = self.fake.add_message(channel, text, user=user, thread_ts=thread_ts)
        event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, self.post(event_body(event))

    def direct_message(
        self, text: str, *, channel: str = "D0ALICE", user: str = "U0ALICE", thread_ts: str | None = None
    ) -> tuple[str, httpx.Response]:
        ts = self.fake.add_message(channel, text, user=user, thread_ts=thread_ts)
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, self.post(event_body(event))

    def wait_answered(self, channel: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until ``count`` placeholders in ``channel`` were replaced; the ``chat.update`` params, in order."""

        def done(fake: FakeSlack) -> bool:
            return len([c for c in fake.calls_to("chat.update") if c.params["channel"] == channel]) >= count

        self.fake.wait_for(done, timeout)
        return [c.params for c in self.fake.calls_to("chat.update") if c.params["channel"] == channel]

    def settle(self) -> None:
        """Wait until every event posted so far is fully handled (its listener and its answer), without a nap."""
        self.bot.runtime.drain(timeout=30)

    def close(self) -> None:
        self.http.close()
        self.web.stop()
        self.bot.close()
        self.services.close()
        self.fake.stop()


def make_settings(home: Path, fake: FakeSlack, *, embedder: str = "hashing", redis_url: str | None = None,
                  channels: dict[str, ChannelConfig] | None = None, database_url: str | None = None,
                  **app: Any) -> Settings:  # fmt: skip
    sources = [SourceConfig(name=name, path=home / name) for name in sorted({doc[0] for doc in DOCS})]  # as indexed
    config = AppConfig(index=IndexConfig(embedder=embedder), channels=channels or {}, **{"sources": sources, **app})
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bestbefore_home=home, slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=fake.url,
        redis_url=redis_url, app=config,
        **({"database_url": database_url} if database_url else {}),  # else DATABASE_URL from the environment
    )  # fmt: skip


def start_harness(home: Path, *, embedder: str = "hashing", redis_url: str | None = None,
                  channels: dict[str, ChannelConfig] | None = None, database_url: str | None = None,
                  **app: Any) -> BotHarness:  # fmt: skip
    fake = FakeSlack().start()
    settings = make_settings(home, fake, embedder=embedder, redis_url=redis_url, channels=channels,
                             database_url=database_url, **app)  # fmt: skip
    recorder = RecordingRecorder()
    services = Services(settings, recorders=[recorder])
    build_index(services)
    bot = build_slack_bot(settings, services)
    web = WebServer(create_web_app(services, slack_app=bot.app)).start()
    return BotHarness(fake=fake, services=services, bot=bot, web=web, recorder=recorder)
