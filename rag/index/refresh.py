"""Incremental refresh by ``source_hash``: plan (pure) and apply (writes to the store).

* An unchanged document costs one hash: it is not chunked or embedded.
* A changed document is re-chunked; only chunks whose ``chunk_hash`` the store does not hold yet are embedded
  (vectors of unchanged chunks are reused, also when a chunk moved to another document).
* Each document is replaced in one store call that writes its new chunks before removing the old ones; documents
  that disappeared are deleted last, after every new or renamed document is written.
* The store is the only record of what is indexed, so a refresh killed at any point and run again converges to
  the index a clean build produces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from rag.index.store import VectorStore
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.sources import crash_reason
from rag.models import (
    Chunk,
    ChunkRecord,
    ContentChange,
    DateOrigin,
    DocMeta,
    Document,
    InputType,
    RefreshResult,
    SkippedFile,
    StoredDoc,
)
from rag.providers.embedding import Embedder

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
PassageDater = Callable[[Sequence[tuple[str, Sequence[Chunk]]]], dict[str, datetime]]  # (path, chunks) -> id -> date


@dataclass(frozen=True)
class DocChange:
    doc: Document
    meta: DocMeta
    previous: StoredDoc | None


@dataclass(frozen=True)
class RefreshPlan:
    """What a refresh will do. ``relabel``: same text, new metadata (title, owner, reviewed date)."""

    new: list[DocChange]
    changed: list[DocChange]
    relabel: list[DocMeta]
    unchanged: list[str]
    removed: list[str]
    removed_meta: dict[str, DocMeta] = field(default_factory=dict)  # what the removed docs were
    seen_at: datetime | None = None  # the refresh's time (when its content changes were seen)

    @property
    def writes(self) -> list[DocChange]:
        return self.new + self.changed

    def content_changes(self) -> list[ContentChange]:
        """Docs whose text changed or which were removed (never metadata-only changes)."""
        if self.seen_at is None:
            return []
        seen_at = self.seen_at
        changes = [ContentChange.between(c.previous.meta, c.meta, seen_at) for c in self.changed if c.previous]
        moved = {c.meta.source_hash for c in self.writes}  # a doc renamed with the same text is not a change
        gone = [self.removed_meta[d] for d in self.removed if self.removed_meta[d].source_hash not in moved]
        changes += [ContentChange.between(meta, None, seen_at) for meta in gone]
        return [c for c in changes if c is not None]


def resolve_date(doc: Document, stored: StoredDoc | None, by_hash: dict[str, DocMeta], now: datetime) -> DocMeta:
    """The doc's metadata with a truthful date: its own (front matter, git), else when this text was first seen."""
    if doc.updated_at is not None:
        return DocMeta.of(doc, doc.updated_at, doc.date_origin or DateOrigin.FIRST_SEEN)
    if stored is not None and stored.meta.source_hash == doc.source_hash:
        return DocMeta.of(doc, stored.meta.updated_at, stored.meta.date_origin)
    seen = by_hash.get(doc.source_hash)
    return DocMeta.of(doc, seen.updated_at if seen else now, DateOrigin.FIRST_SEEN)


def plan_refresh(
    documents: Sequence[Document],
    stored: dict[str, StoredDoc],
    *,
    now: datetime,
    scope: Sequence[str] | None = None,
) -> RefreshPlan:
    """Compare a source's documents with what the store holds. Pure.

    ``scope``: when only some paths were scanned (a webhook naming files), only those stored docs may be removed.
    """
    by_hash = {s.meta.source_hash: s.meta for s in stored.values()}
    new: list[DocChange] = []
    changed: list[DocChange] = []
    relabel: list[DocMeta] = []
    unchanged: list[str] = []
    for doc in documents:
        previous = stored.get(doc.doc_id)
        meta = resolve_date(doc, previous, by_hash, now)
        if previous is None:
            new.append(DocChange(doc, meta, None))
        elif previous.meta.source_hash != doc.source_hash:
            changed.append(DocChange(doc, meta, previous))
        elif previous.meta != meta:
            relabel.append(meta)
        else:
            unchanged.append(doc.doc_id)
    present = {d.doc_id for d in documents}
    scoped = None if scope is None else set(scope)
    candidates = stored.keys() if scoped is None else {d for d in stored if stored[d].meta.path in scoped}
    removed = sorted(d for d in candidates if d not in present)
    return RefreshPlan(new, changed, relabel, unchanged, removed, {d: stored[d].meta for d in removed}, now)


