"""Incremental refresh by source_hash: what is embedded, reused and deleted; crash safety; no gap for readers."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import rag.index.refresh
from rag.index.refresh import RefreshResult, apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import chunk_document
from rag.models import Document, InputType, SearchFilter
from rag.providers.embedding import EmbeddingBatch
from rag.providers.local_embedder import HashingEmbedder
from tests.fakes.refresh_corpus import (
    CHUNKING,
    NOW,
    docs_to_json,
    dump_index,
    edit_every_doc,
    make_doc,
    version_one,
    version_two,
)

HELPER = Path(__file__).parent / "fakes" / "refresh_crash_helper.py"
REQUIRED_JSON_KEYS = {
    "docs_new", "docs_changed", "docs_unchanged", "docs_removed", "docs_skipped",
    "chunks_embedded", "chunks_reused", "chunks_deleted", "chunks_truncated", "seconds",
}  # fmt: skip


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder (64 dims, like the crash helper), remembering every text it embedded."""

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__(dimension=64)
        self.texts: list[str] = []
        self.delay = delay
        self.batch_size = 4

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        self.texts.extend(texts)
        if self.delay:
            time.sleep(self.delay)
        return super().embed_batch(texts, input_type=input_type)


def refresh(store: SQLiteStore, docs: list[Document], embedder: CountingEmbedder | None = None) -> RefreshResult:
    embedder = embedder or CountingEmbedder()
    store.ensure_embedder(embedder.id, embedder.dimension)
    plan = plan_refresh(docs, store.stored_docs(), now=NOW)
    return apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING, batch_chunks=4)


def chunk_hashes(docs: list[Document]) -> set[str]:
    return {c.chunk_hash for d in docs for c in chunk_document(d, CHUNKING)}


def built(path: Path, docs: list[Document]) -> SQLiteStore:
    store = SQLiteStore(path)
    refresh(store, docs)
    return store


