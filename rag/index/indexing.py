"""Refreshing configured sources into a store: scan, plan, apply — one path for ``ingest`` and ``refresh``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from rag.config import IndexConfig, SourceConfig
from rag.index.refresh import Progress, RefreshResult, apply_refresh, plan_refresh
from rag.index.store import VectorStore
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.sources import scan_source
from rag.models import DateWarning
from rag.providers.embedding import Embedder


def chunking_settings(index: IndexConfig) -> ChunkingSettings:
    return ChunkingSettings(max_tokens=index.chunk_tokens, overlap_tokens=index.chunk_overlap)


def refresh_source(
    source: SourceConfig,
    *,
    store: VectorStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    now: datetime,
    paths: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Bring the store in line with one source (or with some of its paths)."""
    store.ensure_embedder(embedder.id, embedder.dimension)
    scan = scan_source(source, paths=paths, now=now)
    stored = store.stored_docs(source.name)
    plan = plan_refresh(scan.documents, stored, now=now, scope=paths)
    result = apply_refresh(plan, store=store, embedder=embedder, chunking=chunking, progress=progress)
    result.source = source.name
    result.skipped = sorted([*scan.skipped, *result.skipped], key=lambda skip: skip.path)  # + chunking failures
    result.docs_skipped = len(result.skipped)
    result.date_warnings = [DateWarning(d.source, d.path, d.date_warning) for d in scan.documents if d.date_warning]
    return result


def refresh_sources(
    sources: Sequence[SourceConfig],
    *,
    store: VectorStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    now: datetime,
    progress: Callable[[str, int, int], None] | None = None,
) -> RefreshResult:
    """Refresh several sources; the combined result."""
    total = RefreshResult(source=",".join(s.name for s in sources))
    for source in sources:
        step = (lambda done, count, name=source.name: progress(name, done, count)) if progress else None
        total.merge(refresh_source(source, store=store, embedder=embedder, chunking=chunking, now=now, progress=step))
    return total
