"""The records that flow through the RAG core: documents, chunks, search hits, answers with the context they were
asked in, votes on them and refresh results — what every subpackage hands to the next, and what observers see.

Everything here is plain data (dataclasses); no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # a type only: the answering owns the policy
    from rag.answer.staleness import StalenessPolicy


class InputType(StrEnum):
    """What a text is embedded as. Cohere (and e5-style models) embed queries and documents differently."""

    DOCUMENT = "search_document"
    QUERY = "search_query"


class DateOrigin(StrEnum):
    """Where a document's ``updated_at`` came from, best first."""

    FRONT_MATTER = "front_matter"
    GIT = "git"
    FIRST_SEEN = "first_seen"


@dataclass(frozen=True)
class Document:
    """One source document, as read from a source (before chunking)."""

    doc_id: str  # "<source name>:<relative posix path>"
    source: str
    path: str  # relative posix path inside the source
    title: str
    text: str
    source_hash: str  # sha256 of the normalised text (never of volatile metadata)
    updated_at: datetime | None  # aware UTC; None until resolved (first-seen dates come from the store)
    date_origin: DateOrigin | None = None
    url: str | None = None
    owner: str | None = None
    format: str = "text"  # markdown | text | html | rst | pdf
    review_in: str | None = None  # the page's own review period ("6 months"): beats source and path thresholds
    review_by: datetime | None = None  # or its absolute review-by date (front matter review_by / expires)
    keywords: str | None = None  # front matter keywords / tags: searched with the title, never quoted
    date_warning: str | None = None  # why a date in the file was not trusted (future, not a date)


@dataclass(frozen=True)
class SkippedFile:
    """A file a source could not read; reported, never fatal."""

    source: str
    path: str
    reason: str


@dataclass(frozen=True)
class DateWarning:
    """A date in a document that was not trusted (in the future, or not a date); the document was dated otherwise."""

    source: str
    path: str
    warning: str


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, sized for the embedder. Ids and hashes are deterministic."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    chunk_hash: str  # sha256 of text + chunking settings
    heading_path: tuple[str, ...] = ()
    passage_at: datetime | None = None  # the passage's own age: newest commit among its lines, else first seen


@dataclass(frozen=True)
class DocMeta:
    """The per-document fields every stored chunk carries (so a store needs no separate doc table)."""

    doc_id: str
    source: str
    path: str
    title: str
    source_hash: str
    updated_at: datetime
    date_origin: DateOrigin
    url: str | None = None
    owner: str | None = None
    review_in: str | None = None
    review_by: datetime | None = None
    keywords: str | None = None
    date_warning: str | None = None  # shown by `bestbefore sources`: a front-matter date that was not trusted

    @classmethod
    def of(cls, doc: Document, updated_at: datetime, origin: DateOrigin) -> DocMeta:
        return cls(
            doc_id=doc.doc_id,
            source=doc.source,
            path=doc.path,
            title=doc.title,
            source_hash=doc.source_hash,
            updated_at=updated_at,
            date_origin=origin,
            url=doc.url,
            owner=doc.owner,
            review_in=doc.review_in,
            review_by=doc.review_by,
            keywords=doc.keywords,
            date_warning=doc.date_warning,
        )


@dataclass(frozen=True)
class ChunkRecord:
    """What a store writes: a chunk, its document's metadata and its vector."""

    chunk: Chunk
    doc: DocMeta
    vector: np.ndarray  # float32, shape (dimension,)


