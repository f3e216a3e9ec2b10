"""``WeaviateStore``: the ``VectorStore`` protocol on Weaviate (weaviate-client 4.x), with our own vectors.

Collections (declared and checked in :mod:`rag.index.weaviate_schema`): ``<collection>`` holds the chunks (one
self-provided vector named ``default``), ``<collection>Doc`` one small object per document (its metadata and
chunk ids/hashes, so listing a source's documents is a filtered query, not a scan of every chunk), and
``<collection>Meta`` the embedder the index was built with. Object UUIDs are derived from chunk ids and doc ids
(``generate_uuid5``), so writing again replaces. ``replace_doc`` keeps the refresh's order: the doc's new chunks are
written first, then its doc object, then its other chunks are deleted, so a concurrent query finds the doc
throughout and a refresh killed at any point converges on the next run. Reads page by a sorted unique key
(``chunk_id > last``, ``doc_id > last``), never by offset, so no query crosses the server's 10 000-result window.
Hybrid search is Weaviate's ``relativeScore`` fusion with our ``alpha``; the cosine of each hit is computed from its
returned vector (Weaviate reports only fused scores).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any

import numpy as np
import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery, Sort
from weaviate.collections import Collection
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateTimeoutError,
)
from weaviate.util import generate_uuid5

from rag.errors import EmbedderMismatchError, IndexUnavailableError, StoreError
from rag.index.weaviate_objects import (
    META_PROPS,
    chunk_object,
    chunk_of,
    chunk_uuid,
    date_of,
    doc_meta,
    doc_object,
    doc_uuid,
    meta_properties,
    search_filters,
)
from rag.index.weaviate_schema import (
    CHUNK_SCHEMA,
    DOC_SCHEMA,
    VECTOR,
    ServerVersion,
    check_collection,
    connect_weaviate,
    field_property,
    refuse_stopword_sources,
    title_property,
)
from rag.models import ChunkRecord, DocMeta, SearchFilter, SearchHit, StoredDoc

__all__ = ["WeaviateStore", "chunk_uuid", "connect_weaviate"]

log = logging.getLogger(__name__)

PAGE = 1000  # objects per read; far below Weaviate's QUERY_MAXIMUM_RESULTS (10 000), and never with an offset
IN_LIST = 200  # values per ContainsAny filter
_KEYWORD = re.compile(r"Result Set keyword[^)]*\) Document [^:]+: original score ([-+0-9.eE]+)")


class WeaviateStore:
    """``VectorStore`` in Weaviate collections. Owns ``client`` (closed by :meth:`close`)."""

    def __init__(
        self,
        client: weaviate.WeaviateClient,
        *,
        collection: str = "BestbeforeChunk",
        title_weight: float = 2.0,
        search_deadline: float | None = None,
    ):
        self.client = client
        # The client retries an unreachable server for about a minute; a question waits at most this long.
        self.search_deadline = search_deadline
        self._searches: ThreadPoolExecutor | None = None
        self._known = False  # our collections exist and were checked (cached; re-checked by ensure_embedder)
        self.name = collection
        self.docs_name = f"{collection}Doc"
        self.meta_name = f"{collection}Meta"
        with _errors("read the server version"):
            self.version = ServerVersion.parse(str(client.get_meta().get("version", "")))
        self.query_properties = [title_property(title_weight, self.version), "text"]
        if self.query_properties[0] not in ("title", f"title^{title_weight:g}"):
            log.info("Weaviate %s reads BM25 boosts as integers: title weight %g used as %s",
                     self.version, title_weight, self.query_properties[0])  # fmt: skip

    def check_sources(self, names: Sequence[str]) -> None:
        """Refuse source names this server cannot filter on (a stopword on affected versions)."""
        refuse_stopword_sources(list(names), self.version)

    # -- embedder identity and schema --------------------------------------------------------------------------
    def ensure_embedder(self, embedder_id: str, dimension: int) -> None:
        """Record the embedder of a new index (or refuse another one); refuse collections that are not ours."""
        with _errors("record the embedder"):
            stored = self.embedder()
            if stored is None:
                self._create(embedder_id, dimension)
            elif stored != (embedder_id, dimension):
                raise EmbedderMismatchError(stored[0], embedder_id)
            else:
                self._prepare()
            self._known = True

    def embedder(self) -> tuple[str, int] | None:
        """(embedder id, dimension) the index was built with, or None for a new index."""
        with _errors("read the embedder"):
            if not self.client.collections.exists(self.meta_name):
                return None
            objects = self.client.collections.get(self.meta_name).query.fetch_objects(limit=1).objects
            if not objects:
                return None
            value = json.loads(str(objects[0].properties["value"]))
            return str(value["id"]), int(value["dimension"])

    def _create(self, embedder_id: str, dimension: int) -> None:
        """Create what is missing and check it is ours, then record the embedder (refused if vectors already stored
        have another length: the server's vector index would reject the new ones partway through a refresh)."""
        self._create_collection(self.name, "bestbefore chunks", CHUNK_SCHEMA, hnsw=True)
        self._create_collection(
            self.meta_name,
            "bestbefore index metadata",
            [field_property("key"), Property(name="value", data_type=DataType.TEXT, index_searchable=False)],
        )
        self._prepare()
        stored = self._stored_dimension()
        if stored is not None and stored != dimension:
            raise EmbedderMismatchError(f"unknown ({stored}-dimensional vectors)", f"{embedder_id} ({dimension})")
        value = json.dumps({"id": embedder_id, "dimension": dimension})
        result = self.client.collections.get(self.meta_name).data.insert_many(
            [DataObject(properties={"key": "embedder", "value": value}, uuid=generate_uuid5("embedder"))]
        )
        _raise_batch_errors(result)

    def _prepare(self) -> None:
        """The doc collection exists (built from the chunks for an older index) and every collection is ours."""
        created = self._create_collection(self.docs_name, "bestbefore documents", DOC_SCHEMA)
        self._check_collections()
        self._add_missing_properties()
        if created:
            self._backfill_docs()

    def _create_collection(self, name: str, description: str, schema: list[Property], hnsw: bool = False) -> bool:
        """Create ``name`` unless it exists; True if this call created it."""
        if self.client.collections.exists(name):
            return False
        index = Configure.VectorIndex.hnsw() if hnsw else None
        try:
            self.client.collections.create(
                name,
                description=description,
                properties=schema,
                vector_config=Configure.Vectors.self_provided(name=VECTOR, vector_index_config=index),
                inverted_index_config=Configure.inverted_index(bm25_b=0.75, bm25_k1=1.2),
            )
        except UnexpectedStatusCodeError as exc:
            if "already exists" not in str(exc):
                raise
            return False  # another process created it meanwhile; _check_collections decides whether it is ours
        return True

    def _check_collections(self) -> None:
        for name, needs_vector in ((self.name, True), (self.docs_name, False)):
            check_collection(self.client.collections.get(name).config.get(), needs_vector=needs_vector)

    def _stored_dimension(self) -> int | None:
        """The length of one stored chunk vector, or None for an empty collection."""
        objects = self._chunks.query.fetch_objects(limit=1, include_vector=True, return_properties=[]).objects
        vector = objects[0].vector.get(VECTOR) if objects else None
        return len(vector) if isinstance(vector, list) else None

    def _backfill_docs(self) -> None:
        """An index written before the doc collection existed: build its doc objects from the chunks, once."""
        rows = [
            obj.properties for obj in self._chunks.iterator(return_properties=[*META_PROPS, "chunk_id", "chunk_hash"])
        ]
        docs: dict[str, list[dict[str, Any]]] = {}
        for props in rows:
            docs.setdefault(str(props["doc_id"]), []).append(props)
        objects = [
            doc_object(doc_meta(chunks[0]), {str(c["chunk_id"]): str(c["chunk_hash"]) for c in chunks})
            for chunks in docs.values()
        ]
        for start in range(0, len(objects), 100):
            _raise_batch_errors(self._docs.data.insert_many(objects[start : start + 100]))

    def reset(self, embedder_id: str, dimension: int) -> None:
        with _errors("reset the index"):
            self._known = False
            self.client.collections.delete([self.name, self.docs_name, self.meta_name])
            self._create(embedder_id, dimension)
            self._known = True

    # -- writes ------------------------------------------------------------------------------------------------
    @property
    def _chunks(self) -> Collection[Any, Any]:
        return self.client.collections.get(self.name)

    @property
    def _docs(self) -> Collection[Any, Any]:
        return self.client.collections.get(self.docs_name)

    def _exists(self) -> bool:
        if not self._known:
            self._known = self.client.collections.exists(self.name) and self.client.collections.exists(self.docs_name)
            if self._known:
                self._check_collections()
                self._add_missing_properties()
        return self._known

    def _add_missing_properties(self) -> None:
        """Collections made by an older bestbefore get the newer properties in place (no re-index needed)."""
        for name, schema in ((self.name, CHUNK_SCHEMA), (self.docs_name, DOC_SCHEMA)):
            config = self.client.collections.get(name).config
            present = {prop.name for prop in config.get(simple=True).properties}
            for prop in schema:
                if prop.name not in present:
                    config.add_property(prop)

    def _require_collection(self) -> None:
        if not self._exists():
            raise StoreError(f"Weaviate has no collection {self.name!r} yet: run `bestbefore ingest` first")

    def replace_doc(self, doc_id: str, records: Sequence[ChunkRecord]) -> None:
        with _errors(f"write {doc_id}"):
            self._require_collection()
            keep = {chunk_uuid(r.chunk.chunk_id) for r in records}
            for start in range(0, len(records), 100):
                result = self._chunks.data.insert_many([chunk_object(r) for r in records[start : start + 100]])
                _raise_batch_errors(result)
            if records:
                hashes = {r.chunk.chunk_id: r.chunk.chunk_hash for r in records}
                _raise_batch_errors(self._docs.data.insert_many([doc_object(records[0].doc, hashes)]))
            stale = [str(o.uuid) for o in self._doc_chunks(doc_id, properties=[]) if str(o.uuid) not in keep]
            self._delete_uuids(stale)
            if not records:
                self._delete_doc_objects([doc_id])

    def update_doc_meta(self, meta: DocMeta) -> None:
        with _errors(f"update {meta.doc_id}"):
            self._require_collection()
            objects = self._doc_chunks(meta.doc_id, include_vector=True)
            updated = [
                DataObject(properties={**obj.properties, **meta_properties(meta)}, uuid=obj.uuid, vector=obj.vector)
                for obj in objects
            ]
            for start in range(0, len(updated), 100):
                _raise_batch_errors(self._chunks.data.insert_many(updated[start : start + 100]))
            hashes = {str(o.properties["chunk_id"]): str(o.properties["chunk_hash"]) for o in objects}
            _raise_batch_errors(self._docs.data.insert_many([doc_object(meta, hashes)]))

    def delete_docs(self, doc_ids: Sequence[str]) -> int:
        """Chunks first, then the doc objects: a run killed in between leaves the doc listed, so it is retried."""
        deleted = 0
        with _errors("delete documents"):
            if not doc_ids or not self._exists():
                return 0
            for part in _parts(list(doc_ids), IN_LIST):
                while True:
                    result = self._chunks.data.delete_many(where=Filter.by_property("doc_id").contains_any(part))
                    deleted += result.successful
                    if result.failed:
                        raise StoreError(f"Weaviate failed to delete {result.failed} chunks")
                    if result.matches == 0 or result.successful == 0:
                        break
            self._delete_doc_objects(doc_ids)
        return deleted

    def _delete_doc_objects(self, doc_ids: Sequence[str]) -> None:
        for part in _parts([str(doc_uuid(d)) for d in doc_ids], IN_LIST):
            result = self._docs.data.delete_many(where=Filter.by_id().contains_any(part))
            if result.failed:
                raise StoreError(f"Weaviate failed to delete {result.failed} documents")

    def _delete_uuids(self, uuids: Sequence[str]) -> None:
        for part in _parts(list(uuids), IN_LIST):
            result = self._chunks.data.delete_many(where=Filter.by_id().contains_any(part))
            if result.failed:
                raise StoreError(f"Weaviate failed to delete {result.failed} chunks")

    # -- reads -------------------------------------------------------------------------------------------------
    def _doc_chunks(
        self, doc_id: str, *, properties: list[str] | None = None, include_vector: bool = False
    ) -> list[Any]:
        """Every chunk of a doc, paged by ``chunk_id`` (unique, sorted), never by offset."""
        wanted = None if properties is None else [*properties, "chunk_id"]
        return _keyset(self._chunks, "chunk_id", Filter.by_property("doc_id").equal(doc_id), wanted, include_vector)

    def stored_docs(self, source: str | None = None) -> dict[str, StoredDoc]:
        """One filtered query on the doc collection (paged by ``doc_id``); chunks are not read."""
        docs: dict[str, StoredDoc] = {}
        with _errors("list stored documents"):
            if not self._exists():
                return docs
            where = Filter.by_property("source").equal(source) if source is not None else None
            objects = _keyset(self._docs, "doc_id", where, None, False)
        for obj in objects:
            props = obj.properties
            ids = [str(i) for i in props.get("chunk_ids") or []]
            hashes = [str(h) for h in props.get("chunk_hashes") or []]
            docs[str(props["doc_id"])] = StoredDoc(
                meta=doc_meta(props), chunk_hashes=dict(zip(ids, hashes, strict=True))
            )
        return docs

    def vectors_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """One vector per hash: first find one object per hash (no vectors, no offsets), then fetch those vectors.

        A hash shared by many chunks (a repeated footer) costs one page, not one vector per copy.
        """
        found: dict[str, np.ndarray] = {}
        with _errors("look up vectors"):
            if not chunk_hashes or not self._exists():
                return found
            chosen: dict[str, str] = {}  # uuid -> chunk hash
            for part in _parts(list(dict.fromkeys(chunk_hashes)), IN_LIST):
                left = set(part)
                while left:  # every page holds at least one hash still left, so this ends
                    where = Filter.by_property("chunk_hash").contains_any(sorted(left))
                    page = self._chunks.query.fetch_objects(filters=where, limit=PAGE, return_properties=["chunk_hash"])
                    if not page.objects:
                        break
                    for obj in page.objects:
                        value = str(obj.properties["chunk_hash"])
                        if value in left:
                            left.discard(value)
                            chosen[str(obj.uuid)] = value
            for part in _parts(list(chosen), IN_LIST):
                response = self._chunks.query.fetch_objects(
                    filters=Filter.by_id().contains_any(part),
                    limit=len(part),
                    return_properties=[],
                    include_vector=True,
                )
                for obj in response.objects:
                    vector = obj.vector.get(VECTOR)
                    if vector is not None:
                        found[chosen[str(obj.uuid)]] = np.asarray(vector, dtype=np.float32)
        return found

    def passage_dates_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, datetime]:
        """The earliest stored passage date per hash (chunks paged by ``chunk_id``, never by offset)."""
        found: dict[str, datetime] = {}
        with _errors("look up passage dates"):
            if not chunk_hashes or not self._exists():
                return found
            for part in _parts(list(dict.fromkeys(chunk_hashes)), IN_LIST):
                where = Filter.by_property("chunk_hash").contains_any(part)
                for obj in _keyset(self._chunks, "chunk_id", where, ["chunk_id", "chunk_hash", "passage_at"], False):
                    when = date_of(obj.properties.get("passage_at"))
                    hash_ = str(obj.properties["chunk_hash"])
                    if when is not None and (hash_ not in found or when < found[hash_]):
                        found[hash_] = when
        return found

    def passages(self, source: str | None = None) -> dict[str, list[tuple[datetime | None, int]]]:
        """doc_id -> (passage date, text length) of each chunk, in order."""
        with _errors("list passage dates"):
            if not self._exists():
                return {}
            where = Filter.by_property("source").equal(source) if source is not None else None
            wanted = ["chunk_id", "doc_id", "ordinal", "text", "passage_at"]
            rows = [obj.properties for obj in _keyset(self._chunks, "chunk_id", where, wanted, False)]
        found: dict[str, list[tuple[datetime | None, int]]] = {}
        for props in sorted(rows, key=lambda p: (str(p["doc_id"]), int(p.get("ordinal") or 0))):
            entry = (date_of(props.get("passage_at")), len(str(props.get("text") or "")))
            found.setdefault(str(props["doc_id"]), []).append(entry)
        return found

    def hybrid_search(
        self,
        query: str,
        vector: np.ndarray,
        *,
        limit: int = 20,
        alpha: float = 0.5,
        where: SearchFilter | None = None,
    ) -> list[SearchHit]:
        filters = search_filters(where)
        if filters is False:
            return []
        query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)

        def run() -> Any:
            with _errors("search"):
                if not self._exists():
                    return None
                return self._chunks.query.hybrid(
                    query=query,
                    vector=[float(x) for x in query_vector],
                    target_vector=VECTOR,
                    alpha=alpha,
                    fusion_type=HybridFusion.RELATIVE_SCORE,
                    query_properties=self.query_properties,
                    filters=filters,
                    limit=limit,
                    include_vector=True,
                    return_metadata=MetadataQuery(score=True, explain_score=True),
                )

        response = self._within_deadline(run)
        if response is None:
            return []
        hits = []
        for obj in response.objects:
            stored = obj.vector.get(VECTOR)
            cosine = float(np.dot(np.asarray(stored, dtype=np.float32), query_vector)) if stored is not None else None
            match = _KEYWORD.search(obj.metadata.explain_score or "")
            hits.append(
                SearchHit(
                    chunk=chunk_of(obj.properties),
                    doc=doc_meta(obj.properties),
                    score=float(obj.metadata.score or 0.0),
                    bm25_score=float(match.group(1)) if match else None,
                    vector_score=cosine,
                )
            )
        return hits

    def _within_deadline(self, run: Callable[[], Any]) -> Any:
        """``run()``, or IndexUnavailableError once ``search_deadline`` passes (the call finishes in the background)."""
        if self.search_deadline is None:
            return run()
        if self._searches is None:
            self._searches = ThreadPoolExecutor(max_workers=4, thread_name_prefix="weaviate-search")
        future = self._searches.submit(run)
        try:
            return future.result(timeout=self.search_deadline)
        except FutureTimeout:
            raise IndexUnavailableError(
                f"Weaviate did not answer within {self.search_deadline:g} s (WEAVIATE_URL, WEAVIATE_GRPC_HOST/_PORT)"
            ) from None

    def count_chunks(self) -> int:
        with _errors("count chunks"):
            if not self._exists():
                return 0
            return int(self._chunks.aggregate.over_all(total_count=True).total_count or 0)

    def close(self) -> None:
        if self._searches is not None:
            self._searches.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _keyset(
    collection: Collection[Any, Any], key: str, where: Any, properties: list[str] | None, include_vector: bool
) -> list[Any]:
    """Every object matching ``where``, sorted by the unique text property ``key`` and paged by ``key > last``."""
    found: list[Any] = []
    last: str | None = None
    while True:
        after = Filter.by_property(key).greater_than(last) if last is not None else None
        filters = Filter.all_of([where, after]) if where is not None and after is not None else where or after
        page = collection.query.fetch_objects(
            filters=filters, limit=PAGE, sort=Sort.by_property(key), return_properties=properties,
            include_vector=include_vector,
        ).objects  # fmt: skip
        found.extend(page)
        if len(page) < PAGE:
            return found
        last = str(page[-1].properties[key])


_UNAVAILABLE = (WeaviateConnectionError, WeaviateGRPCUnavailableError, WeaviateTimeoutError, WeaviateClosedClientError)
_UNAVAILABLE_TEXT = (
    "StatusCode.UNAVAILABLE",
    "StatusCode.DEADLINE_EXCEEDED",
    "failed to connect",
    "Connection refused",
)


class _errors:
    """Turns client errors into StoreError saying what we were doing."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, WeaviateBaseError):
            return
        detail = " ".join(str(exc).split())[:300]
        if isinstance(exc, _UNAVAILABLE) or any(text in str(exc) for text in _UNAVAILABLE_TEXT):
            raise IndexUnavailableError(
                f"Weaviate is unreachable (WEAVIATE_URL, WEAVIATE_GRPC_HOST/_PORT): could not {self.doing}: {detail}"
            ) from exc
        raise StoreError(f"Weaviate could not {self.doing}: {detail}") from exc


def _parts(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _raise_batch_errors(result: Any) -> None:
    if result.has_errors:
        first = next(iter(result.errors.values()))
        raise StoreError(f"Weaviate rejected {len(result.errors)} objects, e.g.: {first.message}")
