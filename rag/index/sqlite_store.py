"""The embedded ``VectorStore``: one SQLite file (WAL) with FTS5 for BM25 and float32 vectors searched with numpy.

Each document's chunks are replaced in one transaction (new rows upserted, then old rows deleted), so a reader
sees the old version or the new one, never neither and never both. Vectors are kept in memory, loaded lazily,
and reloaded when the file's ``generation`` counter shows that any connection (this process or another) wrote.
Keyword search is answered from an in-memory BM25 index over FTS5's own tokens (``rag.index.keyword_index``,
the same scores) built in the background after each write; until it is current, FTS5 answers.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from rag.errors import EmbedderMismatchError, StoreError
from rag.index.fusion import relative_score_fusion, top_k
from rag.index.keyword_index import KeywordIndex, QueryStemmer
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, SearchFilter, SearchHit, StoredDoc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL,
    source_hash TEXT NOT NULL, updated_at TEXT NOT NULL, date_origin TEXT NOT NULL, url TEXT, owner TEXT,
    review_in TEXT, review_by TEXT, keywords TEXT, date_warning TEXT
);
CREATE INDEX IF NOT EXISTS docs_source ON docs(source);
CREATE INDEX IF NOT EXISTS docs_hash ON docs(source_hash);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    text TEXT NOT NULL, chunk_hash TEXT NOT NULL, heading_path TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(chunk_hash);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""

_DOC_COLUMNS = (
    "doc_id, source, path, title, source_hash, updated_at, date_origin, url, owner, review_in, review_by, keywords, "
    "date_warning"
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# How many chunks each side (BM25, vector) contributes to the fusion. Tuned on SciFact train (docs/benchmarks.md):
# deeper lists make the min-max normalisation steadier (+0.01 nDCG@10 over 50) and cost ~nothing, since FTS5
# scores every match anyway and the vector side is a partial sort.
FUSION_DEPTH = 300
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its me my of on or our "
    "should so than that the their then there these this to was we what when where which who why will with "
    "you your".split()
)


log = logging.getLogger(__name__)


def query_terms(text: str) -> list[str]:
    """A free-text question's distinct non-stopword words, lower-cased (at most 64)."""
    return [t for t in dict.fromkeys(w.lower() for w in _WORD.findall(text)) if t not in STOPWORDS][:64]


