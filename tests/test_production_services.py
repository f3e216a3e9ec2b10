"""Services built from the environment choose Cohere and Weaviate, driven end to end against both local fakes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bestbefore.services import Services
from rag.answer.pipeline import answer_question, utcnow
from rag.config import load_settings
from rag.errors import EmbedderMismatchError, ProviderAuthError
from rag.index.indexing import refresh_source
from rag.index.sqlite_store import SQLiteStore
from rag.index.weaviate_store import WeaviateStore
from rag.providers.cohere_chat import CohereGenerator
from rag.providers.cohere_embedder import CohereEmbedder, CohereReranker
from tests.fakes.cohere_fake import FakeCohereServer
from tests.fakes.weaviate_fake import FakeWeaviateServer


@pytest.fixture
def cohere_server() -> Iterator[FakeCohereServer]:
    server = FakeCohereServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def weaviate_server() -> Iterator[FakeWeaviateServer]:
    server = FakeWeaviateServer().start()
    yield server
    server.stop()


def write_config(tmp_path: Path, *, embedder: str | None = None, collection: str = "Prod") -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "expenses.md").write_text(
        "---\nupdated: 2020-01-15\n---\n# Expenses\n\nExpenses are reimbursed at the end of each month.\n"
    )
    (docs / "vacation.md").write_text("# Vacation\n\nEmployees accrue two vacation days per month.\n")
    index = f'[index]\nembedder = "{embedder}"\n' if embedder else ""
    config = tmp_path / "bestbefore.toml"
    config.write_text(
        f'[[sources]]\nname = "handbook"\npath = "docs"\n\n{index}'
        f"[cohere]\nembed_dimension = 256\ndeadline = 2.0\n\n"
        f'[weaviate]\ncollection = "{collection}"\nskip_init_checks = true\n'
    )
    return config


def use_fakes(
    monkeypatch: pytest.MonkeyPatch, cohere: FakeCohereServer | None, weaviate: FakeWeaviateServer | None
) -> None:
    if cohere is not None:
        monkeypatch.setenv("COHERE_API_KEY", cohere.fake.api_key)
        monkeypatch.setenv("CO_API_URL", cohere.url)
    if weaviate is not None:
        monkeypatch.setenv("WEAVIATE_URL", weaviate.url)
        monkeypatch.setenv("WEAVIATE_GRPC_PORT", str(weaviate.grpc_port))


def test_services_from_env_answer_through_cohere_and_weaviate(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cohere_server: FakeCohereServer, weaviate_server: FakeWeaviateServer,
) -> None:  # fmt: skip
    use_fakes(monkeypatch, cohere_server, weaviate_server)
    collection = f"Prod{uuid.uuid4().hex[:8]}"
    services = Services(load_settings(write_config(tmp_path, collection=collection)))
    try:
        assert isinstance(services.store, WeaviateStore)
        assert services.embedder.id == "cohere/embed-v4.0" and services.embedder.dimension == 256
        source = services.settings.app.source("handbook")
        result = refresh_source(
            source, store=services.store, embedder=services.embedder, chunking=services.chunking, now=utcnow()
        )
        assert result.docs_new == 2 and result.chunks_embedded == services.store.count_chunks() == 2
        assert isinstance(services.pipeline.generator, CohereGenerator)
        assert isinstance(services.pipeline.reranker, CohereReranker)
        answer = answer_question("When are expenses reimbursed?", services.pipeline)
    finally:
        services.close()
    assert answer.error is None and not answer.refused
    assert "Expenses are reimbursed at the end of each month. [1]" in answer.text
    assert [s.doc_id for s in answer.sources if s.cited] == ["handbook:expenses.md"]
    assert answer.stale_warning is not None and "Expenses" in answer.stale_warning  # front matter says 2020
    assert [c.operation for c in answer.provider_calls] == ["embed", "rerank", "chat"]
    assert len(cohere_server.fake.calls("/v1/models")) == 1  # the key is checked once at start-up
    assert collection in weaviate_server.state.collections


def test_changing_the_embedder_of_an_index_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cohere_server: FakeCohereServer, weaviate_server: FakeWeaviateServer,
) -> None:  # fmt: skip
    use_fakes(monkeypatch, cohere_server, weaviate_server)
    collection = f"Switch{uuid.uuid4().hex[:8]}"
    first = Services(load_settings(write_config(tmp_path, collection=collection)))
    first.pipeline  # noqa: B018 - records the Cohere embedder on the new index
    first.close()
    local = Services(load_settings(write_config(tmp_path, embedder="hashing-256", collection=collection)))
    try:
        assert not isinstance(local.embedder, CohereEmbedder)  # mixing: explicit local embedder + Cohere chat
        with pytest.raises(EmbedderMismatchError, match="bestbefore ingest --full"):
            local.pipeline  # noqa: B018
    finally:
        local.close()


def test_cohere_with_the_embedded_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cohere_server: FakeCohereServer
) -> None:
    use_fakes(monkeypatch, cohere_server, None)
    services = Services(load_settings(write_config(tmp_path)))
    try:
        assert isinstance(services.store, SQLiteStore)
        assert isinstance(services.embedder.id, str) and services.embedder.id.startswith("cohere/")
    finally:
        services.close()


def test_a_bad_cohere_key_fails_at_start_up_naming_the_variable(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cohere_server: FakeCohereServer
) -> None:
    use_fakes(monkeypatch, cohere_server, None)
    monkeypatch.setenv("COHERE_API_KEY", "not-the-key")
    services = Services(load_settings(write_config(tmp_path)))
    with pytest.raises(ProviderAuthError, match="COHERE_API_KEY"):
        services.embedder  # noqa: B018
    services.close()
