"""bestbefore's records as Weaviate objects and back: chunk and doc objects, their UUIDs, and search filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter
from weaviate.util import generate_uuid5

from rag.index.weaviate_schema import VECTOR
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, SearchFilter

META_PROPS = [
    "doc_id", "source", "path", "title", "url", "owner", "updated_at", "date_origin", "source_hash", "date_warning",
    "review_in", "review_by", "keywords",
]  # fmt: skip


def search_filters(where: SearchFilter | None) -> Any:
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


def meta_properties(meta: DocMeta) -> dict[str, Any]:
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
        "review_in": meta.review_in or "",
        "review_by": meta.review_by.isoformat() if meta.review_by else "",
        "keywords": meta.keywords or "",
    }


def chunk_object(record: ChunkRecord) -> DataObject[Any, Any]:
    chunk = record.chunk
    properties = {
        **meta_properties(record.doc),
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


def doc_object(meta: DocMeta, chunk_hashes: dict[str, str]) -> DataObject[Any, Any]:
    ids = sorted(chunk_hashes)
    properties = {
        **meta_properties(meta),
        "chunk_count": len(ids),
        "chunk_ids": ids,
        "chunk_hashes": [chunk_hashes[i] for i in ids],
    }
    return DataObject(properties=properties, uuid=doc_uuid(meta.doc_id))


def doc_uuid(doc_id: str) -> str:
    return str(generate_uuid5(doc_id, "bestbefore-doc"))


def chunk_uuid(chunk_id: str) -> str:
    """The deterministic object UUID of a chunk (so writing a chunk again replaces it)."""
    return str(generate_uuid5(chunk_id, "bestbefore"))


def doc_meta(props: dict[str, Any]) -> DocMeta:
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
        review_in=props.get("review_in") or None,
        review_by=datetime.fromisoformat(props["review_by"]) if props.get("review_by") else None,
        keywords=props.get("keywords") or None,
    )


def chunk_of(props: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=str(props["chunk_id"]),
        doc_id=str(props["doc_id"]),
        ordinal=int(props.get("ordinal") or 0),
        text=str(props["text"]),
        chunk_hash=str(props["chunk_hash"]),
        heading_path=tuple(props.get("heading_path") or ()),
        passage_at=date_of(props.get("passage_at")),
    )


def date_of(value: Any) -> datetime | None:
    """A DATE property as an aware datetime (the client returns datetimes; RFC 3339 text is accepted too)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None
