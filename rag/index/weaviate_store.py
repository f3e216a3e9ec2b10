"""``WeaviateStore``: the ``VectorStore`` protocol on Weaviate (weaviate-client 4.x), with our own vectors.

One collection holds the chunks (properties below, one self-provided vector named ``default``); a small
``<collection>Meta`` collection records the embedder the index was built with. Object UUIDs are derived from chunk
ids (``generate_uuid5``), so writing a chunk again replaces it. ``replace_doc`` keeps the refresh's order: the
doc's new chunks are written first, then its other chunks are deleted, so a concurrent query finds the doc
throughout. Hybrid search is Weaviate's ``relativeScore`` fusion with our ``alpha``; the cosine of each hit is
computed from its returned vector (Weaviate reports only fused scores).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import numpy as np
import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError
from weaviate.util import generate_uuid5

from rag.errors import ConfigError, EmbedderMismatchError, StoreError
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, SearchFilter, SearchHit, StoredDoc

VECTOR = "default"
PAGE = 1000  # objects per fetch; well below Weaviate's QUERY_MAXIMUM_RESULTS (10 000)
IN_LIST = 200  # values per ContainsAny filter
META_PROPS = [
    "doc_id", "source", "path", "title", "url", "owner", "updated_at", "date_origin", "source_hash", "date_warning",
]  # fmt: skip
CHUNK_PROPS = ["chunk_id", "chunk_hash", "ordinal", "heading_path", "passage_at"]
_KEYWORD = re.compile(r"Result Set keyword[^)]*\) Document [^:]+: original score ([-+0-9.eE]+)")


def _field(name: str) -> Property:
    return Property(
        name=name, data_type=DataType.TEXT, tokenization=Tokenization.FIELD, index_searchable=False,
        index_filterable=True, skip_vectorization=True,
    )  # fmt: skip


CHUNK_SCHEMA = [
    *(_field(n) for n in ("doc_id", "source", "path", "url", "owner", "date_origin", "source_hash")),
    *(_field(n) for n in ("chunk_id", "chunk_hash")),
    Property(name="date_warning", data_type=DataType.TEXT, index_searchable=False, skip_vectorization=True),
    Property(name="title", data_type=DataType.TEXT, tokenization=Tokenization.WORD, skip_vectorization=True),
    Property(name="text", data_type=DataType.TEXT, tokenization=Tokenization.WORD, skip_vectorization=True),
    Property(name="heading_path", data_type=DataType.TEXT_ARRAY, index_searchable=False, skip_vectorization=True),
    Property(name="ordinal", data_type=DataType.INT, skip_vectorization=True),
    Property(name="updated_at", data_type=DataType.DATE, skip_vectorization=True),
    Property(name="passage_at", data_type=DataType.DATE, skip_vectorization=True),  # the chunk's own age (#14)
]


def connect_weaviate(
    url: str,
    *,
    api_key: str | None = None,
    grpc_port: int | None = None,
    timeout: float = 30.0,
    skip_init_checks: bool = False,
) -> weaviate.WeaviateClient:
    """A connected client for ``WEAVIATE_URL`` (+ ``WEAVIATE_API_KEY``, ``WEAVIATE_GRPC_PORT``; gRPC defaults to 50051)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"WEAVIATE_URL must look like http://host:8080 or https://host, got {url!r}")
    secure = parsed.scheme == "https"
    try:
        return weaviate.connect_to_custom(
            http_host=parsed.hostname,
            http_port=parsed.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=parsed.hostname,
            grpc_port=grpc_port or 50051,
            grpc_secure=secure,
            auth_credentials=Auth.api_key(api_key) if api_key else None,
            additional_config=AdditionalConfig(timeout=Timeout(init=min(timeout, 10), query=timeout, insert=timeout)),
            skip_init_checks=skip_init_checks,
        )
    except WeaviateBaseError as exc:
        hint = " — check WEAVIATE_API_KEY" if "401" in str(exc) or "403" in str(exc) else ""
        raise StoreError(f"Cannot connect to Weaviate at {url} (gRPC port {grpc_port or 50051}){hint}: {exc}") from exc


