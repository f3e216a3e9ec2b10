"""Retrieval evaluation on a BEIR-format folder, through the product's own indexing and search path.

The folder holds ``corpus.jsonl`` (or ``.jsonl.gz``; ``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
``text``) and ``qrels/<split>.tsv`` (``query-id  corpus-id  score`` with a header row). Each corpus entry becomes a
markdown :class:`Document` whose heading is the title, so every chunk (and every embedded text) starts with the
title, exactly as a handbook page's chunks start with their heading path. The corpus is indexed with
:func:`rag.index.refresh.apply_refresh` into a :class:`SQLiteStore`; each judged query is then run three ways —
BM25 only, dense only and hybrid (the store's fusion with ``alpha``) — chunk hits are aggregated to documents
(max score per document) and scored with :mod:`rag.evaluation.ir_metrics`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from rag.errors import BestBeforeError
from rag.evaluation.ir_metrics import Run, evaluate_run
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.models import DateOrigin, Document, InputType
from rag.providers.embedding import Embedder

METHODS = ("bm25", "dense", "hybrid")
EVAL_SOURCE = "beir"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Progress = Callable[[str, int, int], None]  # phase ("index" | "search"), done, total


class DatasetError(BestBeforeError):
    """The evaluation folder is missing a file or holds a malformed line (the message names which)."""


@dataclass(frozen=True)
class BeirDataset:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text (only the queries judged in the split)
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}
    split: str


@dataclass
class EvalReport:
    metrics: dict[str, dict[str, float]]  # method -> {"ndcg@10": ..., "recall@10": ..., "recall@100": ...}
    split: str
    alpha: float
    docs: int
    chunks: int
    queries: int
    index_seconds: float = 0.0
    search_seconds: float = 0.0
    embedded_chunks: int = 0
    runs: dict[str, Run] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, dict[str, float]]:
        return {method: {k: round(v, 4) for k, v in values.items()} for method, values in self.metrics.items()}


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or "_id" not in row:
                raise DatasetError(f"{path}:{number}: expected a JSON object with an '_id'")
            yield row


def _find(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder} has no {' or '.join(names)} (expected a BEIR-format folder)")


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or the header row
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                raise DatasetError(f"{path}:{number}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    return qrels


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """Read a BEIR folder; only the queries judged in ``split`` are kept."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise DatasetError(f"{qrels_path} not found (splits here: {', '.join(available) or 'none'})")
    qrels = load_qrels(qrels_path)
    corpus = {
        str(row["_id"]): (str(row.get("title") or ""), str(row.get("text") or ""))
        for row in _jsonl(_find(folder, "corpus.jsonl", "corpus.jsonl.gz"))
    }
    all_queries = {str(row["_id"]): str(row.get("text") or "") for row in _jsonl(_find(folder, "queries.jsonl"))}
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise DatasetError(
            f"{qrels_path}: {len(missing)} judged queries are not in queries.jsonl (e.g. {missing[0]!r})"
        )
    queries = {q: all_queries[q] for q in qrels}
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels, split=split)


def corpus_documents(dataset: BeirDataset) -> list[Document]:
    """Each corpus entry as a markdown document headed by its title (doc_id = the corpus ``_id``)."""
    documents = []
    for doc_id, (title, text) in dataset.corpus.items():
        body = f"# {' '.join(title.split())}\n\n{text}" if title.strip() else text
        documents.append(
            Document(
                doc_id=doc_id,
                source=EVAL_SOURCE,
                path=doc_id,
                title=title,
                text=body,
                source_hash=hashlib.sha256(body.encode()).hexdigest(),
                updated_at=_EPOCH,
                date_origin=DateOrigin.FRONT_MATTER,
                format="markdown",
            )
        )
    return documents


def index_corpus(
    dataset: BeirDataset,
    store: SQLiteStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    *,
    progress: Progress | None = None,
) -> int:
    """Index the corpus with the product's refresh path; returns the number of chunks embedded."""
    store.ensure_embedder(embedder.id, embedder.dimension)
    plan = plan_refresh(corpus_documents(dataset), store.stored_docs(EVAL_SOURCE), now=_EPOCH)
    step = (lambda done, total: progress("index", done, total)) if progress else None
    result = apply_refresh(plan, store=store, embedder=embedder, chunking=chunking, progress=step, batch_chunks=512)
    return result.chunks_embedded


def _best_per_doc(scores: dict[int, float], doc_of: dict[int, str]) -> dict[str, float]:
    best: dict[str, float] = {}
    for rowid, score in scores.items():
        doc = doc_of[rowid]
        if score > best.get(doc, float("-inf")):
            best[doc] = score
    return best


def search_queries(
    dataset: BeirDataset,
    store: SQLiteStore,
    embedder: Embedder,
    *,
    alpha: float,
    depth: int = 300,
    progress: Progress | None = None,
) -> dict[str, Run]:
    """Per method, query id -> {doc id: best chunk score} over the top ``depth`` chunks."""
    ids = list(dataset.queries)
    vectors = embedder.embed([dataset.queries[q] for q in ids], input_type=InputType.QUERY).vectors
    runs: dict[str, dict[str, dict[str, float]]] = {method: {} for method in METHODS}
    for done, (query_id, vector) in enumerate(zip(ids, vectors, strict=True), start=1):
        text = dataset.queries[query_id]
        lexical = store.bm25_search(text, limit=depth)
        dense = store.vector_search(np.asarray(vector), limit=depth)
        hits = store.hybrid_search(text, vector, limit=depth, alpha=alpha)
        doc_of = {rowid: chunk.doc_id for rowid, (chunk, _) in store.chunks_by_rowid([*lexical, *dense]).items()}
        runs["bm25"][query_id] = _best_per_doc(lexical, doc_of)
        runs["dense"][query_id] = _best_per_doc(dense, doc_of)
        hybrid: dict[str, float] = {}
        for hit in hits:
            hybrid.setdefault(hit.chunk.doc_id, hit.score)  # hits are best first
        runs["hybrid"][query_id] = hybrid
        if progress:
            progress("search", done, len(ids))
    return dict(runs)


def evaluate_dataset(
    dataset: BeirDataset,
    store: SQLiteStore,
    embedder: Embedder,
    chunking: ChunkingSettings,
    *,
    alpha: float,
    progress: Progress | None = None,
) -> EvalReport:
    """Index ``dataset`` into ``store`` (an empty or earlier eval store) and score the three retrieval methods."""
    started = time.perf_counter()
    embedded = index_corpus(dataset, store, embedder, chunking, progress=progress)
    indexed = time.perf_counter()
    runs = search_queries(dataset, store, embedder, alpha=alpha, progress=progress)
    metrics = {method: evaluate_run(runs[method], dataset.qrels) for method in METHODS}
    return EvalReport(
        metrics=metrics,
        split=dataset.split,
        alpha=alpha,
        docs=len(dataset.corpus),
        chunks=store.count_chunks(),
        queries=len(dataset.queries),
        index_seconds=indexed - started,
        search_seconds=time.perf_counter() - indexed,
        embedded_chunks=embedded,
        runs=runs,
    )
