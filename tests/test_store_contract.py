"""The ``VectorStore`` contract, run against every backend: the embedded SQLite store, ``WeaviateStore`` through
the real weaviate-client on a local fake Weaviate, and (``-m real_weaviate`` with ``WEAVIATE_URL``) a real Weaviate.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from rag.errors import EmbedderMismatchError
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.index.store import VectorStore
from rag.index.weaviate_store import WeaviateStore, connect_weaviate
from rag.ingest.chunking import ChunkingSettings
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, Document, InputType, SearchFilter
from rag.providers.embedding import EmbeddingBatch
from rag.providers.local_embedder import HashingEmbedder
from tests.fakes.weaviate_fake import FakeWeaviateServer, Strictness

NOW = datetime(2025, 6, 1, tzinfo=UTC)
CHUNKING = ChunkingSettings(max_tokens=60, overlap_tokens=0)


class CountingEmbedder(HashingEmbedder):
    """HashingEmbedder that remembers every text it embedded."""

    def __init__(self) -> None:
        super().__init__(dimension=128)
        self.texts: list[str] = []

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        self.texts.extend(texts)
        return super().embed_batch(texts, input_type=input_type)


@pytest.fixture(scope="module")
def fake_weaviate() -> Iterator[FakeWeaviateServer]:
    server = FakeWeaviateServer(strict=Strictness()).start()  # as strict as Weaviate 1.32.4
    yield server
    server.stop()


def _real_weaviate_url() -> str:
    url = os.environ.get("WEAVIATE_URL")
    if not url:
        pytest.skip("real Weaviate contract run needs WEAVIATE_URL (e.g. http://localhost:8080); not set")
    return url


@pytest.fixture(
    params=[
        "sqlite",
        "weaviate-fake",
        pytest.param("weaviate-real", marks=pytest.mark.real_weaviate),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    collection = f"Contract{uuid.uuid4().hex[:10]}"
    made: VectorStore
    if request.param == "sqlite":
        made = SQLiteStore(tmp_path / "index.sqlite")
    elif request.param == "weaviate-fake":
        server: FakeWeaviateServer = request.getfixturevalue("fake_weaviate")
        made = WeaviateStore(connect_weaviate(server.url, grpc_port=server.grpc_port), collection=collection)
    else:
        url = _real_weaviate_url()
        grpc_port = os.environ.get("WEAVIATE_GRPC_PORT")
        client = connect_weaviate(
            url, api_key=os.environ.get("WEAVIATE_API_KEY"), grpc_port=int(grpc_port) if grpc_port else None
        )
        made = WeaviateStore(client, collection=collection)
    yield made
    if isinstance(made, WeaviateStore):
        made.client.collections.delete([made.name, made.docs_name, made.meta_name])
    made.close()


EMBEDDER = HashingEmbedder(dimension=128)


def meta(doc_id: str, *, source: str = "handbook", title: str = "Title", updated: datetime = NOW) -> DocMeta:
    return DocMeta(
        doc_id=doc_id,
        source=source,
        path=doc_id.split(":", 1)[1],
        title=title,
        source_hash=hashlib.sha256(doc_id.encode()).hexdigest(),
        updated_at=updated,
        date_origin=DateOrigin.GIT,
        url=f"https://example.test/{doc_id}",
        owner="@alice",
    )


def records(doc: DocMeta, texts: Sequence[str]) -> list[ChunkRecord]:
    vectors = EMBEDDER.embed(list(texts), input_type=InputType.DOCUMENT).vectors
    return [
        ChunkRecord(
            Chunk(
                f"{doc.doc_id}#{i}", doc.doc_id, i, text, hashlib.sha256(text.encode()).hexdigest(), ("Policy", "Part")
            ),
            doc,
            vectors[i],
        )
        for i, text in enumerate(texts)
    ]


def search(store: VectorStore, query: str, **kwargs: object) -> list[str]:
    vector = EMBEDDER.embed_query(query).vectors[0]
    return [hit.chunk.chunk_id for hit in store.hybrid_search(query, vector, **kwargs)]  # type: ignore[arg-type]


def seed(store: VectorStore) -> None:
    store.ensure_embedder(EMBEDDER.id, EMBEDDER.dimension)
    store.replace_doc("handbook:expenses.md", records(meta("handbook:expenses.md", title="Expenses"), [
        "Expenses are reimbursed at the end of each month.",
        "Submit receipts for travel within thirty days.",
    ]))  # fmt: skip
    store.replace_doc("handbook:vacation.md", records(meta("handbook:vacation.md", title="Vacation"), [
        "Employees accrue two vacation days per month.",
    ]))  # fmt: skip
    store.replace_doc("eng:oncall.md", records(meta("eng:oncall.md", source="eng", title="On-call"), [
        "The on-call engineer answers pages within fifteen minutes.",
    ]))  # fmt: skip


def test_upsert_then_hybrid_search_finds_the_doc(store: VectorStore) -> None:
    seed(store)
    assert store.count_chunks() == 4
    hits = store.hybrid_search(
        "when are expenses reimbursed", EMBEDDER.embed_query("when are expenses reimbursed").vectors[0], limit=3
    )
    assert hits[0].chunk.chunk_id == "handbook:expenses.md#0"
    top = hits[0]
    assert top.doc == meta("handbook:expenses.md", title="Expenses")
    assert top.chunk.heading_path == ("Policy", "Part")
    assert top.chunk.text == "Expenses are reimbursed at the end of each month."
    assert top.vector_score is not None and top.vector_score > 0.3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_alpha_switches_between_keyword_and_vector_ranking(store: VectorStore) -> None:
    seed(store)
    assert search(store, "pages", alpha=0.0, limit=5) == ["eng:oncall.md#0"]  # BM25 only: the one doc with the word
    assert len(search(store, "pages", alpha=1.0, limit=5)) == 4  # vector only: every chunk has a cosine


def test_filters_by_source_and_doc(store: VectorStore) -> None:
    seed(store)
    assert search(store, "pages engineer", where=SearchFilter(sources=("handbook",)), limit=10) and all(
        c.startswith("handbook:") for c in search(store, "pages engineer", where=SearchFilter(sources=("handbook",)))
    )
    assert search(store, "expenses", where=SearchFilter(sources=("eng",))) == ["eng:oncall.md#0"]
    assert search(store, "expenses", where=SearchFilter(doc_ids=("handbook:vacation.md",))) == [
        "handbook:vacation.md#0"
    ]
    assert search(store, "expenses", where=SearchFilter(sources=())) == []


def test_delete_docs_removes_all_their_chunks(store: VectorStore) -> None:
    seed(store)
    assert store.delete_docs(["handbook:expenses.md", "handbook:missing.md"]) == 2
    assert store.count_chunks() == 2
    assert set(store.stored_docs()) == {"handbook:vacation.md", "eng:oncall.md"}
    assert not any(c.startswith("handbook:expenses") for c in search(store, "expenses reimbursed", limit=10))


def test_replace_doc_keeps_no_old_chunks(store: VectorStore) -> None:
    seed(store)
    doc = meta("handbook:expenses.md", title="Expenses")
    store.replace_doc(doc.doc_id, records(doc, ["Expenses are now reimbursed every week."]))
    assert store.count_chunks() == 3
    stored = store.stored_docs("handbook")[doc.doc_id]
    assert list(stored.chunk_hashes) == ["handbook:expenses.md#0"]
    assert (
        stored.chunk_hashes["handbook:expenses.md#0"]
        == hashlib.sha256(b"Expenses are now reimbursed every week.").hexdigest()
    )
    assert "handbook:expenses.md#1" not in search(store, "receipts travel", limit=10)


def test_stored_docs_lists_meta_and_hashes_per_source(store: VectorStore) -> None:
    seed(store)
    handbook = store.stored_docs("handbook")
    assert set(handbook) == {"handbook:expenses.md", "handbook:vacation.md"}
    assert handbook["handbook:vacation.md"].meta == meta("handbook:vacation.md", title="Vacation")
    assert len(handbook["handbook:expenses.md"].chunk_hashes) == 2
    assert set(store.stored_docs()) == set(handbook) | {"eng:oncall.md"}
    assert store.stored_docs("nothing") == {}


def test_vectors_by_chunk_hash_returns_the_written_vectors(store: VectorStore) -> None:
    seed(store)
    text = "Employees accrue two vacation days per month."
    wanted = hashlib.sha256(text.encode()).hexdigest()
    found = store.vectors_by_chunk_hash([wanted, "0" * 64])
    assert list(found) == [wanted]
    assert np.allclose(found[wanted], EMBEDDER.embed([text], input_type=InputType.DOCUMENT).vectors[0], atol=1e-6)


def test_update_doc_meta_changes_metadata_but_not_vectors(store: VectorStore) -> None:
    seed(store)
    hashes = store.stored_docs("handbook")["handbook:vacation.md"].chunk_hashes
    before = store.vectors_by_chunk_hash(list(hashes.values()))
    renamed = meta("handbook:vacation.md", title="Holidays", updated=NOW + timedelta(days=3))
    store.update_doc_meta(renamed)
    assert store.stored_docs("handbook")["handbook:vacation.md"].meta == renamed
    after = store.vectors_by_chunk_hash(list(hashes.values()))
    assert all(np.array_equal(before[h], after[h]) for h in before)
    assert search(store, "holidays", alpha=0.0) == ["handbook:vacation.md#0"]


def test_a_date_warning_is_kept_and_cleared_with_the_doc_meta(store: VectorStore) -> None:
    """``bestbefore sources`` shows why a front-matter date was not trusted: the store keeps the warning."""
    seed(store)
    warned = replace(
        meta("handbook:vacation.md", title="Vacation"),
        date_warning="last_reviewed: 2031-01-01 is in the future; not used",
    )
    store.update_doc_meta(warned)
    assert store.stored_docs("handbook")["handbook:vacation.md"].meta == warned
    store.update_doc_meta(replace(warned, date_warning=None))
    assert store.stored_docs("handbook")["handbook:vacation.md"].meta.date_warning is None


def test_embedder_mismatch_is_refused_with_the_rebuild_hint(store: VectorStore) -> None:
    seed(store)
    store.ensure_embedder(EMBEDDER.id, EMBEDDER.dimension)  # same embedder: fine
    with pytest.raises(EmbedderMismatchError, match="bestbefore ingest --full"):
        store.ensure_embedder("cohere/embed-v4.0", 1536)
    store.reset("cohere/embed-v4.0", 1536)
    assert store.count_chunks() == 0
    store.ensure_embedder("cohere/embed-v4.0", 1536)
    with pytest.raises(EmbedderMismatchError):
        store.ensure_embedder(EMBEDDER.id, EMBEDDER.dimension)


# -- refresh scenarios (plan_refresh / apply_refresh over each store) ----------------------------------------------
def document(path: str, text: str, *, title: str | None = None) -> Document:
    return Document(
        doc_id=f"handbook:{path}",
        source="handbook",
        path=path,
        title=title or path,
        text=text,
        source_hash=hashlib.sha256(text.encode()).hexdigest(),
        updated_at=NOW,
        date_origin=DateOrigin.GIT,
        format="markdown",
    )


SECTIONS = {
    "expenses.md": "# Expenses\n\n## Claims\n\nClaims are paid monthly.\n\n## Receipts\n\nKeep receipts for a year.\n",
    "travel.md": "# Travel\n\n## Booking\n\nBook trains through the portal.\n\n## Hotels\n\nHotels up to 150 EUR.\n",
    "security.md": "# Security\n\n## Laptops\n\nEncrypt every laptop disk.\n",
}


def refresh(store: VectorStore, docs: list[Document], embedder: CountingEmbedder) -> dict[str, int]:
    store.ensure_embedder(embedder.id, embedder.dimension)
    plan = plan_refresh(docs, store.stored_docs("handbook"), now=NOW)
    result = apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING)
    return {"embedded": result.chunks_embedded, "reused": result.chunks_reused, "removed": result.docs_removed}


def test_refresh_edit_embeds_only_the_changed_chunks(store: VectorStore) -> None:
    embedder = CountingEmbedder()
    docs = [document(p, t) for p, t in SECTIONS.items()]
    first = refresh(store, docs, embedder)
    total = store.count_chunks()
    assert first["embedded"] == total == len(embedder.texts) >= 5
    embedder.texts.clear()
    edited = SECTIONS["expenses.md"].replace("Keep receipts for a year.", "Keep receipts for two years.")
    docs[0] = document("expenses.md", edited)
    second = refresh(store, docs, embedder)
    assert second["embedded"] == 1 and len(embedder.texts) == 1 and "two years" in embedder.texts[0]
    assert store.count_chunks() == total
    assert refresh(store, docs, embedder)["embedded"] == 0  # nothing changed: nothing embedded


def test_refresh_removes_a_deleted_doc(store: VectorStore) -> None:
    embedder = CountingEmbedder()
    docs = [document(p, t) for p, t in SECTIONS.items()]
    refresh(store, docs, embedder)
    result = refresh(store, docs[:2], embedder)
    assert result["removed"] == 1 and result["embedded"] == 0
    assert "handbook:security.md" not in store.stored_docs("handbook")
    assert search(store, "encrypt laptop disk", alpha=0.0) == []


def test_refresh_rename_reuses_vectors(store: VectorStore) -> None:
    embedder = CountingEmbedder()
    docs = [document(p, t) for p, t in SECTIONS.items()]
    refresh(store, docs, embedder)
    embedder.texts.clear()
    renamed = [docs[0], docs[1], document("it-security.md", SECTIONS["security.md"], title="security.md")]
    result = refresh(store, renamed, embedder)
    stored = store.stored_docs("handbook")
    assert "handbook:security.md" not in stored and "handbook:it-security.md" in stored
    assert result["removed"] == 1 and result["embedded"] == 0 and result["reused"] >= 1
    assert embedder.texts == []  # same text under a new path: its vectors are reused, nothing is embedded
    vector = EMBEDDER.embed_query("encrypt laptop disk").vectors[0]
    hits = store.hybrid_search("encrypt laptop disk", vector, alpha=0.0)
    assert [h.doc.doc_id for h in hits] == ["handbook:it-security.md"]


def test_passage_dates_are_stored_with_each_chunk_and_kept_for_unchanged_text(store: VectorStore) -> None:
    """#14: the first-seen passage date of an unchanged chunk survives an edit of its doc; search hits carry it."""
    embedder = CountingEmbedder()
    docs = [document(p, t) for p, t in SECTIONS.items()]
    store.ensure_embedder(embedder.id, embedder.dimension)
    apply_refresh(plan_refresh(docs, {}, now=NOW), store=store, embedder=embedder, chunking=CHUNKING)
    later = NOW + timedelta(days=90)
    docs[1] = document("travel.md", SECTIONS["travel.md"].replace("150 EUR", "180 EUR"))
    plan = plan_refresh(docs, store.stored_docs("handbook"), now=later)
    apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING)
    travel = store.passages("handbook")["handbook:travel.md"]
    assert [when for when, _ in travel] == [NOW, later] and all(length > 0 for _, length in travel)
    hits = store.hybrid_search("hotels", embedder.embed_query("hotels").vectors[0], limit=3)
    [hit] = [h for h in hits if "Hotels up to" in h.chunk.text]
    assert hit.chunk.passage_at == later