@pytest.fixture(scope="module")
def clean_v2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The dump of a clean full build of version two."""
    path = tmp_path_factory.mktemp("clean") / "index.sqlite"
    built(path, version_two(version_one())[0]).close()
    return dump_index(path)


# -- what is embedded --------------------------------------------------------------------------------------------


def test_second_run_embeds_nothing_and_says_so(tmp_path: Path) -> None:
    docs = version_one()
    store = SQLiteStore(tmp_path / "index.sqlite")
    first = refresh(store, docs)
    assert first.chunks_embedded == len(chunk_hashes(docs)) == store.count_chunks()
    assert first.docs_new == len(docs)

    embedder = CountingEmbedder()
    second = refresh(store, docs, embedder)
    assert embedder.texts == []
    assert (second.chunks_embedded, second.chunks_reused, second.chunks_deleted) == (0, 0, 0)
    assert (second.docs_unchanged, second.docs_new, second.docs_changed, second.docs_removed) == (len(docs), 0, 0, 0)
    assert second.summary() == f"Nothing changed: {len(docs)} docs up to date, 0 chunks embedded."
    store.close()


def test_unchanged_docs_cost_one_hash_and_are_not_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = version_one()
    store = built(tmp_path / "index.sqlite", docs)
    chunked: list[str] = []
    real = rag.index.refresh.chunk_document

    def counting(doc: Document, settings: object, tokens: object) -> object:
        chunked.append(doc.doc_id)
        return real(doc, settings, tokens)  # type: ignore[arg-type]

    monkeypatch.setattr(rag.index.refresh, "chunk_document", counting)
    edited = [d if d.path != "docs/doc-04.md" else make_doc("kb", d.path, d.text + "\n\nOne more line.") for d in docs]
    refresh(store, edited)
    assert chunked == ["kb:docs/doc-04.md"]
    store.close()


def test_every_kind_of_change_embeds_only_new_chunk_texts(tmp_path: Path, clean_v2: dict[str, object]) -> None:
    v1 = version_one()
    v2, expected = version_two(v1)
    store = built(tmp_path / "index.sqlite", v1)
    embedder = CountingEmbedder()
    result = refresh(store, v2, embedder)

    new_hashes = chunk_hashes(v2) - chunk_hashes(v1)
    embedded_hashes = {c.chunk_hash for d in v2 for c in chunk_document(d, CHUNKING) if c.text in embedder.texts}
    assert embedded_hashes == new_hashes
    assert result.chunks_embedded == len(embedder.texts) == sum(expected.values()) == 2
    assert (result.docs_new, result.docs_changed, result.docs_removed, result.docs_relabelled) == (3, 4, 3, 1)
    assert result.docs_unchanged == len(v2) - 3 - 4 - 1
    ids_v1, ids_v2 = chunk_ids(v1), chunk_ids(v2)
    assert result.chunks_deleted == len(ids_v1 - ids_v2)
    assert result.chunks_reused == _rewritten_chunks(v1, v2) - result.chunks_embedded
    assert store.count_chunks() == len(ids_v2)
    store.close()
    assert dump_index(tmp_path / "index.sqlite") == clean_v2


def chunk_ids(docs: list[Document]) -> set[str]:
    return {c.chunk_id for d in docs for c in chunk_document(d, CHUNKING)}


def _rewritten_chunks(v1: list[Document], v2: list[Document]) -> int:
    """Chunks of the docs a refresh writes (new, or same id with other text)."""
    old = {d.doc_id: d.source_hash for d in v1}
    return sum(len(chunk_document(d, CHUNKING)) for d in v2 if old.get(d.doc_id) != d.source_hash)


def test_rename_and_casing_change_reuse_every_vector(tmp_path: Path) -> None:
    docs = version_one(4)
    store = built(tmp_path / "index.sqlite", docs)
    old_vectors = store.vectors_by_chunk_hash(sorted(chunk_hashes(docs)))
    renamed = [make_doc("kb", "moved/" + d.path.upper(), d.text) if d.path.endswith("01.md") else d for d in docs]
    embedder = CountingEmbedder()
    result = refresh(store, renamed, embedder)
    assert embedder.texts == [] and result.chunks_embedded == 0
    assert (result.docs_new, result.docs_removed, result.chunks_reused, result.chunks_deleted) == (1, 1, 3, 3)
    stored = store.stored_docs()
    assert "kb:docs/doc-01.md" not in stored and "kb:moved/DOCS/DOC-01.MD" in stored
    for hash_, vector in store.vectors_by_chunk_hash(sorted(chunk_hashes(docs))).items():
        np.testing.assert_array_equal(vector, old_vectors[hash_])
    store.close()


def test_deleted_doc_loses_every_vector_and_search_hit(tmp_path: Path) -> None:
    docs = version_one(5)
    store = built(tmp_path / "index.sqlite", docs)
    gone = docs[2]
    assert store.hybrid_search("Topic 2-1", np.zeros(64, dtype=np.float32), alpha=0.0, limit=50)
    result = refresh(store, [d for d in docs if d is not gone])
    assert (result.docs_removed, result.chunks_deleted, result.chunks_embedded) == (1, 3, 0)
    assert gone.doc_id not in store.stored_docs()
    assert store.count_chunks() == 12
    assert store.vectors_by_chunk_hash(sorted(chunk_hashes([gone]))) == {}
    hits = store.hybrid_search("Topic 2-1", np.zeros(64, dtype=np.float32), alpha=0.0, limit=50)
    assert all(h.doc.doc_id != gone.doc_id for h in hits)
    store.close()


def test_added_doc_embeds_only_its_chunks(tmp_path: Path) -> None:
    docs = version_one(5)
    store = built(tmp_path / "index.sqlite", docs)
    extra = make_doc("kb", "docs/extra.md", "## Extra\n\nA brand new page about the parking garage rules.")
    embedder = CountingEmbedder()
    result = refresh(store, [*docs, extra], embedder)
    assert (result.docs_new, result.docs_unchanged, result.chunks_embedded) == (1, 5, 1)
    assert embedder.texts == [chunk_document(extra, CHUNKING)[0].text]
    store.close()


def test_metadata_only_change_embeds_nothing_and_updates_the_store(tmp_path: Path) -> None:
    docs = version_one(3)
    store = built(tmp_path / "index.sqlite", docs)
    doc = docs[0]
    relabelled = make_doc("kb", doc.path, doc.text, title="Zanzibar handbook", owner="@people", updated_at=NOW)
    embedder = CountingEmbedder()
    result = refresh(store, [relabelled, *docs[1:]], embedder)
    assert embedder.texts == [] and result.chunks_embedded == 0
    assert (result.docs_relabelled, result.docs_changed, result.docs_unchanged) == (1, 0, 2)
    meta = store.stored_docs()[doc.doc_id].meta
    assert (meta.title, meta.owner, meta.updated_at) == ("Zanzibar handbook", "@people", NOW)
    hits = store.hybrid_search("Zanzibar", np.zeros(64, dtype=np.float32), alpha=0.0)
    assert {h.doc.doc_id for h in hits} == {doc.doc_id}
    store.close()


def test_undated_doc_keeps_its_first_seen_date_while_its_text_is_unchanged(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "index.sqlite")
    doc = make_doc("kb", "a.md", "## A\n\nSome text.")
    embedder = CountingEmbedder()
    store.ensure_embedder(embedder.id, embedder.dimension)
    apply_refresh(plan_refresh([doc], {}, now=NOW), store=store, embedder=embedder, chunking=CHUNKING)
    later = NOW.replace(year=2026)
    plan = plan_refresh([doc], store.stored_docs(), now=later)
    assert plan.unchanged == [doc.doc_id] and not plan.relabel
    edited = make_doc("kb", "a.md", "## A\n\nSome other text.")
    plan = plan_refresh([edited], store.stored_docs(), now=later)
    assert [c.meta.updated_at for c in plan.changed] == [later]
    store.close()


def test_plan_with_scope_removes_only_scanned_paths() -> None:
    docs = version_one(4)
    stored_store = SQLiteStore(":memory:")
    refresh(stored_store, docs)
    stored = stored_store.stored_docs()
    plan = plan_refresh([docs[0]], stored, now=NOW, scope=[docs[0].path, docs[1].path])
    assert plan.removed == [docs[1].doc_id]
    assert plan.unchanged == [docs[0].doc_id]
    assert plan_refresh([docs[0]], stored, now=NOW).removed == sorted(d.doc_id for d in docs[1:])
    stored_store.close()


def test_result_record_json_has_the_documented_keys() -> None:
    record = RefreshResult(docs_unchanged=3, seconds=0.123456).to_json()
    assert record.keys() >= REQUIRED_JSON_KEYS
    assert json.loads(json.dumps(record))["seconds"] == 0.1235


# -- crash safety ------------------------------------------------------------------------------------------------


def run_helper(index: Path, docs_json: Path, *kill: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HELPER), str(index), str(docs_json), *kill],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def v1_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v1") / "index.sqlite"
    built(path, version_one()).close()
    assert not path.with_name("index.sqlite-wal").exists()
    return path


@pytest.mark.parametrize(
    "kills",
    [
        [("--kill-after-writes", 1)],
        [("--kill-after-writes", 4)],
        [("--kill-after-writes", 8)],
        [("--kill-at-upsert", 5)],  # inside a doc's transaction, new rows written, old ones not yet removed
        [("--kill-at-delete", 1)],  # inside a changed doc's transaction, after its stale rows were deleted
        [("--kill-at-delete", 5)],  # inside the final delete of removed docs
        [("--kill-after-writes", 3), ("--kill-after-writes", 2), ("--kill-at-upsert", 2)],  # killed again and again
    ],
    ids=["write1", "write4", "write8", "mid-upsert", "mid-stale-delete", "mid-doc-delete", "three-kills"],
)
def test_killed_refresh_converges_to_a_clean_build(
    tmp_path: Path, v1_index: Path, clean_v2: dict[str, object], kills: list[tuple[str, int]]
) -> None:
    index = tmp_path / "index.sqlite"
    shutil.copy(v1_index, index)
    docs_json = tmp_path / "v2.json"
    docs_json.write_text(docs_to_json(version_two(version_one())[0]), encoding="utf-8")
    for flag, count in kills:
        killed = run_helper(index, docs_json, flag, str(count))
        assert killed.returncode == -signal.SIGKILL, killed.stderr
    finished = run_helper(index, docs_json)
    assert finished.returncode == 0, finished.stderr
    assert dump_index(index) == clean_v2
    again = run_helper(index, docs_json)
    assert json.loads(again.stdout)["chunks_embedded"] == 0


def test_killed_first_build_converges_to_a_clean_build(tmp_path: Path, v1_index: Path) -> None:
    index = tmp_path / "index.sqlite"
    docs_json = tmp_path / "v1.json"
    docs_json.write_text(docs_to_json(version_one()), encoding="utf-8")
    killed = run_helper(index, docs_json, "--kill-after-writes", "10")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = run_helper(index, docs_json)
    assert rerun.returncode == 0, rerun.stderr
    assert 0 < json.loads(rerun.stdout)["chunks_embedded"] < len(chunk_hashes(version_one()))
    assert dump_index(index) == dump_index(v1_index)


# -- no gap for readers ------------------------------------------------------------------------------------------


def test_concurrent_reader_always_sees_exactly_one_version_of_every_doc(tmp_path: Path) -> None:
    v1 = version_one()
    v2 = edit_every_doc(v1)
    index = tmp_path / "index.sqlite"
    built(index, v1).close()
    versions = {
        d.doc_id: {
            old.source_hash: {c.chunk_id for c in chunk_document(old, CHUNKING)},
            d.source_hash: {c.chunk_id for c in chunk_document(d, CHUNKING)},
        }
        for old, d in zip(v1, v2, strict=True)
    }
    v2_hash = {d.doc_id: d.source_hash for d in v2}
    probe = v1[5]
    problems: list[str] = []
    seen_states: set[tuple[int, int]] = set()
    done = threading.Event()

    def read() -> None:
        reader = SQLiteStore(index)
        try:
            while not done.is_set():
                stored = reader.stored_docs()
                new_count = 0
                for doc_id, chunk_sets in versions.items():
                    if doc_id not in stored:
                        problems.append(f"{doc_id} missing")
                        continue
                    got = stored[doc_id]
                    if set(got.chunk_hashes) != chunk_sets.get(got.meta.source_hash):
                        problems.append(f"{doc_id}: chunks of another version than its source_hash")
                    new_count += got.meta.source_hash == v2_hash[doc_id]
                seen_states.add((len(stored), new_count))
                hits = reader.hybrid_search(
                    "Topic 5-0", np.zeros(64, dtype=np.float32), alpha=0.0, where=SearchFilter(doc_ids=(probe.doc_id,))
                )
                if not hits or len({h.doc.source_hash for h in hits}) != 1:
                    problems.append("search found no version, or two, of the probe doc")
        finally:
            reader.close()

    thread = threading.Thread(target=read)
    thread.start()
    try:
        writer = SQLiteStore(index)
        result = refresh(writer, v2, CountingEmbedder(delay=0.01))
        writer.close()
    finally:
        done.set()
        thread.join()
    assert result.docs_changed == len(v1)
    assert problems == []
    partial = {new for _, new in seen_states if 0 < new < len(v1)}
    assert partial, f"the reader never saw the refresh half-way: {sorted(seen_states)}"


def test_batches_are_ordered_by_token_count_not_characters() -> None:
    embedder = CountingEmbedder()  # batches of 4, tokens estimated from words
    short_words = [" ".join(["a"] * n) for n in (40, 10, 30, 20)]  # many tokens, few characters each
    long_words = ["x" * (300 + n) for n in range(4)]  # one long word each: many characters, two tokens
    texts = [*short_words, *long_words]
    batch = embedder.embed(texts, input_type=InputType.DOCUMENT)
    assert embedder.texts[:4] == long_words  # the four 2-token texts share a batch despite 300+ characters
    assert embedder.texts[4:] == sorted(short_words, key=len)
    np.testing.assert_allclose(
        batch.vectors, HashingEmbedder(dimension=64).embed(texts, input_type=InputType.DOCUMENT).vectors
    )


def test_refresh_reports_chunks_longer_than_the_model_window(tmp_path: Path) -> None:
    from rag.providers.local_embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    store = SQLiteStore(tmp_path / "index.sqlite")
    store.ensure_embedder(embedder.id, embedder.dimension)
    title = ("x1y2 " * 40)[:199]  # ~160 word pieces, just under the heading cap (MAX_HEADING_CHARS)
    nested = f"# {title}\n\n## {title}\n\n### {title}\n\nShort body."  # its heading path alone: ~480 word pieces
    docs = [
        make_doc("kb", "fine.md", "# Leave\n\n" + "Ask your manager before you book a holiday. " * 60),
        make_doc("kb", "odd.md", nested),
    ]
    plan = plan_refresh(docs, {}, now=NOW)
    result = apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING)
    assert result.chunks_embedded > 3
    assert result.chunks_truncated == 1
    assert result.to_json()["chunks_truncated"] == 1
    store.close()