@dataclass(frozen=True)
class StoredDoc:
    """What a store knows about one indexed document (for refresh planning and listings)."""

    meta: DocMeta
    chunk_hashes: dict[str, str]  # chunk_id -> chunk_hash


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search. ``sources=None`` searches everything."""

    sources: tuple[str, ...] | None = None
    doc_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SearchHit:
    """One retrieved chunk with its scores. ``score`` is the fused (or reranked) score, higher is better."""

    chunk: Chunk
    doc: DocMeta
    score: float
    bm25_score: float | None = None
    vector_score: float | None = None
    rerank_score: float | None = None


@dataclass(frozen=True)
class SourceRef:
    """A document an answer rests on, with its age and staleness."""

    doc_id: str
    title: str
    url: str | None
    updated_at: datetime
    age_days: int
    stale: bool
    threshold_days: int
    cited: bool
    owner: str | None = None
    source: str = ""
    verified_at: datetime | None = None  # someone confirmed this content is still accurate (clock restarted then)
    open_flags: int = 0  # people reported this content outdated
    passage_at: datetime | None = None  # the oldest cited passage of this doc (its own age; see Chunk.passage_at)
    stale_by_passage: bool = False  # [staleness] basis = "passage" and the passage's age made it stale


@dataclass(frozen=True)
class Turn:
    """A previous turn of a conversation (Slack thread)."""

    role: str  # "user" | "assistant"
    text: str


@dataclass(frozen=True)
class ProviderCall:
    """One billed call to a model provider, for cost accounting."""

    provider: str  # "local" | "cohere"
    model: str
    operation: str  # "embed" | "rerank" | "chat"
    units: dict[str, float] = field(default_factory=dict)  # e.g. {"input_tokens": 12}


@dataclass(frozen=True)
class Answer:
    """The result of :func:`rag.answer.pipeline.answer_question`."""

    answer_id: str
    question: str
    text: str
    refused: bool
    sources: tuple[SourceRef, ...]  # cited first, at most 5
    stale_warning: str | None
    timings_ms: dict[str, float]
    hits: tuple[SearchHit, ...] = ()
    provider_calls: tuple[ProviderCall, ...] = ()
    cache: dict[str, int] = field(default_factory=dict)  # {"hits": n, "misses": n}
    error: str | None = None
    created_at: datetime | None = None

    @property
    def trace_id(self) -> str:
        return self.answer_id


@dataclass(frozen=True)
class AskContext:
    """Who asks, where, and what came before (a Slack thread's earlier turns)."""

    surface: str = "cli"  # "cli" | "slack"
    user: str | None = None
    channel: str | None = None
    thread: str | None = None
    history: tuple[Turn, ...] = ()
    sources: tuple[str, ...] | None = None  # restrict retrieval (per-channel setting)
    policy: StalenessPolicy | None = None  # per-channel thresholds on top of the global policy


@dataclass(frozen=True)
class Vote:
    """A user's vote on an answer (a 👍 / 👎 reaction)."""

    answer_id: str
    user: str
    value: int  # +1 or -1; 0 = retracted
    at: datetime


@dataclass(frozen=True)
class ContentChange:
    """A document whose text changed (``new_hash``) or which was removed (``new_hash is None``) in a refresh.

    Metadata-only changes (title, owner, dates) are never content changes.
    """

    doc_id: str
    source: str
    title: str
    url: str | None
    old_hash: str
    new_hash: str | None
    seen_at: datetime  # when the refresh saw the change
    updated_at: datetime | None = None  # the new version's own date (git, front matter), if any

    @property
    def removed(self) -> bool:
        return self.new_hash is None

    @property
    def version(self) -> str:
        """What the change produced: the new text's hash, or "removed"."""
        return self.new_hash or "removed"

    @classmethod
    def between(cls, before: DocMeta, after: DocMeta | None, seen_at: datetime) -> ContentChange | None:
        """The content change from ``before`` to ``after`` (None: removed), or None when the text is the same."""
        if after is not None and after.source_hash == before.source_hash:
            return None
        current = after or before
        return cls(
            doc_id=before.doc_id,
            source=before.source,
            title=current.title,
            url=current.url,
            old_hash=before.source_hash,
            new_hash=after.source_hash if after else None,
            seen_at=seen_at,
            updated_at=after.updated_at if after else None,
        )


@dataclass
class RefreshResult:
    """The record of one refresh run (printed by ``bestbefore refresh --json`` and kept in the ledger)."""

    source: str = ""
    docs_new: int = 0
    docs_changed: int = 0
    docs_unchanged: int = 0
    docs_removed: int = 0
    docs_skipped: int = 0
    docs_relabelled: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_deleted: int = 0
    chunks_truncated: int = 0  # embedded chunks longer than the model's window (it read only their beginning)
    embedding_tokens: int = 0
    seconds: float = 0.0
    answers_notified: int = 0  # threads told that a doc their answer cited changed (after the whole run)
    skipped: list[SkippedFile] = field(default_factory=list)
    changes: list[ContentChange] = field(default_factory=list)  # content changes, for the after-refresh hooks
    date_warnings: list[DateWarning] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("changes")
        data["skipped"] = [asdict(s) for s in self.skipped]
        data["date_warnings"] = [asdict(w) for w in self.date_warnings]
        data["seconds"] = round(self.seconds, 4)
        return data

    def summary(self) -> str:
        if self.chunks_embedded == 0 and not (self.docs_new or self.docs_changed or self.docs_removed):
            relabelled = f" (metadata updated on {self.docs_relabelled})" if self.docs_relabelled else ""
            return (
                f"Nothing changed: {self.docs_unchanged + self.docs_relabelled} docs up to date{relabelled}, "
                "0 chunks embedded."
            )
        return (
            f"{self.docs_new} new, {self.docs_changed} changed, {self.docs_removed} removed, "
            f"{self.docs_unchanged} unchanged docs; {self.chunks_embedded} chunks embedded, "
            f"{self.chunks_reused} reused, {self.chunks_deleted} deleted."
        )

    def merge(self, other: RefreshResult) -> None:
        for name in (
            "docs_new", "docs_changed", "docs_unchanged", "docs_removed", "docs_skipped", "docs_relabelled",
            "chunks_embedded", "chunks_reused", "chunks_deleted", "chunks_truncated", "embedding_tokens", "seconds",
            "answers_notified",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.extend(other.skipped)
        self.changes.extend(other.changes)
        self.date_warnings.extend(other.date_warnings)
