"""Shared machinery of the incremental-refresh benchmarks (refresh_scifact.py, refresh_handbook.py).

A benchmark is a sequence of steps (full build, nothing changed, 1 % edited, 1 % deleted, 1 % metadata only, ...);
each step is a function that produces the corpus as it is now (reading + hashing it is part of the timed work). The
same steps run through bestbefore's plan/apply into a ``SQLiteStore`` and through LangChain's
``index(cleanup="incremental")`` + ``SQLRecordManager`` into an ``InMemoryVectorStore``, both fed the same chunks
and a zero-cost embedder that counts what it is asked to embed.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.models import DateOrigin, Document, InputType
from rag.providers.embedding import Embedder, EmbeddingBatch, normalise_rows

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DIMENSION = 384


def fake_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)


class CountingEmbedder(Embedder):
    """Zero-cost, deterministic vectors; counts texts embedded (the figure that costs money with a real model)."""

    id = "bench/zero-cost"
    dimension = DIMENSION
    batch_size = 256

    def __init__(self) -> None:
        self.count = 0

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        self.count += len(texts)
        return EmbeddingBatch(vectors=normalise_rows(np.stack([fake_vector(t) for t in texts])))


@dataclass
class Row:
    step: str
    system: str
    embedded: int
    seconds: float
    leftover: int = 0  # vectors of deleted docs still in the store
    note: str = ""


Step = tuple[str, Callable[[], list[Document]]]


def one_percent(docs: Sequence[Document], offset: int) -> list[int]:
    """The indexes of 1 % of the docs (at least one), spread evenly."""
    count = max(1, round(len(docs) / 100))
    stride = len(docs) // count
    return [(i * stride + offset) % len(docs) for i in range(count)]


def edit_one_word(doc: Document, rehash: Callable[[str], str]) -> Document:
    """Change the 3rd word of the doc's first sentence (same word count, so one chunk of fixed windows changes)."""
    words = doc.text.split(" ")
    index = min(2, len(words) - 1)
    words[index] = "revised" if words[index] != "revised" else "amended"
    text = " ".join(words)
    return replace(doc, text=text, source_hash=rehash(text))


def insert_sentence(doc: Document, rehash: Callable[[str], str]) -> Document:
    """Insert one sentence after the first (word windows after it shift: every later fixed window changes)."""
    first, dot, rest = doc.text.partition(". ")
    text = f"{first}{dot}This sentence was added in review. {rest}" if dot else doc.text + " Added in review."
    return replace(doc, text=text, source_hash=rehash(text))


def relabel(doc: Document) -> Document:
    """Front matter only: a new review date and owner; the text (and so source_hash) is unchanged."""
    when = (doc.updated_at or NOW) + timedelta(days=1)
    return replace(doc, updated_at=when, date_origin=DateOrigin.FRONT_MATTER, owner="@reviewer")


def run_bestbefore(steps: Sequence[Step], chunking: ChunkingSettings, workdir: Path) -> list[Row]:
    store = SQLiteStore(workdir / "bestbefore.sqlite")
    embedder = CountingEmbedder()
    store.ensure_embedder(embedder.id, embedder.dimension)
    rows = []
    for name, load in steps:
        before = embedder.count
        started = time.perf_counter()
        docs = load()
        plan = plan_refresh(docs, store.stored_docs(), now=NOW)
        result = apply_refresh(plan, store=store, embedder=embedder, chunking=chunking)
        seconds = time.perf_counter() - started
        present = {d.doc_id for d in docs}
        leftover = sum(1 for doc_id in store.stored_docs() if doc_id not in present)
        note = f"{result.docs_changed} changed, {result.docs_removed} removed, {result.docs_relabelled} relabelled"
        rows.append(Row(name, "bestbefore", embedder.count - before, seconds, leftover, note))
    store.close()
    return rows


def run_langchain(
    steps: Sequence[Step], chunking: ChunkingSettings, workdir: Path, *, records_in_file: bool = False
) -> list[Row]:
    """LangChain ``index(cleanup="incremental")`` + ``SQLRecordManager`` on the same chunks (needs ``.[bench]``).

    The record manager's SQLite is in memory (LangChain's fastest setting) unless ``records_in_file``.
    """
    from langchain_classic.indexes import SQLRecordManager
    from langchain_core.documents import Document as LCDocument
    from langchain_core.embeddings import Embeddings
    from langchain_core.indexing import index
    from langchain_core.vectorstores import InMemoryVectorStore

    class LCCounting(Embeddings):
        count = 0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.count += len(texts)
            return [fake_vector(t).tolist() for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return fake_vector(text).tolist()

    embeddings = LCCounting()
    store = InMemoryVectorStore(embeddings)
    if records_in_file:
        manager = SQLRecordManager("bench", db_url=f"sqlite:///{workdir / 'langchain-records.sqlite'}")
    else:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        manager = SQLRecordManager("bench", engine=engine)
    manager.create_schema()
    rows = []
    for name, load in steps:
        before = embeddings.count
        started = time.perf_counter()
        docs = load()
        chunks = [
            LCDocument(
                page_content=chunk.text,
                metadata={
                    "source": doc.doc_id,
                    "title": doc.title,
                    "updated_at": doc.updated_at.isoformat() if doc.updated_at else None,
                    "owner": doc.owner,
                },
            )
            for doc in docs
            for chunk in chunk_document(doc, chunking)
        ]
        index(chunks, manager, store, cleanup="incremental", source_id_key="source", key_encoder="sha256")
        seconds = time.perf_counter() - started
        present = {d.doc_id for d in docs}
        leftover = sum(1 for record in store.store.values() if record["metadata"]["source"] not in present)
        rows.append(Row(name, "langchain", embeddings.count - before, seconds, leftover))
    return rows


def floor_seconds(load: Callable[[], list[Document]], repeat: int = 3) -> float:
    """Reading + hashing the corpus: the least any refresh must do (best of ``repeat``)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        load()
        best = min(best, time.perf_counter() - started)
    return best


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| step | system | embeddings computed | wall time (s) | deleted docs' vectors left | notes |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row.step} | {row.system} | {row.embedded} | {row.seconds:.3f} | {row.leftover} | {row.note} |"
        )
    return "\n".join(lines)


def run_all(
    steps: Sequence[Step], chunking: ChunkingSettings, *, langchain: bool, records_in_file: bool = False
) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bestbefore-refresh-bench-") as tmp:
        rows = run_bestbefore(steps, chunking, Path(tmp))
        if langchain:
            rows += run_langchain(steps, chunking, Path(tmp), records_in_file=records_in_file)
    return rows
