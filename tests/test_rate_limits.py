"""Load and cost limits: per-user / per-channel token buckets (in process and in Redis, shared by replicas), the
friendly "slow down" reply in Slack, and the daily spend cap (extractive answers, no rerank, said in the digest).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs import runs
from rag.answer.pipeline import AskContext, answer_question
from rag.config import LimitsConfig, load_settings
from rag.index.indexing import refresh_source
from rag.limits.buckets import Bucket, LocalTokenBuckets, RedisTokenBuckets
from rag.limits.questions import QuestionLimits
from rag.limits.spend import DailySpend
from tests.conftest import RedisServer, free_port
from tests.fakes.bot_harness import BotHarness, start_harness
from tests.fakes.cohere_fake import FakeCohereServer
from tests.fakes.jobs_support import ledger_of, make_deps, seed_answer
from tests.fakes.slack_fake import BOT_USER

SLOW_DOWN = "You're asking faster than I can answer — try again in"
QUESTION = f"<@{BOT_USER}> How many days of paid holiday do employees get?"


def notices(harness: BotHarness) -> list[str]:
    return [c.params["text"] for c in harness.fake.calls_to("chat.postMessage") if SLOW_DOWN in c.params["text"]]


def answered_users(harness: BotHarness) -> Counter[str]:
    return Counter(str(context.user) for _, context in harness.recorder.seen)


@pytest.fixture
def harness(home: Path) -> Iterator[BotHarness]:
    h = start_harness(home, limits=LimitsConfig(user_per_minute=1, user_burst=2, channel_per_minute=0))
    yield h
    h.close()


def test_a_fast_user_is_told_to_wait_while_another_user_is_answered(harness: BotHarness) -> None:
    for _ in range(5):
        harness.mention(QUESTION, user="U0ALICE")
    harness.fake.wait_for(lambda fake: bool(notices(harness)))
    harness.mention(QUESTION, user="U0BOB")
    harness.wait_answered("C0GENERAL", count=3)  # Alice twice (her burst), Bob once
    harness.settle()
    assert answered_users(harness) == Counter({"U0ALICE": 2, "U0BOB": 1})
    [notice] = notices(harness)  # one notice, not one per refused question
    seconds = int(notice.removeprefix(SLOW_DOWN).split()[0])
    assert 1 <= seconds <= 60


def test_a_busy_channel_is_limited_whoever_asks(home: Path) -> None:
    h = start_harness(home, limits=LimitsConfig(user_per_minute=0, channel_per_minute=1, channel_burst=2))
    try:
        for user in ("U0A", "U0B", "U0C"):
            h.mention(QUESTION, user=user)
        h.fake.wait_for(lambda fake: bool(notices(h)))
        h.wait_answered("C0GENERAL", count=2)
        h.mention(QUESTION, channel="C0OTHER", user="U0C")  # another channel has its own bucket
        h.wait_answered("C0OTHER")
        h.settle()
        assert sum(answered_users(h).values()) == 3
    finally:
        h.close()


def test_two_bot_instances_share_the_redis_buckets(home: Path, tmp_path: Path, redis_url: str) -> None:
    limits = LimitsConfig(user_per_minute=1, user_burst=2, channel_per_minute=0)
    first = start_harness(home, redis_url=redis_url, limits=limits)
    second = start_harness(tmp_path / "replica", redis_url=redis_url, limits=limits)
    try:
        first.mention(QUESTION, user="U0ALICE")
        first.mention(QUESTION, user="U0ALICE")
        first.wait_answered("C0GENERAL", count=2)
        second.mention(QUESTION, user="U0ALICE", channel="C0OTHER")  # another replica: the same bucket
        second.fake.wait_for(lambda fake: bool(notices(second)))
        second.mention(QUESTION, user="U0BOB", channel="C0OTHER")
        second.wait_answered("C0OTHER")
        second.settle()
        assert answered_users(first) == Counter({"U0ALICE": 2})
        assert answered_users(second) == Counter({"U0BOB": 1})
    finally:
        first.close()
        second.close()


def test_the_redis_script_takes_exactly_the_burst_under_concurrency(redis_url: str) -> None:
    buckets = [RedisTokenBuckets(redis_url) for _ in range(2)]  # two replicas
    results: list[bool] = []
    lock = threading.Lock()

    def ask(n: int) -> None:
        taken = buckets[n % 2].take([Bucket("user:U1", 1 / 60, 5), Bucket("channel:C1", 10, 100)])
        with lock:
            results.append(taken.allowed)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5
    denied = buckets[0].take([Bucket("user:U1", 1 / 60, 5)])
    assert not denied.allowed and 50 < denied.retry_after <= 60
    for b in buckets:
        b.close()


def test_redis_down_falls_back_to_limits_in_this_process(redis_server: RedisServer, redis_url: str) -> None:
    buckets = RedisTokenBuckets(redis_url, retry_after=0.0)
    limits = QuestionLimits(buckets, LimitsConfig(user_per_minute=1, user_burst=2, channel_per_minute=0))
    assert limits.admit("U1", "C1").allowed
    redis_server.stop()
    try:
        assert [limits.admit("U2", "C1").allowed for _ in range(3)] == [True, True, False]  # still limited
        assert buckets.outages == 1
    finally:
        redis_server.start()
    closed = RedisTokenBuckets(f"redis://127.0.0.1:{free_port()}/0")
    assert [closed.take([Bucket("k", 1, 1)]).allowed for _ in range(2)] == [True, False]


def test_local_buckets_refill_at_the_configured_rate() -> None:
    now = [1000.0]
    limits = QuestionLimits(LocalTokenBuckets(clock=lambda: now[0]), LimitsConfig(user_per_minute=6, user_burst=2))
    assert [limits.admit("U1", "C1").allowed for _ in range(3)] == [True, True, False]
    refused = limits.admit("U1", "C1")
    assert refused.retry_after == 10 and not refused.notify  # told once a minute at most
    now[0] += 10
    assert limits.admit("U1", "C1").allowed and not limits.admit("U1", "C1").allowed


def test_spend_cap_switches_to_extractive_answers_without_rerank(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohere = FakeCohereServer().start()
    monkeypatch.setenv("COHERE_API_KEY", cohere.fake.api_key)
    monkeypatch.setenv("CO_API_URL", cohere.url)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vacation.md").write_text("# Vacation\n\nEmployees accrue two vacation days per month of service.\n")
    config = tmp_path / "bestbefore.toml"
    config.write_text('[[sources]]\nname = "handbook"\npath = "docs"\n\n[cohere]\nembed_dimension = 256\n\n'
                      "[index]\nmin_relevance = 0.0\n\n[limits]\ndaily_spend_usd = 0.000001\n")  # fmt: skip
    from bestbefore.services import Services

    services = Services(load_settings(config))
    try:
        refresh_source(services.settings.app.sources[0], store=services.store, embedder=services.embedder,
                       chunking=services.chunking, now=datetime.now(UTC))  # fmt: skip
        assert services.spend is not None
        services.spend.refresh_seconds = 0
        question = "How many vacation days do employees accrue?"
        pieces: list[str] = []  # streamed through the cap's wrapper while under the cap
        first = answer_question(question, services.pipeline, context=AskContext("cli", "me"), on_text=pieces.append)
        services.ledger.flush()
        assert first.error is None and len(cohere.fake.calls("/v2/chat")) == 1
        assert pieces and cohere.fake.calls("/v2/chat")[0]["stream"] is True
        assert len(cohere.fake.calls("/v2/rerank")) == 1
        embeds = len(cohere.fake.calls("/v2/embed"))
        assert services.spend.reached()

        again = "Vacation days per month for employees?"  # a new query: not in the embedding cache
        second = answer_question(again, services.pipeline, context=AskContext("cli", "me"), on_text=pieces.append)
        assert len(cohere.fake.calls("/v2/chat")) == 1 and len(cohere.fake.calls("/v2/rerank")) == 1
        assert len(cohere.fake.calls("/v2/embed")) == embeds + 1  # retrieval still embeds the query with Cohere
        assert not second.refused and "two vacation days per month" in second.text
        assert {c.operation for c in second.provider_calls} == {"embed"}
        assert (
            "".join(pieces).strip() in first.text
        )  # over the cap nothing more streams: the extractive answer is whole
    finally:
        services.close()
        cohere.stop()


def test_spend_keeps_its_last_figure_when_the_ledger_cannot_be_read() -> None:
    figures: list[float | Exception] = [0.5, RuntimeError("ledger down"), 2.0]

    def spent(since: datetime, until: datetime) -> float:
        value = figures.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    spend = DailySpend(spent, cap_usd=1.0, refresh_seconds=0)
    assert [spend.reached(), spend.reached(), spend.reached()] == [False, False, True]


def test_the_digest_counts_days_at_the_spend_cap(tmp_path: Path, home: Path) -> None:
    deps = make_deps(tmp_path, limits=LimitsConfig(daily_spend_usd=0.0015))
    ledger = ledger_of(deps)
    try:
        monday = datetime(2026, 11, 16, 10, tzinfo=UTC)  # 2026-W47; each seeded answer costs 0.001 USD
        for at in (monday, monday + timedelta(hours=2), monday + timedelta(days=1)):
            seed_answer(ledger, at)
        digest = runs.compose_digest(deps, "2026-W47", monday + timedelta(days=7))
        figure = digest.figure("spend_cap_days")
        assert figure.value == 1 and "$0.0015/day" in figure.note and "extractive" in figure.note
        assert "Days at the spend cap: 1" in digest.text()
        without_cap = make_deps(tmp_path / "other")
        assert "spend_cap_days" not in {f.key for f in runs.compose_digest(without_cap, "2026-W47", monday).figures}
        ledger_of(without_cap).close()
    finally:
        ledger.close()
