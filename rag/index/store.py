"""The ``VectorStore`` protocol every index backend implements (embedded SQLite, Weaviate).

Semantics follow Weaviate's: hybrid search = BM25 + vector, fused with an ``alpha``
(0 = pure BM25, 1 = pure vector). The store is the only record of what is indexed: refresh planning
reads the per-doc ``source_hash`` and per-chunk ``chunk_hash`` from it, so nothing can drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np

from rag.models import ChunkRecord, DocMeta, SearchFilter, SearchHit, StoredDoc


@runtime_checkable
class VectorStore(Protocol):
    def ensure_embedder(self, embedder_id: str, dimension: int) -> None:
        """Record the embedder of a new index, or raise EmbedderMismatchError if the index has another."""

    def replace_doc(self, doc_id: str, records: Sequence[ChunkRecord]) -> None:
        """Make ``records`` (the doc's full new chunk list, each with its vector) the doc's chunks.

        Chunks are upserted by their deterministic ``chunk_id`` first, then the doc's other chunks are removed,
        so a concurrent query finds the doc throughout (the embedded store does both in one transaction).
        """

    def update_doc_meta(self, meta: DocMeta) -> None:
        """Change a document's metadata (title, owner, dates, ...) on all its chunks without touching vectors."""

    def reset(self, embedder_id: str, dimension: int) -> None:
        """Drop everything (for a deliberate full rebuild) and record the embedder of the new index."""

    def delete_docs(self, doc_ids: Sequence[str]) -> int:
        """Remove documents and all their chunks; returns chunks deleted."""

    def stored_docs(self, source: str | None = None) -> dict[str, StoredDoc]:
        """doc_id -> what is stored (meta + chunk hashes), without loading vectors."""

    def vectors_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already stored for these chunk hashes (from any doc), for reuse."""

    def passage_dates_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, datetime]:
        """The earliest passage date stored for each of these chunk hashes (first-seen dating keeps it)."""

    def passages(self, source: str | None = None) -> dict[str, list[tuple[datetime | None, int]]]:
        """doc_id -> (passage date, text length) of each of its chunks, in order."""

    def hybrid_search(
        self,
        query: str,
        vector: np.ndarray,
        *,
        limit: int = 20,
        alpha: float = 0.5,
        where: SearchFilter | None = None,
    ) -> list[SearchHit]:
        """Top ``limit`` chunks by fused BM25 + vector score."""

    def count_chunks(self) -> int: ...

    def close(self) -> None: ...
