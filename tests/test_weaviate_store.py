"""WeaviateStore specifics through the real weaviate-client against the local fake (REST + gRPC over sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from weaviate import WeaviateClient
from weaviate.classes.config import Tokenization

from bestbefore import backends
from rag.config import AppConfig, IndexConfig, Settings, SourceConfig, WeaviateConfig
from rag.errors import ConfigError, EmbedderMismatchError, StoreError
from rag.index.weaviate_store import WeaviateStore, connect_weaviate
from rag.models import Chunk, ChunkRecord, InputType
from rag.providers.local_embedder import HashingEmbedder
from tests.conftest import free_port
from tests.fakes.weaviate_fake import FIXED, FakeWeaviateServer, Strictness
from tests.test_store_contract import meta, records


@pytest.fixture
def server() -> Iterator[FakeWeaviateServer]:
    running = FakeWeaviateServer(api_key="wv-secret").start()
    yield running
    running.stop()


def test_connects_through_the_clients_default_start_up_checks(
    server: FakeWeaviateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's start-up checks include a best-effort PyPI version lookup; route https through a closed local
    # port so the test stays offline (the client ignores that failure), and keep local traffic unproxied.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = connect_weaviate(server.url, api_key="wv-secret", grpc_port=server.grpc_port, skip_init_checks=False)
    try:
        assert client.is_ready()
        assert server.state.grpc_calls["HealthCheck"] == 1  # the gRPC health ping of the start-up checks
        store = WeaviateStore(client, collection="Startup")
        store.ensure_embedder("local/hashing-128", 128)
        assert store.embedder() == ("local/hashing-128", 128)
    finally:
        client.close()


def test_wrong_api_key_is_a_clear_start_up_error(server: FakeWeaviateServer) -> None:
    with pytest.raises(StoreError) as caught:
        connect_weaviate(server.url, api_key="wrong", grpc_port=server.grpc_port)
    message = str(caught.value)
    assert "WEAVIATE_API_KEY" in message and server.url in message
    assert "wrong" not in message.replace(server.url, "")


def test_unreachable_weaviate_says_where_it_looked() -> None:
    port = free_port()
    with pytest.raises(StoreError, match=f"Cannot connect to Weaviate at http://127.0.0.1:{port}"):
        connect_weaviate(f"http://127.0.0.1:{port}", grpc_port=free_port(), timeout=2)


def test_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="WEAVIATE_URL"):
        connect_weaviate("localhost:8080")


def test_replace_doc_writes_new_chunks_before_deleting_old_ones(server: FakeWeaviateServer) -> None:
    client = connect_weaviate(server.url, api_key="wv-secret", grpc_port=server.grpc_port, skip_init_checks=True)
    store = WeaviateStore(client, collection="Order")
    embedder = HashingEmbedder(dimension=128)
    store.ensure_embedder(embedder.id, 128)
    doc = meta("handbook:a.md")
    store.replace_doc(doc.doc_id, records(doc, ["one two", "three four", "five six"]))
    server.state.log.clear()
    store.replace_doc(doc.doc_id, records(doc, ["one two"]))
    writes = [i for i, name in enumerate(server.state.log) if name == "BatchObjects"]
    deletes = [i for i, name in enumerate(server.state.log) if name == "BatchDelete"]
    assert writes and deletes and max(writes) < min(deletes)
    assert store.count_chunks() == 1
    store.close()


def test_writes_before_ingest_say_what_to_run(server: FakeWeaviateServer) -> None:
    client = connect_weaviate(server.url, api_key="wv-secret", grpc_port=server.grpc_port, skip_init_checks=True)
    store = WeaviateStore(client, collection="Empty")
    assert store.count_chunks() == 0 and store.stored_docs() == {} and store.embedder() is None
    doc = meta("handbook:a.md")
    with pytest.raises(StoreError, match="bestbefore ingest"):
        store.replace_doc(doc.doc_id, records(doc, ["text"]))
    store.close()


# -- the server's rules (tests/weaviate_fake.py ``Strictness``): one test per finding of issue #15 ------------------
def _store(server: FakeWeaviateServer, collection: str, **kwargs: Any) -> WeaviateStore:
    client = connect_weaviate(server.url, grpc_port=server.grpc_port, skip_init_checks=True)
    return WeaviateStore(client, collection=collection, **kwargs)


@pytest.fixture
def strict() -> Iterator[FakeWeaviateServer]:
    """Weaviate 1.32.4 with its default settings (auto-schema on, 10 000-result window, integer boosts, ...)."""
    running = FakeWeaviateServer(strict=Strictness()).start()
    yield running
    running.stop()


@pytest.fixture
def fixed() -> Iterator[FakeWeaviateServer]:
    """A server without the boost and stopword bugs (1.38), auto-schema off as the compose file sets it."""
    running = FakeWeaviateServer(strict=replace(FIXED, auto_schema=False)).start()
    yield running
    running.stop()


EMBEDDER = HashingEmbedder(dimension=128)


def test_id_and_hash_properties_are_declared_with_field_tokenization(strict: FakeWeaviateServer) -> None:
    store = _store(strict, "Pinned")
    store.ensure_embedder(EMBEDDER.id, 128)
    for name in (store.name, store.docs_name):
        declared = {p.name: p.tokenization for p in store.client.collections.get(name).config.get().properties}
        for prop in ("doc_id", "source", "source_hash"):
            assert declared[prop] == Tokenization.FIELD, (name, prop)
    chunks = {p.name: p.tokenization for p in store.client.collections.get(store.name).config.get().properties}
    assert chunks["chunk_id"] == chunks["chunk_hash"] == Tokenization.FIELD
    store.close()


def _write(store: WeaviateStore, doc_id: str, texts: list[str]) -> None:
    store.replace_doc(doc_id, records(meta(doc_id), texts))


def test_a_collection_auto_created_in_the_reset_gap_is_refused(strict: FakeWeaviateServer) -> None:
    """Finding 1: a refresh writing while `ingest --full` dropped the collections auto-creates them with word
    tokenization; from then on deleting handbook:a.md would delete handbook:b.md. The store refuses to run."""
    ingest, bot = _store(strict, "Gap"), _store(strict, "Gap")
    ingest.ensure_embedder(EMBEDDER.id, 128)
    bot.ensure_embedder(EMBEDDER.id, 128)  # the bot's refresh caches "the collection exists"

    def bot_writes_into_the_gap(name: str) -> None:
        if name == ingest.name:
            _write(bot, "handbook:b.md", ["Bob's page"])

    strict.state.after_schema_delete = bot_writes_into_the_gap
    with pytest.raises(StoreError, match=r"'doc_id' uses word tokenization.*|AUTOSCHEMA_ENABLED=false"):
        ingest.reset(EMBEDDER.id, 128)
    strict.state.after_schema_delete = None
    created = {p.name: p.tokenization for p in ingest.client.collections.get(ingest.name).config.get().properties}
    assert created["doc_id"] == Tokenization.WORD  # what the server's auto-schema made
    with pytest.raises(StoreError, match="AUTOSCHEMA_ENABLED=false"):
        ingest.ensure_embedder(EMBEDDER.id, 128)  # and every later start-up refuses it too
    assert strict.state.collection(ingest.name).objects  # nothing deleted: the refusal came first
    ingest.reset(EMBEDDER.id, 128)  # `ingest --full` with the gap closed rebuilds a collection that is ours
    _write(ingest, "handbook:a.md", ["Alice's page"])
    _write(ingest, "handbook:b.md", ["Bob's page"])
    assert ingest.delete_docs(["handbook:a.md"]) == 1
    assert set(ingest.stored_docs()) == {"handbook:b.md"}
    ingest.close()
    bot.close()


def test_without_auto_schema_a_write_into_the_gap_fails_instead(fixed: FakeWeaviateServer) -> None:
    store = _store(fixed, "NoAuto")
    store.ensure_embedder(EMBEDDER.id, 128)
    store.client.collections.delete(store.name)
    with pytest.raises(StoreError, match="not found"):
        _write(store, "handbook:a.md", ["text"])
    assert not store.client.collections.exists(store.name)
    store.close()


def _titled(store: WeaviateStore) -> None:
    store.ensure_embedder(EMBEDDER.id, 128)
    doc = meta("handbook:leave.md", title="Holidays")
    store.replace_doc(doc.doc_id, records(doc, ["Employees accrue two days per month."]))
    other = meta("handbook:travel.md", title="Travel")
    text = "Holidays abroad need approval from your manager and from the travel desk before anything is booked."
    store.replace_doc(other.doc_id, records(other, [text]))


@pytest.mark.parametrize(
    ("server_rules", "sent"), [(Strictness(), "title^2"), (replace(FIXED, auto_schema=False), "title^1.5")]
)
def test_a_fractional_title_weight_counts_on_every_server(server_rules: Strictness, sent: str) -> None:
    """Finding 2: before 1.38 `title^1.5` is read as 0, so the doc titled "Holidays" ranked below one that only
    mentions holidays in passing (the SQLite store ranks it first); the store rounds the weight there."""
    server = FakeWeaviateServer(strict=server_rules).start()
    try:
        store = _store(server, "Boost", title_weight=1.5)
        _titled(store)
        vector = EMBEDDER.embed_query("holidays").vectors[0]
        hits = store.hybrid_search("holidays", vector, alpha=0.0)
        assert [h.doc.doc_id for h in hits] == ["handbook:leave.md", "handbook:travel.md"]
        assert store.query_properties == [sent, "text"]
        store.close()
    finally:
        server.stop()


def _settings(server: FakeWeaviateServer, tmp_path: Path, **env: Any) -> Settings:
    app = AppConfig(sources=[SourceConfig(name="it", path=tmp_path)], index=IndexConfig(embedder="hashing"))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bestbefore_home=tmp_path / "home", weaviate_url=server.url, weaviate_grpc_port=server.grpc_port, app=app,
        **env,
    )  # fmt: skip


def test_a_source_named_like_a_stopword_is_refused_at_start_up_on_affected_servers(
    strict: FakeWeaviateServer, tmp_path: Path
) -> None:
    """Finding 3: on 1.32.4 filtering on source "it" fails ("only stopwords provided") mid-refresh."""
    with pytest.raises(ConfigError, match=r"'it' is a Weaviate stopword.*1\.32\.4.*1\.32\.16"):
        backends.weaviate_store(_settings(strict, tmp_path))


def test_a_source_named_like_a_stopword_works_on_fixed_servers(fixed: FakeWeaviateServer, tmp_path: Path) -> None:
    store = backends.weaviate_store(_settings(fixed, tmp_path))
    assert store is not None
    store.ensure_embedder(EMBEDDER.id, 128)
    doc = meta("it:laptops.md", source="it")
    store.replace_doc(doc.doc_id, records(doc, ["Encrypt every laptop disk."]))
    assert set(store.stored_docs("it")) == {"it:laptops.md"}
    store.close()


FOOTER = "Questions? Ask in #help."


def test_a_doc_and_a_chunk_hash_beyond_the_result_window(strict: FakeWeaviateServer) -> None:
    """Finding 4: offset paging crosses QUERY_MAXIMUM_RESULTS (10 000): a doc with 10 001 chunks could not be
    rewritten, and a footer shared by 10 001 chunks could not be looked up (one vector per copy, too)."""
    store = _store(strict, "Window")
    store.ensure_embedder(EMBEDDER.id, 128)
    doc = meta("handbook:big.md")
    vector = EMBEDDER.embed([FOOTER], input_type=InputType.DOCUMENT).vectors[0]
    footers = [
        ChunkRecord(Chunk(f"{doc.doc_id}#{i:05d}", doc.doc_id, i, FOOTER, "f" * 64, ()), doc, vector)
        for i in range(10_001)
    ]
    store.replace_doc(doc.doc_id, footers)
    assert store.count_chunks() == 10_001
    strict.state.objects_returned.clear()
    found = store.vectors_by_chunk_hash(["f" * 64, "0" * 64])
    assert list(found) == ["f" * 64] and np.allclose(found["f" * 64], vector, atol=1e-6)
    assert strict.state.objects_returned[store.name] <= 1001  # one page of hashes + one vector, not 10 001
    store.replace_doc(doc.doc_id, footers[:3])  # the stale-chunk lookup reads all 10 001
    assert store.count_chunks() == 3
    assert len(store.stored_docs("handbook")[doc.doc_id].chunk_hashes) == 3
    store.close()


def test_a_new_embedder_over_stored_vectors_of_another_length_is_refused(strict: FakeWeaviateServer) -> None:
    """Finding 5: with the Meta collection gone, a 64-dimension embedder was recorded over 128-dimension vectors
    and the server rejected its vectors partway through the next refresh."""
    store = _store(strict, "Dims")
    store.ensure_embedder(EMBEDDER.id, 128)
    _write(store, "handbook:a.md", ["one", "two"])
    store.client.collections.delete(store.meta_name)
    with pytest.raises(EmbedderMismatchError, match=r"128-dimensional.*bestbefore ingest --full"):
        store.ensure_embedder("local/hashing-64", 64)
    assert store.embedder() is None  # nothing recorded
    store.ensure_embedder(EMBEDDER.id, 128)  # the embedder the vectors were made with is accepted again
    store.close()


def test_the_server_rejects_vectors_of_another_length(strict: FakeWeaviateServer) -> None:
    """What finding 5 guards against, as the server (and the strict fake) does it."""
    store = _store(strict, "Reject")
    store.ensure_embedder(EMBEDDER.id, 128)
    _write(store, "handbook:a.md", ["one"])
    doc = meta("handbook:b.md")
    short = [ChunkRecord(Chunk("handbook:b.md#0", doc.doc_id, 0, "x", "x" * 64, ()), doc, np.ones(64))]
    with pytest.raises(StoreError, match="new node has a vector with length 64"):
        store.replace_doc(doc.doc_id, short)
    store.close()


def test_grpc_can_live_on_another_host(tmp_path: Path) -> None:
    """Finding 6: Weaviate Cloud serves gRPC at grpc-<cluster>; WEAVIATE_GRPC_HOST points there."""
    server = FakeWeaviateServer(grpc_host="127.0.0.2").start()
    try:
        with pytest.raises(StoreError, match=r"gRPC 127\.0\.0\.1:"):
            connect_weaviate(server.url, grpc_port=server.grpc_port, timeout=10)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bestbefore_home=tmp_path, weaviate_url=server.url, weaviate_grpc_host="127.0.0.2",
            weaviate_grpc_port=server.grpc_port, weaviate_grpc_secure=False,
            app=AppConfig(weaviate=WeaviateConfig(skip_init_checks=False)),
        )  # fmt: skip
        store = backends.weaviate_store(settings)
        assert store is not None
        store.ensure_embedder(EMBEDDER.id, 128)
        _write(store, "handbook:a.md", ["one"])
        assert store.count_chunks() == 1 and server.state.grpc_calls["BatchObjects"] >= 1
        store.close()
    finally:
        server.stop()


def test_grpc_tls_is_its_own_setting(tmp_path: Path) -> None:
    """WEAVIATE_GRPC_SECURE=true speaks TLS to the gRPC port even when WEAVIATE_URL is plain http."""
    server = FakeWeaviateServer().start()
    try:
        with pytest.raises(StoreError, match="Cannot connect to Weaviate"):
            connect_weaviate(server.url, grpc_port=server.grpc_port, grpc_secure=True, timeout=2)
        assert server.state.grpc_calls["HealthCheck"] == 0  # the plaintext fake never saw a readable call
    finally:
        server.stop()


def test_listing_a_sources_docs_reads_doc_objects_not_every_chunk(strict: FakeWeaviateServer) -> None:
    """Finding 7: stored_docs(source) scanned every chunk of every source; now one filtered doc-level query."""
    store = _store(strict, "Listing")
    store.ensure_embedder(EMBEDDER.id, 128)
    for source, count in (("handbook", 3), ("eng", 20)):
        for n in range(count):
            doc = meta(f"{source}:doc{n}.md", source=source)
            store.replace_doc(doc.doc_id, records(doc, [f"part {i} of {doc.doc_id}" for i in range(5)]))
    strict.state.objects_returned.clear()
    listed = store.stored_docs("handbook")
    assert set(listed) == {f"handbook:doc{n}.md" for n in range(3)}
    assert all(len(d.chunk_hashes) == 5 for d in listed.values())
    assert listed["handbook:doc1.md"].meta == meta("handbook:doc1.md")
    assert strict.state.objects_returned == {store.docs_name: 3}  # no chunk read at all
    store.close()


def test_doc_objects_follow_write_before_delete(strict: FakeWeaviateServer) -> None:
    """Chunks, then the doc object, then stale chunks go; deleting a doc removes chunks before its doc object."""
    store = _store(strict, "DocOrder")
    store.ensure_embedder(EMBEDDER.id, 128)
    _write(store, "handbook:a.md", ["one", "two", "three"])
    strict.state.log.clear()
    _write(store, "handbook:a.md", ["one"])
    assert [c for c in strict.state.log if c != "Search"] == ["BatchObjects", "BatchObjects", "BatchDelete"]
    assert strict.state.collection(store.docs_name).objects  # the doc object is there, with one chunk
    assert [len(d.chunk_hashes) for d in store.stored_docs().values()] == [1]
    strict.state.log.clear()
    assert store.delete_docs(["handbook:a.md"]) == 1
    assert [c for c in strict.state.log if c == "BatchDelete"] and not strict.state.collection(store.docs_name).objects
    store.close()


def test_an_index_from_before_the_doc_collection_is_backfilled_once(strict: FakeWeaviateServer) -> None:
    store = _store(strict, "Backfill")
    store.ensure_embedder(EMBEDDER.id, 128)
    _write(store, "handbook:a.md", ["one", "two"])
    _write(store, "eng:b.md", ["three"])
    store.client.collections.delete(store.docs_name)  # as an index written by an older bestbefore
    again = _store(strict, "Backfill")
    again.ensure_embedder(EMBEDDER.id, 128)
    assert {k: len(v.chunk_hashes) for k, v in again.stored_docs().items()} == {"handbook:a.md": 2, "eng:b.md": 1}
    again.close()
    store.close()


def test_a_collection_from_before_date_warnings_gains_the_property(server: FakeWeaviateServer) -> None:
    """An index built by an older bestbefore (no ``date_warning`` property) is upgraded in place, not re-indexed."""
    from rag.index.weaviate_store import CHUNK_SCHEMA

    def client() -> WeaviateClient:
        return connect_weaviate(server.url, api_key="wv-secret", grpc_port=server.grpc_port, skip_init_checks=True)

    old = WeaviateStore(client(), collection="Upgraded")
    old.ensure_embedder(HashingEmbedder(dimension=128).id, 128)
    schema = server.state.collections["Upgraded"].schema
    schema["properties"] = [p for p in schema["properties"] if p["name"] != "date_warning"]
    assert len(schema["properties"]) == len(CHUNK_SCHEMA) - 1

    upgraded = WeaviateStore(client(), collection="Upgraded")
    assert upgraded.stored_docs() == {}
    assert "date_warning" in {p["name"] for p in server.state.collections["Upgraded"].schema["properties"]}
    warned = meta("handbook:a.md")
    upgraded.replace_doc("handbook:a.md", records(warned, ["text"]))
    assert upgraded.stored_docs()["handbook:a.md"].meta == warned
    old.close()
    upgraded.close()