def apply_refresh(
    plan: RefreshPlan,
    *,
    store: VectorStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    batch_chunks: int = 256,
    passage_dater: PassageDater | None = None,
) -> RefreshResult:
    """Carry out a plan: embed what is new, write each doc (write-then-delete), then delete removed docs.

    Each written chunk is dated: by ``passage_dater`` (git blame over the written files, one batch) where it can,
    else by the first time the index saw its hash (kept from the store, or this refresh's time)."""
    started = time.perf_counter()
    result = RefreshResult(
        changes=plan.content_changes(),
        docs_new=len(plan.new),
        docs_changed=len(plan.changed),
        docs_unchanged=len(plan.unchanged),
        docs_relabelled=len(plan.relabel),
        docs_removed=len(plan.removed),
    )
    total = len(plan.writes) + len(plan.relabel) + len(plan.removed)
    done = 0
    for meta in plan.relabel:
        store.update_doc_meta(meta)
        done += 1
        if progress:
            progress(done, total)
    # Chunk every doc to write and look up reusable vectors before the first write: a chunk that moves from a doc
    # written early to one written later is still found (the early write removes it from its old doc).
    # Chunks are sized with the embedder's own tokenizer against its window (rag.tokens.TokenCounter), then dated.
    chunked = date_passages(plan, _chunk_each(plan, chunking, embedder, result), store, passage_dater)
    known = store.vectors_by_chunk_hash([c.chunk_hash for _, chunks in chunked for c in chunks]) if chunked else {}
    pending: list[tuple[DocChange, list[Chunk]]] = []
    pending_chunks = 0
    for change, chunks in chunked:
        pending.append((change, chunks))
        pending_chunks += len(chunks)
        if pending_chunks >= batch_chunks:
            _write_group(pending, store, embedder, result, known)
            done += len(pending)
            pending, pending_chunks = [], 0
            if progress:
                progress(done, total)
    if pending:
        _write_group(pending, store, embedder, result, known)
        done += len(pending)
    if plan.removed:
        result.chunks_deleted += store.delete_docs(plan.removed)
    if progress:
        progress(total, total)
    result.seconds = time.perf_counter() - started
    return result


def date_passages(
    plan: RefreshPlan,
    chunked: list[tuple[DocChange, list[Chunk]]],
    store: VectorStore,
    passage_dater: PassageDater | None,
) -> list[tuple[DocChange, list[Chunk]]]:
    """The chunks with ``passage_at`` set: the dater's date, else the earliest stored for the hash, else now."""
    if not chunked:
        return chunked
    dated = passage_dater([(change.doc.path, chunks) for change, chunks in chunked]) if passage_dater else {}
    undated = [c.chunk_hash for _, chunks in chunked for c in chunks if c.chunk_id not in dated]
    first_seen = store.passage_dates_by_chunk_hash(undated) if undated else {}
    out = []
    for change, chunks in chunked:
        seen = plan.seen_at or change.meta.updated_at
        out.append(
            (
                change,
                [replace(c, passage_at=dated.get(c.chunk_id) or first_seen.get(c.chunk_hash) or seen) for c in chunks],
            )
        )
    return out


def _chunk_each(
    plan: RefreshPlan, chunking: ChunkingSettings, embedder: Embedder, result: RefreshResult
) -> list[tuple[DocChange, list[Chunk]]]:
    """Chunk every doc to write; one that cannot be chunked is skipped with the reason (its stored version stays)."""
    chunked: list[tuple[DocChange, list[Chunk]]] = []
    for change in plan.writes:
        try:
            chunked.append((change, chunk_document(change.doc, chunking, embedder)))
        except Exception as exc:
            log.debug("chunking %s failed", change.doc.doc_id, exc_info=True)
            result.skipped.append(
                SkippedFile(change.doc.source, change.doc.path, crash_reason("could not be chunked", exc))
            )
            if change.previous is None:
                result.docs_new -= 1
            else:
                result.docs_changed -= 1
    return chunked


def _write_group(
    group: list[tuple[DocChange, list[Chunk]]],
    store: VectorStore,
    embedder: Embedder,
    result: RefreshResult,
    known: dict[str, np.ndarray],
) -> None:
    """Embed the group's chunks that no stored (or earlier written) chunk has, then write each doc."""
    missing: dict[str, str] = {}
    for _, chunks in group:
        for chunk in chunks:
            if chunk.chunk_hash not in known:
                missing.setdefault(chunk.chunk_hash, chunk.text)
    if missing:
        batch = embedder.embed(list(missing.values()), input_type=InputType.DOCUMENT)
        result.embedding_tokens += batch.tokens
        result.chunks_embedded += len(missing)
        result.chunks_truncated += batch.truncated
        known.update(zip(missing.keys(), batch.vectors, strict=True))
    for change, chunks in group:
        records = [ChunkRecord(chunk, change.meta, known[chunk.chunk_hash]) for chunk in chunks]
        result.chunks_reused += sum(1 for c in chunks if c.chunk_hash not in missing)
        if change.previous is not None:
            result.chunks_deleted += len(set(change.previous.chunk_hashes) - {c.chunk_id for c in chunks})
        store.replace_doc(change.doc.doc_id, records)
