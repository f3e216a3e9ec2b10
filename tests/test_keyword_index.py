"""The in-memory keyword index gives FTS5's own BM25 answers (same rows, same scores) and never a stale one."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.evaluation.beir import corpus_documents, load_beir
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore, query_terms
from rag.ingest.chunking import ChunkingSettings
from rag.models import SearchFilter
from rag.providers.local_embedder import HashingEmbedder
from tests.fakes.refresh_corpus import NOW, make_doc

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"


@pytest.fixture(scope="module")
def scifact_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[SQLiteStore, list[str]]:
    """600 real SciFact abstracts in two sources, indexed with the product's refresh path."""
    if not SCIFACT.exists():
        pytest.skip(f"{SCIFACT} not found (the shared data folder sits beside the project)")
    dataset = load_beir(SCIFACT, "test")
    docs = corpus_documents(dataset)[:600]
    docs = [d if i % 3 else replace(d, source="other", doc_id=f"other:{d.path}") for i, d in enumerate(docs)]
    store = SQLiteStore(tmp_path_factory.mktemp("kw") / "index.sqlite")
    embedder = HashingEmbedder(dimension=32)
    store.ensure_embedder(embedder.id, embedder.dimension)
    plan = plan_refresh(docs, {}, now=NOW)
    apply_refresh(plan, store=store, embedder=embedder, chunking=ChunkingSettings())
    store.warm_up(timeout=60)
    claims = list(dataset.queries.values())[:80] + ["cell cells Cells cellular", "Résumé naïve café", "the of and"]
    return store, claims


def same_answers(memory: dict[int, float], fts5: dict[int, float]) -> None:
    assert memory.keys() == fts5.keys()
    for rowid, score in fts5.items():
        assert memory[rowid] == pytest.approx(score, rel=1e-9, abs=1e-12)


def test_in_memory_bm25_matches_fts5_row_for_row(scifact_store: tuple[SQLiteStore, list[str]]) -> None:
    store, claims = scifact_store
    assert store._current_keywords() is not None  # the index is built: answers below come from memory
    matched = 0
    for claim in claims:
        memory = store.bm25_search(claim, limit=5000)  # deeper than any match list: no ties cut at the limit
        terms = query_terms(claim)
        same_answers(memory, store._bm25_fts5(terms, limit=5000, where=None) if terms else {})
        matched += bool(memory)
    assert matched >= len(claims) - 1  # only the all-stopword query finds nothing


def test_filters_give_the_fts5_answers(scifact_store: tuple[SQLiteStore, list[str]]) -> None:
    store, claims = scifact_store
    some_docs = tuple(sorted(store.stored_docs("other"))[:40])
    for where in (SearchFilter(sources=("other",)), SearchFilter(doc_ids=some_docs), SearchFilter(sources=())):
        for claim in claims[:20]:  # real claims: each has terms
            memory = store.bm25_search(claim, limit=5000, where=where)
            same_answers(memory, store._bm25_fts5(query_terms(claim), limit=5000, where=where))


def test_a_write_is_searchable_at_once_and_the_index_catches_up(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "index.sqlite")
    embedder = HashingEmbedder(dimension=32)
    store.ensure_embedder(embedder.id, embedder.dimension)
    first = [make_doc("kb", f"d{i}.md", f"# Page {i}\n\nThe laptop policy, part {i}.") for i in range(20)]
    apply_refresh(plan_refresh(first, {}, now=NOW), store=store, embedder=embedder, chunking=ChunkingSettings())
    store.warm_up(timeout=60)
    built = store._current_keywords()
    assert built is not None
    assert store.bm25_search("zebra crossing", limit=10) == {}
    late = [make_doc("kb", "zebra.md", "# Zebra\n\nA zebra crossing sits outside the office.")]
    apply_refresh(plan_refresh(late, {}, now=NOW), store=store, embedder=embedder, chunking=ChunkingSettings())
    assert len(store.bm25_search("zebra crossing", limit=10)) == 1  # the stale index is never used
    deadline = time.monotonic() + 60
    while (index := store._current_keywords()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert index is not None and index.generation > built.generation
    assert len(store.bm25_search("zebra crossing", limit=10)) == 1
    store.close()


def test_an_in_memory_database_is_answered_by_fts5_alone() -> None:
    store = SQLiteStore(":memory:")  # a second connection would see another, empty database
    embedder = HashingEmbedder(dimension=32)
    store.ensure_embedder(embedder.id, embedder.dimension)
    docs = [make_doc("kb", "zebra.md", "# Zebra\n\nA zebra crossing sits outside the office.")]
    apply_refresh(plan_refresh(docs, {}, now=NOW), store=store, embedder=embedder, chunking=ChunkingSettings())
    assert len(store.bm25_search("zebra", limit=10)) == 1
    assert store._current_keywords() is None and store._keyword_build is None  # no index, no thread
    store.close()