class WeaviateStore:
    """``VectorStore`` in a Weaviate collection. Owns ``client`` (closed by :meth:`close`)."""

    def __init__(
        self, client: weaviate.WeaviateClient, *, collection: str = "BestbeforeChunk", title_weight: float = 2.0
    ):
        self.client = client
        self._known = False  # the chunk collection exists (cached; if another process drops it, calls fail clearly)
        self.name = collection
        self.meta_name = f"{collection}Meta"
        weight = f"{title_weight:g}"
        self.query_properties = [f"title^{weight}", "text"] if title_weight != 1 else ["title", "text"]

    # -- embedder identity -------------------------------------------------------------------------------------
    def ensure_embedder(self, embedder_id: str, dimension: int) -> None:
        with _errors("record the embedder"):
            stored = self.embedder()
            if stored is None:
                self._create(embedder_id, dimension)
            elif stored != (embedder_id, dimension):
                raise EmbedderMismatchError(stored[0], embedder_id)
            self._exists()

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
        if not self.client.collections.exists(self.name):
            self.client.collections.create(
                self.name,
                description="bestbefore chunks",
                properties=CHUNK_SCHEMA,
                vector_config=Configure.Vectors.self_provided(
                    name=VECTOR, vector_index_config=Configure.VectorIndex.hnsw()
                ),
                inverted_index_config=Configure.inverted_index(bm25_b=0.75, bm25_k1=1.2),
            )
        if not self.client.collections.exists(self.meta_name):
            self.client.collections.create(
                self.meta_name,
                description="bestbefore index metadata",
                properties=[_field("key"), Property(name="value", data_type=DataType.TEXT, index_searchable=False)],
                vector_config=Configure.Vectors.self_provided(name=VECTOR),
            )
        value = json.dumps({"id": embedder_id, "dimension": dimension})
        result = self.client.collections.get(self.meta_name).data.insert_many(
            [DataObject(properties={"key": "embedder", "value": value}, uuid=generate_uuid5("embedder"))]
        )
        _raise_batch_errors(result)

    def reset(self, embedder_id: str, dimension: int) -> None:
        with _errors("reset the index"):
            self._known = False
            self.client.collections.delete([self.name, self.meta_name])
            self._create(embedder_id, dimension)
            self._known = True

    # -- writes ------------------------------------------------------------------------------------------------
    @property
    def _chunks(self) -> Collection[Any, Any]:
        return self.client.collections.get(self.name)

    def _exists(self) -> bool:
        if not self._known:
            self._known = self.client.collections.exists(self.name)
            if self._known:
                self._add_missing_properties()
        return self._known

    def _add_missing_properties(self) -> None:
        """A collection made by an older bestbefore gets the newer properties in place (no re-index needed)."""
        config = self._chunks.config
        present = {prop.name for prop in config.get(simple=True).properties}
        for prop in CHUNK_SCHEMA:
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
                result = self._chunks.data.insert_many([_data_object(r) for r in records[start : start + 100]])
                _raise_batch_errors(result)
            stale = [u for u in self._uuids_of(doc_id) if u not in keep]
            self._delete_uuids(stale)

    def update_doc_meta(self, meta: DocMeta) -> None:
        with _errors(f"update {meta.doc_id}"):
            self._require_collection()
            objects = self._fetch(Filter.by_property("doc_id").equal(meta.doc_id), include_vector=True)
            updated = [
                DataObject(properties={**obj.properties, **_meta_properties(meta)}, uuid=obj.uuid, vector=obj.vector)
                for obj in objects
            ]
            for start in range(0, len(updated), 100):
                _raise_batch_errors(self._chunks.data.insert_many(updated[start : start + 100]))

    def delete_docs(self, doc_ids: Sequence[str]) -> int:
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
        return deleted

    def _uuids_of(self, doc_id: str) -> list[str]:
        objects = self._fetch(Filter.by_property("doc_id").equal(doc_id), properties=[])
        return [str(obj.uuid) for obj in objects]

    def _delete_uuids(self, uuids: Sequence[str]) -> None:
        for part in _parts(list(uuids), IN_LIST):
            result = self._chunks.data.delete_many(where=Filter.by_id().contains_any(part))
            if result.failed:
                raise StoreError(f"Weaviate failed to delete {result.failed} chunks")

    # -- reads -------------------------------------------------------------------------------------------------
    def _fetch(self, where: Any, *, properties: list[str] | None = None, include_vector: bool = False) -> list[Any]:
        """Every object matching ``where`` (paged by offset within Weaviate's result window)."""
        found: list[Any] = []
        while True:
            page = self._chunks.query.fetch_objects(
                filters=where, limit=PAGE, offset=len(found), return_properties=properties,
                include_vector=include_vector,
            ).objects  # fmt: skip
            found.extend(page)
            if len(page) < PAGE:
                return found

    def stored_docs(self, source: str | None = None) -> dict[str, StoredDoc]:
        docs: dict[str, StoredDoc] = {}
        with _errors("list stored documents"):
            if not self._exists():
                return docs
            rows: list[dict[str, Any]] = []
            for obj in self._chunks.iterator(return_properties=[*META_PROPS, "chunk_id", "chunk_hash", "ordinal"]):
                if source is None or obj.properties.get("source") == source:
                    rows.append(obj.properties)
        for props in sorted(rows, key=lambda p: (str(p["doc_id"]), int(p.get("ordinal") or 0))):
            stored = docs.get(str(props["doc_id"]))
            if stored is None:
                stored = docs[str(props["doc_id"])] = StoredDoc(meta=_meta(props), chunk_hashes={})
            stored.chunk_hashes[str(props["chunk_id"])] = str(props["chunk_hash"])
        return docs

    def vectors_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with _errors("look up vectors"):
            if not chunk_hashes or not self._exists():
                return found
            for part in _parts(list(dict.fromkeys(chunk_hashes)), IN_LIST):
                where = Filter.by_property("chunk_hash").contains_any(part)
                for obj in self._fetch(where, properties=["chunk_hash"], include_vector=True):
                    vector = obj.vector.get(VECTOR)
                    if vector is not None:
                        found[str(obj.properties["chunk_hash"])] = np.asarray(vector, dtype=np.float32)
        return found

    def passage_dates_by_chunk_hash(self, chunk_hashes: Sequence[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        with _errors("look up passage dates"):
            if not chunk_hashes or not self._exists():
                return found
            for part in _parts(list(dict.fromkeys(chunk_hashes)), IN_LIST):
                where = Filter.by_property("chunk_hash").contains_any(part)
                for obj in self._fetch(where, properties=["chunk_hash", "passage_at"]):
                    when = _date(obj.properties.get("passage_at"))
                    hash_ = str(obj.properties["chunk_hash"])
                    if when is not None and (hash_ not in found or when < found[hash_]):
                        found[hash_] = when
        return found

    def passages(self, source: str | None = None) -> dict[str, list[tuple[datetime | None, int]]]:
        rows: list[dict[str, Any]] = []
        with _errors("list passage dates"):
            if not self._exists():
                return {}
            for obj in self._chunks.iterator(return_properties=["doc_id", "source", "ordinal", "text", "passage_at"]):
                if source is None or obj.properties.get("source") == source:
                    rows.append(obj.properties)
        found: dict[str, list[tuple[datetime | None, int]]] = {}
        for props in sorted(rows, key=lambda p: (str(p["doc_id"]), int(p.get("ordinal") or 0))):
            entry = (_date(props.get("passage_at")), len(str(props.get("text") or "")))
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
        filters = _filters(where)
        if filters is False:
            return []
        query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        with _errors("search"):
            if not self._exists():
                return []
            response = self._chunks.query.hybrid(
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
        hits = []
        for obj in response.objects:
            stored = obj.vector.get(VECTOR)
            cosine = float(np.dot(np.asarray(stored, dtype=np.float32), query_vector)) if stored is not None else None
            match = _KEYWORD.search(obj.metadata.explain_score or "")
            hits.append(
                SearchHit(
                    chunk=_chunk(obj.properties),
                    doc=_meta(obj.properties),
                    score=float(obj.metadata.score or 0.0),
                    bm25_score=float(match.group(1)) if match else None,
                    vector_score=cosine,
                )
            )
        return hits

    def count_chunks(self) -> int:
        with _errors("count chunks"):
            if not self._exists():
                return 0
            return int(self._chunks.aggregate.over_all(total_count=True).total_count or 0)

    def close(self) -> None:
        self.client.close()


class _errors:
    """Turns client errors into StoreError saying what we were doing."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, WeaviateBaseError):
            raise StoreError(f"Weaviate could not {self.doing}: {exc}") from exc


def _parts(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _raise_batch_errors(result: Any) -> None:
    if result.has_errors:
        first = next(iter(result.errors.values()))
        raise StoreError(f"Weaviate rejected {len(result.errors)} objects, e.g.: {first.message}")


def _filters(where: SearchFilter | None) -> Any:
    """A Weaviate filter, None for no restriction, or False when nothing can match (an empty list)."""
    if where is None:
        return None
    parts = []
    for prop, values in (("source", where.sources), ("doc_id", where.doc_ids)):
        if values is None:
            continue
        if not values:
            return False
        parts.append(Filter.by_property(prop).contains_any(list(values)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def _meta_properties(meta: DocMeta) -> dict[str, Any]:
    return {
        "doc_id": meta.doc_id,
        "source": meta.source,
        "path": meta.path,
        "title": meta.title,
        "url": meta.url or "",
        "owner": meta.owner or "",
        "updated_at": meta.updated_at.astimezone(UTC),
        "date_origin": meta.date_origin.value,
        "source_hash": meta.source_hash,
        "date_warning": meta.date_warning or "",
    }


def _data_object(record: ChunkRecord) -> DataObject[Any, Any]:
    chunk = record.chunk
    properties = {
        **_meta_properties(record.doc),
        "chunk_id": chunk.chunk_id,
        "chunk_hash": chunk.chunk_hash,
        "ordinal": chunk.ordinal,
        "heading_path": list(chunk.heading_path),
        "text": chunk.text,
    }
    if chunk.passage_at is not None:
        properties["passage_at"] = chunk.passage_at.astimezone(UTC).isoformat()
    vector = [float(x) for x in np.asarray(record.vector, dtype=np.float32).reshape(-1)]
    return DataObject(properties=properties, uuid=chunk_uuid(chunk.chunk_id), vector={VECTOR: vector})


def chunk_uuid(chunk_id: str) -> str:
    """The deterministic object UUID of a chunk (so writing a chunk again replaces it)."""
    return str(generate_uuid5(chunk_id, "bestbefore"))


def _meta(props: dict[str, Any]) -> DocMeta:
    updated = props["updated_at"]
    if isinstance(updated, str):
        updated = datetime.fromisoformat(updated.replace("Z", "+00:00"))
    return DocMeta(
        doc_id=str(props["doc_id"]),
        source=str(props["source"]),
        path=str(props["path"]),
        title=str(props["title"]),
        source_hash=str(props["source_hash"]),
        updated_at=updated,
        date_origin=DateOrigin(str(props["date_origin"])),
        url=props.get("url") or None,
        owner=props.get("owner") or None,
        date_warning=props.get("date_warning") or None,
    )


def _chunk(props: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=str(props["chunk_id"]),
        doc_id=str(props["doc_id"]),
        ordinal=int(props.get("ordinal") or 0),
        text=str(props["text"]),
        chunk_hash=str(props["chunk_hash"]),
        heading_path=tuple(props.get("heading_path") or ()),
        passage_at=_date(props.get("passage_at")),
    )


def _date(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None
