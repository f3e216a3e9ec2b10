"""WeaviateStore specifics through the real weaviate-client against the local fake (REST + gRPC over sockets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from weaviate import WeaviateClient

from rag.errors import ConfigError, StoreError
from rag.index.weaviate_store import WeaviateStore, connect_weaviate
from rag.providers.local_embedder import HashingEmbedder
from tests.conftest import free_port
from tests.fakes.weaviate_fake import FakeWeaviateServer
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