def fts_query(text: str) -> str | None:
    """A free-text question as an FTS5 OR query of its distinct non-stopword terms (None if nothing is left)."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in terms)


def searchable_title(meta: DocMeta) -> str:
    """The keyword index's title column: the title and the page's front matter keywords (weighted like it)."""
    return f"{meta.title}\n{meta.keywords}" if meta.keywords else meta.title


class _VectorCache:
    def __init__(self, generation: int, rowids: np.ndarray, matrix: np.ndarray, sources: np.ndarray) -> None:
        self.generation = generation
        self.rowids = rowids
        self.matrix = matrix
        self.sources = sources


class SQLiteStore:
    """``VectorStore`` in one SQLite file."""

    def __init__(self, path: Path | str, *, title_weight: float = 2.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._title_weight = title_weight
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_columns()
        self._vectors: _VectorCache | None = None
        self._keywords: KeywordIndex | None = None
        self._keyword_build: threading.Thread | None = None
        # the index is built on a second connection, which an in-memory database cannot have
        self._keyword_failed: int | None = -1 if str(path) == ":memory:" else None  # generation it failed at
        self._stemmer = QueryStemmer()

    def _add_columns(self) -> None:
        """Indexes written before #10 / #12 / #14 get their columns (date warning; page review rules, keywords;
        passage dates)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(docs)")}
        for name in ("date_warning", "review_in", "review_by", "keywords"):
            if name not in columns:
                self._db.execute(f"ALTER TABLE docs ADD COLUMN {name} TEXT")
        if "passage_at" not in {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}:
            self._db.execute("ALTER TABLE chunks ADD COLUMN passage_at TEXT")  # #14: each chunk's own age

    # -- embedder identity -------------------------------------------------------------------------------------
    def ensure_embedder(self, embedder_id: str, dimension: int) -> None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('embedder', ?)",
                    (json.dumps({"id": embedder_id, "dimension": dimension}),),
                )
                return
            stored = json.loads(row[0])
            if stored["id"] != embedder_id or stored["dimension"] != dimension:
                raise EmbedderMismatchError(stored["id"], embedder_id)

    def embedder_id(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
        return json.loads(row[0])["id"] if row else None

    # -- writes ------------------------------------------------------------------------------------------------
    def replace_doc(self, doc_id: str, records: Sequence[ChunkRecord]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if records:
                    self._write_doc(records[0].doc)
                for record in records:
                    self._upsert_chunk(record)
                keep = [r.chunk.chunk_id for r in records]
                stale = self._db.execute(
                    f"SELECT rowid FROM chunks WHERE doc_id = ? AND chunk_id NOT IN ({','.join('?' * len(keep))})",
                    (doc_id, *keep),
                ).fetchall()
                self._delete_rows([r[0] for r in stale])
                if not records:
                    self._db.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def update_doc_meta(self, meta: DocMeta) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write_doc(meta)
                rows = self._db.execute(
                    "SELECT c.rowid, c.text FROM chunks c WHERE c.doc_id = ?", (meta.doc_id,)
                ).fetchall()
                for rowid, text in rows:
                    self._db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
                    self._db.execute(
                        "INSERT INTO chunks_fts(rowid, title, body) VALUES (?,?,?)",
                        (rowid, searchable_title(meta), text),
                    )
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def reset(self, embedder_id: str, dimension: int) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("chunks", "chunks_fts", "docs"):
                    self._db.execute(f"DELETE FROM {table}")
                self._db.execute("DELETE FROM meta WHERE key = 'embedder'")
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._vectors = None
            self.ensure_embedder(embedder_id, dimension)

    def delete_docs(self, doc_ids: Sequence[str]) -> int:
        deleted = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for doc_id in doc_ids:
                    rows = self._db.execute("SELECT rowid FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
                    self._delete_rows([r[0] for r in rows])
                    self._db.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
                    deleted += len(rows)
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return deleted

    def _write_doc(self, doc: DocMeta) -> None:
        self._db.execute(
            "INSERT INTO docs(doc_id, source, path, title, source_hash, updated_at, date_origin, url, owner, "
            "review_in, review_by, keywords, date_warning) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(doc_id) "
            "DO UPDATE SET source=excluded.source, path=excluded.path, title=excluded.title, "
            "source_hash=excluded.source_hash, updated_at=excluded.updated_at, date_origin=excluded.date_origin, "
            "url=excluded.url, owner=excluded.owner, review_in=excluded.review_in, review_by=excluded.review_by, "
            "keywords=excluded.keywords, date_warning=excluded.date_warning",
            (
                doc.doc_id,
                doc.source,
                doc.path,
                doc.title,
                doc.source_hash,
                doc.updated_at.isoformat(),
                doc.date_origin.value,
                doc.url,
                doc.owner,
                doc.review_in,
                doc.review_by.isoformat() if doc.review_by else None,
                doc.keywords,
                doc.date_warning,
            ),
        )

    def _upsert_chunk(self, record: ChunkRecord) -> None:
        chunk = record.chunk
        vector = np.asarray(record.vector, dtype=np.float32).tobytes()
        row = self._db.execute("SELECT rowid FROM chunks WHERE chunk_id = ?", (chunk.chunk_id,)).fetchone()
        heading = json.dumps(list(chunk.heading_path))
        passage = chunk.passage_at.isoformat() if chunk.passage_at else None
        if row is None:
            cursor = self._db.execute(
                "INSERT INTO chunks(chunk_id, doc_id, ordinal, text, chunk_hash, heading_path, vector, passage_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (chunk.chunk_id, chunk.doc_id, chunk.ordinal, chunk.text, chunk.chunk_hash, heading, vector, passage),
            )
            rowid = cursor.lastrowid
        else:
            rowid = row[0]
            self._db.execute(
                "UPDATE chunks SET doc_id=?, ordinal=?, text=?, chunk_hash=?, heading_path=?, vector=?, passage_at=? "
                "WHERE rowid=?",
                (chunk.doc_id, chunk.ordinal, chunk.text, chunk.chunk_hash, heading, vector, passage, rowid),
            )
            self._db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
        self._db.execute(
            "INSERT INTO chunks_fts(rowid, title, body) VALUES (?,?,?)",
            (rowid, searchable_title(record.doc), chunk.text),
        )

    def _delete_rows(self, rowids: list[int]) -> None:
        for start in range(0, len(rowids), 500):
            part = rowids[start : start + 500]
            marks = ",".join("?" * len(part))
            self._db.execute(f"DELETE FROM chunks WHERE rowid IN ({marks})", part)
            self._db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", part)

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # -- reads -------------------------------------------------------------------------------------------------
    def stored_docs(self, source: str | None = None) -> dict[str, StoredDoc]:
        # Two narrow queries (doc rows once, not once per chunk) in one read transaction (one snapshot).
        params: tuple[str, ...] = () if source is None else (source,)
        doc_sql = f"SELECT {_DOC_COLUMNS} FROM docs"
        chunk_sql = "SELECT doc_id, chunk_id, chunk_hash FROM chunks"
        if source is not None:
            doc_sql += " WHERE source = ?"
            chunk_sql += " WHERE doc_id IN (SELECT doc_id FROM docs WHERE source = ?)"
        docs: dict[str, StoredDoc] = {}
        with self._lock:
            self._db.execute("BEGIN")
            try:
                metas = {row[0]: row for row in self._db.execute(doc_sql, params)}
                for doc_id, chunk_id, hash_ in self._db.execute(chunk_sql + " ORDER BY doc_id, ordinal", params):
                    stored = docs.get(doc_id)
                    if stored is None:
                        if doc_id not in metas:
                            continue
                        row = metas[doc_id]
                        stored = docs[doc_id] = StoredDoc(meta=_meta(row), chunk_hashes={})
                    stored.chunk_hashes[chunk_id] = hash_
            finally:
                self._db.execute("COMMIT")
        return docs

    def vectors_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(chunk_hashes))
        with self._lock:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                rows = self._db.execute(
                    f"SELECT chunk_hash, vector FROM chunks WHERE chunk_hash IN ({','.join('?' * len(part))})", part
                )
                for hash_, blob in rows:
                    found[hash_] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def passage_dates_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, datetime]:
        """The earliest passage date stored for each of these chunk hashes (from any doc)."""
        found: dict[str, datetime] = {}
        unique = list(dict.fromkeys(chunk_hashes))
        with self._lock:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                rows = self._db.execute(
                    "SELECT chunk_hash, MIN(passage_at) FROM chunks WHERE passage_at IS NOT NULL AND chunk_hash IN "
                    f"({','.join('?' * len(part))}) GROUP BY chunk_hash",
                    part,
                )
                found.update((hash_, datetime.fromisoformat(when)) for hash_, when in rows)
        return found

    def passages(self, source: str | None = None) -> dict[str, list[tuple[datetime | None, int]]]:
        """doc_id -> (passage date, text length) of each chunk, in order (for the passage basis of staleness)."""
        sql = "SELECT c.doc_id, c.passage_at, LENGTH(c.text) FROM chunks c"
        params: tuple[str, ...] = ()
        if source is not None:
            sql += " JOIN docs d ON d.doc_id = c.doc_id WHERE d.source = ?"
            params = (source,)
        found: dict[str, list[tuple[datetime | None, int]]] = {}
        with self._lock:
            for doc_id, when, length in self._db.execute(sql + " ORDER BY c.doc_id, c.ordinal", params):
                found.setdefault(doc_id, []).append((datetime.fromisoformat(when) if when else None, int(length)))
        return found

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def _generation(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def _load_vectors(self) -> _VectorCache:
        generation = self._generation()
        if self._vectors is not None and self._vectors.generation == generation:
            return self._vectors
        rows = self._db.execute(
            "SELECT c.rowid, c.vector, d.source FROM chunks c JOIN docs d ON d.doc_id = c.doc_id ORDER BY c.rowid"
        ).fetchall()
        if rows:
            matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        else:
            matrix = np.zeros((0, 0), dtype=np.float32)
        self._vectors = _VectorCache(
            generation,
            np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            matrix,
            np.array([r[2] for r in rows], dtype=object),
        )
        return self._vectors

    def bm25_search(self, query: str, *, limit: int, where: SearchFilter | None = None) -> dict[int, float]:
        """rowid -> BM25 score (higher is better): FTS5's ``bm25()`` with the title weighted ``title_weight``."""
        terms = query_terms(query)
        if not terms:
            return {}
        index = self._current_keywords()
        if index is not None:
            phrases = self._stemmer.tokens(terms)
            if all(len(p) <= 1 for p in phrases):  # a word FTS5 splits in two is a phrase: FTS5 answers that
                allowed = self._allowed(index.rowids, index.sources, where)
                return index.search([p[0] for p in phrases if p], limit=limit, allowed=allowed)
        return self._bm25_fts5(terms, limit=limit, where=where)

    def _bm25_fts5(self, terms: list[str], *, limit: int, where: SearchFilter | None) -> dict[int, float]:
        match = " OR ".join(f'"{term}"' for term in terms)
        sql = f"SELECT rowid, -bm25(chunks_fts, {self._title_weight}, 1.0) FROM chunks_fts WHERE chunks_fts MATCH ?"
        params: list[object] = [match]
        restriction, extra = _filter_sql(where)
        if restriction:
            sql += (
                f" AND rowid IN (SELECT c.rowid FROM chunks c JOIN docs d ON d.doc_id = c.doc_id WHERE {restriction})"
            )
            params.extend(extra)
        sql += " ORDER BY bm25(chunks_fts, ?, 1.0) LIMIT ?"
        params.extend([self._title_weight, limit])
        with self._lock:
            try:
                return {int(r[0]): float(r[1]) for r in self._db.execute(sql, params)}
            except sqlite3.OperationalError as exc:
                raise StoreError(f"BM25 search failed: {exc}") from exc

    def _current_keywords(self) -> KeywordIndex | None:
        """The in-memory keyword index if it reflects the file as it is now; else start (re)building it."""
        with self._lock:
            generation = self._generation()
            index = self._keywords
            if index is not None and index.generation == generation:
                return index
            if self._keyword_failed in (-1, generation):  # FTS5 answers until the next write
                return None
            if self._keyword_build is None or not self._keyword_build.is_alive():
                self._keyword_build = threading.Thread(
                    target=self._build_keywords, args=(generation,), name="bestbefore-keyword-index", daemon=True
                )
                self._keyword_build.start()
        return None

    def _build_keywords(self, generation: int) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            try:
                index = KeywordIndex.build(db, title_weight=self._title_weight)
            finally:
                db.close()
        except Exception as exc:  # FTS5 keeps answering; the first search after the next write tries again
            log.warning("Could not build the in-memory keyword index of %s: %s", self.path, exc)
            with self._lock:
                self._keyword_failed = generation
            return
        with self._lock:
            if self._keywords is None or index.generation >= self._keywords.generation:
                self._keywords = index

    def warm_up(self, timeout: float | None = None) -> None:
        """Load the vectors and build the keyword index now, so the first questions do not pay for it."""
        with self._lock:
            self._load_vectors()
        self._current_keywords()
        build = self._keyword_build
        if build is not None:
            build.join(timeout)

    def _allowed(self, rowids: np.ndarray, sources: np.ndarray, where: SearchFilter | None) -> np.ndarray | None:
        """Which positions a filter lets through (``None``: all of them)."""
        if where is None or (where.sources is None and where.doc_ids is None):
            return None
        mask = np.ones(len(rowids), dtype=bool)
        if where.sources is not None:
            mask &= np.isin(sources, list(where.sources))
        if where.doc_ids is not None:
            with self._lock:
                mask &= np.isin(rowids, self._rowids_of_docs(where.doc_ids))
        return mask

    def vector_search(self, vector: np.ndarray, *, limit: int, where: SearchFilter | None = None) -> dict[int, float]:
        """rowid -> cosine similarity (vectors are normalised)."""
        with self._lock:
            cache = self._load_vectors()
        if cache.matrix.size == 0:
            return {}
        scores = cache.matrix @ np.asarray(vector, dtype=np.float32).reshape(-1)
        mask = self._allowed(cache.rowids, cache.sources, where)
        candidates = np.arange(len(scores)) if mask is None else np.flatnonzero(mask)
        if candidates.size == 0:
            return {}
        if candidates.size > limit:  # partial selection: a full sort of 100k scores costs more than the rest
            chosen = candidates[np.argpartition(-scores[candidates], limit - 1)[:limit]]
        else:
            chosen = candidates
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")]  # best first, as before
        return {int(cache.rowids[i]): float(scores[i]) for i in chosen}

    def _rowids_of_docs(self, doc_ids: Sequence[str]) -> np.ndarray:
        marks = ",".join("?" * len(doc_ids))
        rows = self._db.execute(f"SELECT rowid FROM chunks WHERE doc_id IN ({marks})", tuple(doc_ids)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def hybrid_search(
        self,
        query: str,
        vector: np.ndarray,
        *,
        limit: int = 20,
        alpha: float = 0.5,
        where: SearchFilter | None = None,
    ) -> list[SearchHit]:
        depth = max(limit, FUSION_DEPTH)
        lexical = self.bm25_search(query, limit=depth, where=where) if alpha < 1.0 else {}
        dense = self.vector_search(vector, limit=depth, where=where) if alpha > 0.0 else {}
        fused = relative_score_fusion(
            {str(k): v for k, v in lexical.items()}, {str(k): v for k, v in dense.items()}, alpha=alpha
        )
        ranked = top_k(fused, limit)
        rows = self.chunks_by_rowid([int(key) for key, _ in ranked])
        hits = []
        for key, score in ranked:
            rowid = int(key)
            if rowid in rows:
                chunk, meta = rows[rowid]
                hits.append(SearchHit(chunk, meta, score, bm25_score=lexical.get(rowid), vector_score=dense.get(rowid)))
        return hits

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, tuple[Chunk, DocMeta]]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        sql = (
            "SELECT c.chunk_id, c.chunk_hash, c.rowid, c.ordinal, c.text, c.heading_path, c.passage_at, "
            + ", ".join(f"d.{column.strip()}" for column in _DOC_COLUMNS.split(","))
            + f" FROM chunks c JOIN docs d ON d.doc_id = c.doc_id WHERE c.rowid IN ({marks})"
        )
        out: dict[int, tuple[Chunk, DocMeta]] = {}
        with self._lock:
            for row in self._db.execute(sql, tuple(rowids)):
                meta = _meta(row[7:])
                chunk = Chunk(
                    chunk_id=row[0],
                    doc_id=meta.doc_id,
                    ordinal=row[3],
                    text=row[4],
                    chunk_hash=row[1],
                    heading_path=tuple(json.loads(row[5])),
                    passage_at=datetime.fromisoformat(row[6]) if row[6] else None,
                )
                out[int(row[2])] = (chunk, meta)
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._stemmer.close()


def _meta(row: Sequence[object]) -> DocMeta:
    return DocMeta(
        doc_id=str(row[0]),
        source=str(row[1]),
        path=str(row[2]),
        title=str(row[3]),
        source_hash=str(row[4]),
        updated_at=datetime.fromisoformat(str(row[5])),
        date_origin=DateOrigin(str(row[6])),
        url=None if row[7] is None else str(row[7]),
        owner=None if row[8] is None else str(row[8]),
        review_in=None if row[9] is None else str(row[9]),
        review_by=None if row[10] is None else datetime.fromisoformat(str(row[10])),
        keywords=None if row[11] is None else str(row[11]),
        date_warning=None if row[12] is None else str(row[12]),
    )


def _filter_sql(where: SearchFilter | None) -> tuple[str, list[object]]:
    if where is None:
        return "", []
    clauses: list[str] = []
    params: list[object] = []
    if where.sources is not None:
        clauses.append(f"d.source IN ({','.join('?' * len(where.sources)) or 'NULL'})")
        params.extend(where.sources)
    if where.doc_ids is not None:
        clauses.append(f"d.doc_id IN ({','.join('?' * len(where.doc_ids)) or 'NULL'})")
        params.extend(where.doc_ids)
    return " AND ".join(clauses), params
