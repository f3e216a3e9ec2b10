"""The embedding cache: in-process LRU, and Redis against a real private redis-server (stopped mid-test for outages)."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from bestbefore.services import Services
from rag.answer.extractive import ExtractiveGenerator
from rag.answer.pipeline import RagPipeline, answer_question
from rag.config import AppConfig, IndexConfig, Settings
from rag.index.sqlite_store import SQLiteStore
from rag.models import InputType
from rag.providers.embedding_cache import (
    CachedEmbedder,
    LruEmbeddingCache,
    RedisEmbeddingCache,
    cache_key,
)
from rag.providers.local_embedder import HashingEmbedder
from rag.redis_connection import redacted_url
from tests.conftest import RedisServer, free_port

DAY = 24 * 3600


def lru_embedder(size: int = 100) -> tuple[CachedEmbedder, HashingEmbedder]:
    inner = HashingEmbedder(dimension=32)
    return CachedEmbedder(inner, LruEmbeddingCache(size), query_ttl=DAY, document_ttl=30 * DAY), inner


def redis_embedder(url: str, *, dimension: int = 32, retry_after: float = 0.0) -> CachedEmbedder:
    cache = RedisEmbeddingCache(url, timeout=0.2, retry_after=retry_after)
    return CachedEmbedder(HashingEmbedder(dimension=dimension), cache, query_ttl=DAY, document_ttl=30 * DAY)


# -- in-process LRU ----------------------------------------------------------------------------------------------


def test_second_lookup_is_a_hit_and_returns_the_same_vector() -> None:
    cached, inner = lru_embedder()
    first = cached.embed_query("how many vacation days do I get")
    calls = inner.calls
    second = cached.embed_query("how many vacation days do I get")
    assert (first.cache_hits, first.cache_misses) == (0, 1)
    assert (second.cache_hits, second.cache_misses) == (1, 0)
    assert inner.calls == calls  # the model was not asked again
    np.testing.assert_array_equal(first.vectors, second.vectors)
    np.testing.assert_array_equal(second.vectors, inner.embed_query("how many vacation days do I get").vectors)
    assert cached.stats.hits == 1 and cached.stats.misses == 1


def test_wrapper_keeps_the_index_identity() -> None:
    cached, inner = lru_embedder()
    assert (cached.id, cached.dimension, cached.provider) == (inner.id, inner.dimension, inner.provider)


def test_mixed_batch_embeds_only_misses_and_keeps_order() -> None:
    cached, inner = lru_embedder()
    cached.embed(["alpha", "gamma"], input_type=InputType.DOCUMENT)
    texts = ["alpha", "beta", "gamma", "beta", "delta"]
    batch = cached.embed(texts, input_type=InputType.DOCUMENT)
    assert (batch.cache_hits, batch.cache_misses) == (2, 3)
    expected = inner.embed(texts, input_type=InputType.DOCUMENT).vectors
    np.testing.assert_allclose(batch.vectors, expected, rtol=0, atol=1e-7)
    assert batch.tokens == 2  # "beta" once (duplicates in one call are embedded once) + "delta"


def test_query_and_document_embeddings_are_cached_apart() -> None:
    cached, _ = lru_embedder()
    cached.embed(["refund policy"], input_type=InputType.DOCUMENT)
    as_query = cached.embed(["refund policy"], input_type=InputType.QUERY)
    assert as_query.cache_misses == 1


def test_lru_evicts_least_recently_used_and_expires_entries() -> None:
    now = [0.0]
    cache = LruEmbeddingCache(2, clock=lambda: now[0])
    cache.set_many([("a", b"1"), ("b", b"2")], ttl_seconds=10)
    assert cache.get_many(["a"]) == [b"1"]  # "a" is now the most recent
    cache.set_many([("c", b"3")], ttl_seconds=10)
    assert cache.get_many(["a", "b", "c"]) == [b"1", None, b"3"]
    now[0] = 10.0
    assert cache.get_many(["a", "c"]) == [None, None]
    assert len(cache) == 0


def test_lru_of_size_zero_stores_nothing() -> None:
    cache = LruEmbeddingCache(0)
    cache.set_many([("a", b"1")], ttl_seconds=10)
    assert cache.get_many(["a"]) == [None]


def test_key_names_model_input_type_and_text_hash() -> None:
    key = cache_key("local/hashing-32", InputType.QUERY, "hello")
    assert key == f"bestbefore:emb:v1:local/hashing-32:search_query:{hashlib.sha256(b'hello').hexdigest()}"


def test_redacted_url_hides_credentials() -> None:
    assert redacted_url("redis://user:s3cret@cache.internal:6380/2") == "redis://cache.internal:6380/2"


# -- real Redis --------------------------------------------------------------------------------------------------


def command_calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_redis_round_trip_stores_packed_float32_with_ttls(redis_url: str) -> None:
    cached = redis_embedder(redis_url)
    client = redis.Redis.from_url(redis_url)
    query = cached.embed_query("where is the expense form")
    cached.embed(["chunk one", "chunk two"], input_type=InputType.DOCUMENT)

    key = cache_key(cached.id, InputType.QUERY, "where is the expense form")
    raw = client.get(key)
    assert raw is not None and len(raw) == cached.dimension * 4
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4"), query.vectors[0])
    assert DAY - 5 <= client.ttl(key) <= DAY
    doc_ttl = client.ttl(cache_key(cached.id, InputType.DOCUMENT, "chunk one"))
    assert 30 * DAY - 5 <= doc_ttl <= 30 * DAY

    fresh = redis_embedder(redis_url)  # another process would see the same entries
    again = fresh.embed_query("where is the expense form")
    assert (again.cache_hits, again.cache_misses) == (1, 0)
    np.testing.assert_array_equal(again.vectors, query.vectors)
    client.close()


def test_redis_batch_is_one_mget_and_one_pipeline(redis_url: str) -> None:
    cached = redis_embedder(redis_url)
    client = redis.Redis.from_url(redis_url)
    client.config_resetstat()
    texts = [f"paragraph {i}" for i in range(10)]
    cached.embed(texts, input_type=InputType.DOCUMENT)
    assert command_calls(client, "mget") == 1
    assert command_calls(client, "get") == 0
    assert command_calls(client, "set") == 10
    again = cached.embed(texts, input_type=InputType.DOCUMENT)
    assert again.cache_hits == 10
    assert command_calls(client, "mget") == 2 and command_calls(client, "set") == 10
    client.close()


def test_switching_models_never_returns_a_vector_of_another_model(redis_url: str) -> None:
    small = redis_embedder(redis_url, dimension=32)
    large = redis_embedder(redis_url, dimension=64)
    small.embed_query("the same question")
    other = large.embed_query("the same question")
    assert other.cache_misses == 1
    assert other.vectors.shape == (1, 64)


def test_wrong_sized_value_is_a_miss_and_gets_replaced(redis_url: str) -> None:
    cached = redis_embedder(redis_url)
    client = redis.Redis.from_url(redis_url)
    key = cache_key(cached.id, InputType.QUERY, "q")
    client.set(key, b"\x00" * 12)
    batch = cached.embed_query("q")
    assert batch.cache_misses == 1
    assert len(client.get(key) or b"") == cached.dimension * 4
    client.close()


def test_outage_is_bypassed_logged_once_and_counted(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cached = redis_embedder(redis_url)
    inner = HashingEmbedder(dimension=32)
    cached.embed_query("before the outage")
    caplog.set_level(logging.WARNING, logger="rag.providers.embedding_cache")
    redis_server.stop()
    try:
        for question in ("during one", "during two", "before the outage"):
            batch = cached.embed_query(question)
            np.testing.assert_array_equal(batch.vectors, inner.embed_query(question).vectors)
            assert batch.cache_misses == 1
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(warnings) == 1
        assert cached.stats.outages == 1 and cached.stats.errors >= 3 and not cached.stats.available
    finally:
        redis_server.start()

    cached.embed_query("after recovery")  # first successful call ends the outage
    assert cached.stats.available
    assert cached.embed_query("after recovery").cache_hits == 1
    assert any("is back" in r.getMessage() for r in caplog.records)

    redis_server.stop()
    try:
        cached.embed_query("second outage")
        assert cached.stats.outages == 2
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 2
    finally:
        redis_server.start()


def test_outage_pause_skips_redis_until_retry_after(redis_server: RedisServer, redis_url: str) -> None:
    cached = redis_embedder(redis_url, retry_after=3600.0)
    redis_server.stop()
    try:
        cached.embed_query("one")
        errors = cached.stats.errors
        cached.embed_query("two")
        assert cached.stats.errors == errors  # not even tried while paused
    finally:
        redis_server.start()
    cached.embed_query("three")
    assert not cached.stats.available  # still paused: a recovered server is picked up after retry_after


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on a free loopback port that accepts connections and never answers (a hung Redis)."""
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.timeout(60)
def test_hung_redis_times_out_and_the_query_is_answered(silent_server: int, caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{silent_server}/0"
    caplog.set_level(logging.WARNING, logger="rag.providers.embedding_cache")
    cached = redis_embedder(url)
    batch = cached.embed_query("is the office open on Friday")
    assert batch.vectors.shape == (1, 32) and batch.cache_misses == 1
    assert cached.stats.outages == 1
    assert caplog.records and all("hunter2" not in r.getMessage() for r in caplog.records)
    assert f"127.0.0.1:{silent_server}" in caplog.records[0].getMessage()


def test_answer_reports_cache_hits_and_survives_an_outage(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from rag.index.refresh import apply_refresh, plan_refresh
    from rag.ingest.chunking import ChunkingSettings
    from tests.fakes.refresh_corpus import make_doc

    store = SQLiteStore(tmp_path / "index.sqlite")
    embedder = redis_embedder(redis_url)
    store.ensure_embedder(embedder.id, embedder.dimension)
    docs = [make_doc("kb", "leave.md", "Vacation days\n\nEveryone gets 25 vacation days per year.")]
    plan = plan_refresh(docs, store.stored_docs(), now=datetime(2025, 1, 1, tzinfo=UTC))
    apply_refresh(plan, store=store, embedder=embedder, chunking=ChunkingSettings())
    pipeline = RagPipeline(store=store, embedder=embedder, generator=ExtractiveGenerator())

    first = answer_question("how many vacation days per year", pipeline)
    second = answer_question("how many vacation days per year", pipeline)
    assert first.cache == {"hits": 0, "misses": 1}
    assert second.cache == {"hits": 1, "misses": 0}
    redis_server.stop()
    try:
        during = answer_question("how many vacation days per year", pipeline)
    finally:
        redis_server.start()
    assert during.error is None and during.cache == {"hits": 0, "misses": 1, "outages": 1}
    assert [s.doc_id for s in during.sources][:1] == ["kb:leave.md"]
    store.close()


def test_services_wrap_the_embedder_with_redis_or_lru(home: Path, redis_url: str) -> None:
    app = AppConfig(index=IndexConfig(embedder="hashing-32"))
    with_redis = Services(Settings(redis_url=redis_url, bestbefore_home=home, app=app))
    without = Services(Settings(bestbefore_home=home, app=app))
    try:
        assert isinstance(with_redis.embedder, CachedEmbedder)
        assert isinstance(with_redis.embedder.cache, RedisEmbeddingCache)
        assert isinstance(without.embedder, CachedEmbedder)
        assert isinstance(without.embedder.cache, LruEmbeddingCache)
        assert with_redis.embedder.id == "local/hashing-32"
        with_redis.embedder.embed_query("x")
        client = redis.Redis.from_url(redis_url)
        assert client.ttl(cache_key("local/hashing-32", InputType.QUERY, "x")) > DAY - 5
        client.close()
    finally:
        with_redis.close()
        without.close()
