"""A local fake Weaviate (REST + gRPC over real sockets) for driving the real ``weaviate-client`` in tests.

REST: ``/v1/meta`` (version 1.32), ``/v1/.well-known/ready|live|openid-configuration``, ``/v1/schema`` (create, get,
list, delete). gRPC: the ``weaviate.v1.Weaviate`` servicer from ``weaviate.proto.v1`` (``Search``, ``BatchObjects``,
``BatchDelete``, ``Aggregate``) and the health check the client pings at start-up. Objects live in memory.

Search is computed, not canned: BM25 (k1 1.2, b 0.75, word tokenisation, English stopwords, ``prop^boost``) over
the collection's text properties, cosine vector search, Weaviate's ``relativeScore`` (min-max normalised, weighted
by ``alpha``) or ``ranked`` fusion with Weaviate's ``explain_score`` wording, filters (equal, not equal,
contains any/all/none, like, comparisons, and/or/not, by id), ``after`` cursors, sorting, limit and offset.

By default the fake is as strict as Weaviate 1.32.4 (server source cited per rule); each rule is a switch in
:class:`Strictness` so a test can show what it changes (``LENIENT`` is the old, forgiving fake):

* ``auto_schema``: a batch into a missing collection creates it, with ``word`` tokenization and the English stopwords
  on every text property and no named vectors (``usecases/objects/auto_schema.go``); unknown properties are added.
* ``result_window``: ``offset + limit`` over QUERY_MAXIMUM_RESULTS (10 000) is "query maximum results exceeded"
  (``adapters/repos/db/search.go``); a batch delete removes at most that many objects per call.
* ``integer_boosts``: ``prop^1.5`` is parsed with ``Atoi`` and the error ignored, so the boost is 0
  (``adapters/repos/db/inverted/bm25_searcher.go`` before 1.38, weaviate#11440).
* ``stopword_filters``: filter values are tokenized per property and stopwords dropped even for ``field``
  tokenization; a value that is only a stopword is "invalid search term, only stopwords provided"
  (``adapters/repos/db/inverted/searcher.go``; weaviate#9054, fixed in 1.31.19 / 1.32.16 / 1.33.4).
* ``vector_length``: the HNSW index rejects a vector whose length differs from the stored ones
  (``adapters/repos/db/vector/hnsw/insert.go``), and a query vector of another length is an error.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import math
import re
import struct
import threading
import uuid as uuidlib
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    base_search_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

VERSION = "1.32.4"
MAX_RESULTS = 10_000  # QUERY_MAXIMUM_RESULTS
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
F = base_pb2.Filters


def tokens(text: str) -> list[str]:
    return [t for t in (m.lower() for m in _TOKEN.findall(text)) if t not in STOPWORDS]


def tokenize(tokenization: str, text: str) -> list[str]:
    """Weaviate's ``helpers.Tokenize`` for the tokenizations the fake knows (stopwords not removed)."""
    if tokenization == "field":
        return [text.strip()] if text.strip() else []
    if tokenization == "whitespace":
        return text.split()
    if tokenization == "lowercase":
        return text.lower().split()
    return [m.lower() for m in _TOKEN.findall(text)]  # word


@dataclass(frozen=True)
class Strictness:
    """Which of the real server's rules the fake enforces (all on: Weaviate 1.32.4 with default settings)."""

    version: str = VERSION
    auto_schema: bool = True
    result_window: int | None = MAX_RESULTS
    integer_boosts: bool = True
    stopword_filters: bool = True
    vector_length: bool = True


LENIENT = Strictness(
    auto_schema=False, result_window=None, integer_boosts=False, stopword_filters=False, vector_length=False
)
FIXED = Strictness(version="1.38.0", integer_boosts=False, stopword_filters=False)  # a server without both bugs


@dataclass
class StoredObject:
    uuid: str
    properties: dict[str, Any]
    vectors: dict[str, list[float]]


@dataclass
class FakeCollection:
    schema: dict[str, Any]
    objects: dict[str, StoredObject] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)  # vector name -> length of the vectors in its index
    # ``field``-tokenized text property -> value -> uuids: the fake's stand-in for the server's filterable index
    postings: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def put(self, obj: StoredObject) -> None:
        self.remove(obj.uuid)
        self.objects[obj.uuid] = obj
        for name in self._indexed():
            value = obj.properties.get(name)
            if isinstance(value, str):
                self.postings.setdefault(name, {}).setdefault(value.strip(), set()).add(obj.uuid)

    def remove(self, uuid: str) -> None:
        old = self.objects.pop(uuid, None)
        if old is None:
            return
        for name in self._indexed():
            value = old.properties.get(name)
            if isinstance(value, str):
                self.postings.get(name, {}).get(value.strip(), set()).discard(uuid)

    def _indexed(self) -> list[str]:
        return [n for n, t in self.types.items() if t == "text" and self.tokenization.get(n) == "field"]

    @property
    def types(self) -> dict[str, str]:
        return self._described()[0]

    @property
    def tokenization(self) -> dict[str, str]:
        return self._described()[1]

    def _described(self) -> tuple[dict[str, str], dict[str, str]]:
        props = self.schema.get("properties", [])
        key = len(props)
        if getattr(self, "_described_key", None) != key:
            self._types = {p["name"]: p["dataType"][0] for p in props}
            self._tokenization = {p["name"]: p.get("tokenization") or "word" for p in props}
            self._described_key = key
        return self._types, self._tokenization


HNSW_DEFAULTS: dict[str, Any] = {
    "skip": False, "cleanupIntervalSeconds": 300, "maxConnections": 32, "efConstruction": 128, "ef": -1,
    "dynamicEfMin": 100, "dynamicEfMax": 500, "dynamicEfFactor": 8, "vectorCacheMaxObjects": 1000000000000,
    "flatSearchCutoff": 40000, "distance": "cosine", "filterStrategy": "sweeping",
    "pq": {"enabled": False}, "bq": {"enabled": False}, "sq": {"enabled": False}, "rq": {"enabled": False},
}  # fmt: skip


def _with_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """The class as the server returns it, defaults filled in (text properties get ``word`` tokenization)."""
    for prop in schema.get("properties", []):
        if prop["dataType"][0] in ("text", "text[]"):
            prop.setdefault("tokenization", "word")
        prop.setdefault("indexFilterable", True)
        prop.setdefault("indexSearchable", prop["dataType"][0] in ("text", "text[]"))
    inverted = schema.setdefault("invertedIndexConfig", {})
    inverted.setdefault("bm25", {"b": 0.75, "k1": 1.2})
    inverted.setdefault("cleanupIntervalSeconds", 60)
    inverted["stopwords"] = {"preset": "en", "additions": None, "removals": None, **(inverted.get("stopwords") or {})}
    schema.setdefault(
        "multiTenancyConfig", {"enabled": False, "autoTenantCreation": False, "autoTenantActivation": False}
    )
    schema.setdefault(
        "replicationConfig", {"factor": 1, "asyncEnabled": False, "deletionStrategy": "NoAutomatedResolution"}
    )
    schema.setdefault("shardingConfig", {
        "virtualPerPhysical": 128, "desiredCount": 1, "actualCount": 1, "desiredVirtualCount": 128,
        "actualVirtualCount": 128, "key": "_id", "strategy": "hash", "function": "murmur3",
    })  # fmt: skip
    for named in (schema.get("vectorConfig") or {}).values():
        named.setdefault("vectorIndexType", "hnsw")
        named["vectorIndexConfig"] = {**HNSW_DEFAULTS, **(named.get("vectorIndexConfig") or {})}
    if "vectorConfig" not in schema:
        schema.setdefault("vectorizer", "none")
        schema.setdefault("vectorIndexType", "hnsw")
        schema["vectorIndexConfig"] = {**HNSW_DEFAULTS, **(schema.get("vectorIndexConfig") or {})}
    return schema


def _auto_property(name: str, value: Any) -> dict[str, Any]:
    """``determineType`` of the server's auto-schema for the values a gRPC batch carries."""
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int | float):
        kind = "number"  # AUTOSCHEMA_DEFAULT_NUMBER
    elif isinstance(value, list):
        kind = "text[]" if all(isinstance(v, str) for v in value) else "number[]"
    elif isinstance(value, str) and _RFC3339.fullmatch(value):
        kind = "date"
    else:
        kind = "text"
    prop: dict[str, Any] = {
        "name": name,
        "dataType": [kind],
        "description": "This property was generated by Weaviate's auto-schema feature",
    }
    return prop


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


class FakeWeaviate:
    """The shared in-memory state behind both servers."""

    def __init__(self, api_key: str | None = None, strict: Strictness = Strictness()) -> None:
        self.api_key = api_key
        self.strict = strict
        self.collections: dict[str, FakeCollection] = {}
        self.lock = threading.RLock()
        self.grpc_calls: Counter[str] = Counter()
        self.log: list[str] = []  # gRPC calls in order
        self.objects_returned: Counter[str] = Counter()  # objects sent back by Search, per collection
        self.after_schema_delete: Callable[[str], None] | None = None  # runs after a collection is deleted

    def authorised(self, header: str | None) -> bool:
        return self.api_key is None or header == f"Bearer {self.api_key}"

    def collection(self, name: str) -> FakeCollection:
        found = self.collections.get(name)
        if found is None:
            raise KeyError(f"class {name!r} not found")
        return found

    # -- REST --------------------------------------------------------------------------------------------------
    def rest(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any]:
        path = path.split("?")[0].rstrip("/")
        if path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
            return 200, None
        if path == "/v1/.well-known/openid-configuration":
            return 404, None
        if not self.authorised(auth):
            return 401, {"code": 401, "message": "anonymous access not enabled, please provide an auth scheme"}
        if path == "/v1/meta":
            return 200, {
                "hostname": "http://[::]:8080",
                "version": self.strict.version,
                "modules": {},
                "grpcMaxMessageSize": 104858000,
            }
        with self.lock:
            if path == "/v1/schema" and method == "GET":
                return 200, {"classes": [c.schema for c in self.collections.values()]}
            if path == "/v1/schema" and method == "POST":
                name = body["class"]
                if name in self.collections:
                    return 422, {"error": [{"message": f"class name {name!r} already exists"}]}
                self.collections[name] = FakeCollection(schema=_with_defaults(body))
                return 200, body
            added = re.fullmatch(r"/v1/schema/([A-Za-z0-9_]+)/properties", path)
            if added and method == "POST" and added.group(1) in self.collections:
                schema = self.collections[added.group(1)].schema
                schema.setdefault("properties", []).append(body)
                _with_defaults(schema)
                return 200, body
            match = re.fullmatch(r"/v1/schema/([A-Za-z0-9_]+)", path)
            if match and method == "GET":
                found = self.collections.get(match.group(1))
                return (200, found.schema) if found else (404, None)
            if match and method == "DELETE":
                self.collections.pop(match.group(1), None)
        if match and method == "DELETE":
            if self.after_schema_delete is not None:
                self.after_schema_delete(match.group(1))  # e.g. another process writing in the gap
            return 200, None
        return 404, {"error": [{"message": f"no route {method} {path}"}]}

    # -- writes ------------------------------------------------------------------------------------------------
    def batch_objects(self, request: batch_pb2.BatchObjectsRequest) -> batch_pb2.BatchObjectsReply:
        errors = []
        with self.lock:
            for index, obj in enumerate(request.objects):
                try:
                    raw = self._raw_properties(obj.properties)
                    target = self._target_of(obj.collection, raw)
                    properties = self._typed(raw, target.types)
                    vectors = {v.name or "default": _floats(v.vector_bytes) for v in obj.vectors}
                    if obj.vector_bytes:
                        vectors["default"] = _floats(obj.vector_bytes)
                    self._check_lengths(target, vectors)
                    target.put(StoredObject(str(uuidlib.UUID(obj.uuid)), properties, vectors))
                except (KeyError, ValueError) as exc:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(exc)))
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def _target_of(self, name: str, raw: dict[str, Any]) -> FakeCollection:
        """The collection to write into; with auto-schema a missing one is created and unknown properties added."""
        found = self.collections.get(name)
        if not self.strict.auto_schema:
            return self.collection(name)
        if found is None:
            schema = {
                "class": name,
                "description": "This property was generated by Weaviate's auto-schema feature",
                "properties": [],
            }
            found = self.collections[name] = FakeCollection(schema=_with_defaults(schema))
        known = found.types
        added = [_auto_property(n, v) for n, v in raw.items() if n not in known and v is not None]
        if added:
            found.schema["properties"].extend(added)
            _with_defaults(found.schema)
        return found

    def _check_lengths(self, target: FakeCollection, vectors: dict[str, list[float]]) -> None:
        if not self.strict.vector_length:
            return
        for name, vector in vectors.items():
            if not target.objects:
                target.dims.clear()  # an emptied index takes any length again
            stored = target.dims.setdefault(name, len(vector))
            if stored != len(vector):
                raise ValueError(
                    f"insert to vector index {name}: new node has a vector with length {len(vector)}. "
                    f"Existing nodes have vectors with length {stored}"
                )

    @staticmethod
    def _raw_properties(props: batch_pb2.BatchObject.Properties) -> dict[str, Any]:
        decoded: dict[str, Any] = (
            dict(MessageToDict(props.non_ref_properties)) if props.HasField("non_ref_properties") else {}
        )
        for array in props.text_array_properties:
            decoded[array.prop_name] = list(array.values)
        for array in props.int_array_properties:
            decoded[array.prop_name] = list(array.values)
        for name in props.empty_list_props:
            decoded[name] = []
        return decoded

    @staticmethod
    def _typed(decoded: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
        for name, value in decoded.items():
            kind = types.get(name)
            if kind is None:
                raise ValueError(f"no such prop with name '{name}' found in class in the schema")
            if kind == "int" and value is not None:
                decoded[name] = int(value)
        return decoded

    def batch_delete(self, request: batch_delete_pb2.BatchDeleteRequest) -> batch_delete_pb2.BatchDeleteReply:
        with self.lock:
            target = self.collection(request.collection)
            check_filter(request.filters, target, self.strict)
            matched = [
                o for o in _candidates(request.filters, target) if matches(request.filters, o, target, self.strict)
            ]
            if self.strict.result_window is not None:
                matched = matched[: self.strict.result_window]
            if not request.dry_run:
                for obj in matched:
                    target.remove(obj.uuid)
        return batch_delete_pb2.BatchDeleteReply(
            took=0.001, failed=0, matches=len(matched), successful=0 if request.dry_run else len(matched)
        )

    # -- reads -------------------------------------------------------------------------------------------------
    def aggregate(self, request: aggregate_pb2.AggregateRequest) -> aggregate_pb2.AggregateReply:
        with self.lock:
            target = self.collection(request.collection)
            if request.HasField("filters"):
                check_filter(request.filters, target, self.strict)
            objects = [
                o
                for o in target.objects.values()
                if not request.HasField("filters") or matches(request.filters, o, target, self.strict)
            ]
        return aggregate_pb2.AggregateReply(
            took=0.001, single_result=aggregate_pb2.AggregateReply.Single(objects_count=len(objects))
        )

    def search(self, request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        with self.lock:
            target = self.collection(request.collection)
            limit = request.limit or 10  # QUERY_DEFAULTS_LIMIT
            window = self.strict.result_window
            if window is not None and not request.after and request.offset + limit > window:
                raise ValueError("query maximum results exceeded")
            if request.HasField("filters"):
                check_filter(request.filters, target, self.strict)
            pool = (
                [o for o in _candidates(request.filters, target) if matches(request.filters, o, target, self.strict)]
                if request.HasField("filters")
                else _sorted(target.objects.values())
            )
            scored: list[tuple[StoredObject, dict[str, Any]]]
            if request.HasField("hybrid_search"):
                scored = self._hybrid(target, pool, request.hybrid_search, limit + request.offset)
            elif request.HasField("bm25_search"):
                bm25 = bm25_scores(
                    target, pool, request.bm25_search.query, list(request.bm25_search.properties), self.strict
                )
                ranked = sorted(bm25.items(), key=lambda kv: (-kv[1], kv[0]))
                scored = [(target.objects[u], {"score": s}) for u, s in ranked]
            elif request.HasField("near_vector"):
                query = _query_vector(request.near_vector)
                cos = cosines(pool, query[1], query[0], strict=self.strict.vector_length)
                scored = [
                    (target.objects[u], {"distance": 1 - c}) for u, c in sorted(cos.items(), key=lambda kv: -kv[1])
                ]
            else:
                if request.after:
                    pool = [o for o in pool if o.uuid > str(uuidlib.UUID(request.after))]
                for sort in reversed(request.sort_by):  # stable sorts, last key first
                    pool.sort(key=lambda o, p=sort.path[0]: _sort_key(o, p), reverse=not sort.ascending)
                scored = [(o, {}) for o in pool]
            chosen = scored[request.offset : request.offset + limit]
            results = [self._result(target, request, obj, extra) for obj, extra in chosen]
            self.objects_returned[request.collection] += len(results)
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def _hybrid(
        self, target: FakeCollection, pool: list[StoredObject], hybrid: base_search_pb2.Hybrid, limit: int
    ) -> list[tuple[StoredObject, dict[str, Any]]]:
        alpha = hybrid.alpha_param if hybrid.use_alpha_param else hybrid.alpha
        name, vector = _query_vector(hybrid)
        depth = max(limit, 100)
        sets: list[tuple[str, float, list[tuple[str, float]]]] = []
        if alpha < 1 and hybrid.query:
            bm25 = bm25_scores(target, pool, hybrid.query, list(hybrid.properties), self.strict)
            sets.append(("keyword,bm25", 1 - alpha, sorted(bm25.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]))
        if alpha > 0 and vector is not None:
            cos = cosines(pool, vector, name, strict=self.strict.vector_length)
            sets.append(("vector,hybridVector", alpha, sorted(cos.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]))
        fused: dict[str, float] = {}
        explain: dict[str, str] = {}
        ranked_fusion = hybrid.fusion_type == base_search_pb2.Hybrid.FUSION_TYPE_RANKED
        for set_name, weight, ranking in sets:
            if not ranking:
                continue
            high, low = ranking[0][1], min(s for _, s in ranking)
            for rank, (uid, original) in enumerate(ranking):
                if ranked_fusion:
                    score = weight / (rank + 60)
                else:
                    score = weight * ((original - low) / (high - low) if high != low else 1.0)
                text = f"Hybrid (Result Set {set_name}) Document {uid}: original score {original}, normalized score: {score}"
                if uid in fused:
                    text += " - " + explain[uid]
                fused[uid] = fused.get(uid, 0.0) + score
                explain[uid] = "\n" + text
        order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(target.objects[u], {"score": s, "explain": explain[u]}) for u, s in order]

    def _result(
        self, target: FakeCollection, request: search_get_pb2.SearchRequest, obj: StoredObject, extra: dict[str, Any]
    ) -> search_get_pb2.SearchResult:
        wanted: list[str] | None = None
        if request.HasField("properties") and not request.properties.return_all_nonref_properties:
            wanted = list(request.properties.non_ref_properties)
        fields = {
            name: _value(target.types.get(name, "text"), value)
            for name, value in obj.properties.items()
            if wanted is None or name in wanted
        }
        meta = search_get_pb2.MetadataResult(id=obj.uuid, id_as_bytes=uuidlib.UUID(obj.uuid).bytes)
        if request.metadata.vector or len(request.metadata.vectors):
            meta.vectors.extend(
                base_pb2.Vectors(
                    name=n, vector_bytes=struct.pack(f"{len(v)}f", *v), type=base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32
                )
                for n, v in obj.vectors.items()
            )
        if "score" in extra and request.metadata.score:
            meta.score, meta.score_present = extra["score"], True
        if "explain" in extra and request.metadata.explain_score:
            meta.explain_score, meta.explain_score_present = extra["explain"], True
        if "distance" in extra and request.metadata.distance:
            meta.distance, meta.distance_present = extra["distance"], True
        properties = search_get_pb2.PropertiesResult(
            target_collection=request.collection, non_ref_props=properties_pb2.Properties(fields=fields)
        )
        return search_get_pb2.SearchResult(properties=properties, metadata=meta)


# -- scoring ---------------------------------------------------------------------------------------------------
def bm25_scores(
    target: FakeCollection, pool: list[StoredObject], query: str, properties: list[str], strict: Strictness
) -> dict[str, float]:
    """BM25 per property (k1 1.2, b 0.75), summed with ``prop^boost`` weights; statistics over the whole collection.

    ``strict.integer_boosts``: the boost is parsed like Go's ``strconv.Atoi`` with the error ignored ("1.5" -> 0).
    """
    types = target.types
    weighted = []
    for spec in properties or [n for n, t in types.items() if t in ("text", "text[]")]:
        name, _, boost = spec.partition("^")
        weighted.append((name, _atoi(boost) if strict.integer_boosts and boost else float(boost or 1)))
    terms = list(dict.fromkeys(tokens(query)))
    everything = list(target.objects.values())
    scores: dict[str, float] = {}
    for name, boost in weighted:
        docs = {o.uuid: tokens(_text_of(o.properties.get(name))) for o in everything}
        count = len(docs) or 1
        average = sum(len(t) for t in docs.values()) / count or 1.0
        for term in terms:
            frequency = sum(1 for t in docs.values() if term in t)
            if frequency == 0:
                continue
            idf = math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))
            for obj in pool:
                words = docs[obj.uuid]
                tf = words.count(term)
                if tf:
                    norm = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / average))
                    scores[obj.uuid] = scores.get(obj.uuid, 0.0) + boost * idf * norm
    return scores


def _atoi(text: str) -> float:
    return float(int(text)) if re.fullmatch(r"[+-]?\d+", text) else 0.0


def cosines(pool: list[StoredObject], query: list[float], name: str, *, strict: bool = False) -> dict[str, float]:
    """Cosine of each object's vector with ``query``; ``strict``: another length is the server's error, not a skip."""
    if strict:
        for obj in pool:
            stored = obj.vectors.get(name)
            if stored is not None and len(stored) != len(query):
                raise ValueError(
                    f"vector search: knn search: distance between entrypoint and query node: "
                    f"vector lengths don't match: {len(query)} vs {len(stored)}"
                )
            break
    qnorm = math.sqrt(sum(x * x for x in query)) or 1.0
    found = {}
    for obj in pool:
        vector = obj.vectors.get(name) or (next(iter(obj.vectors.values())) if len(obj.vectors) == 1 else None)
        if vector is None or len(vector) != len(query):
            continue
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        found[obj.uuid] = sum(a * b for a, b in zip(vector, query, strict=True)) / (norm * qnorm)
    return found


def _query_vector(message: Any) -> tuple[str, list[float] | None]:
    """(target vector name, query vector) from a Hybrid or NearVector message, in any of the client's encodings."""
    name = list(message.targets.target_vectors)[:1] or list(message.target_vectors)[:1] or ["default"]
    if getattr(message, "vector_bytes", b""):
        return name[0], _floats(message.vector_bytes)
    if len(message.vectors):
        return message.vectors[0].name or name[0], _floats(message.vectors[0].vector_bytes)
    if hasattr(message, "near_vector") and message.HasField("near_vector"):
        return _query_vector(message.near_vector)
    for item in getattr(message, "vector_for_targets", []):
        return item.name, _floats(item.vector_bytes)
    return name[0], None


# -- filters ---------------------------------------------------------------------------------------------------
def matches(where: base_pb2.Filters, obj: StoredObject, target: FakeCollection, strict: Strictness) -> bool:
    op = where.operator
    if op == F.OPERATOR_AND:
        return all(matches(f, obj, target, strict) for f in where.filters)
    if op == F.OPERATOR_OR:
        return any(matches(f, obj, target, strict) for f in where.filters)
    if op == F.OPERATOR_NOT:
        return not matches(where.filters[0], obj, target, strict)
    prop = where.target.property if where.HasField("target") else (where.on[0] if where.on else "")
    actual = obj.uuid if prop == "_id" else obj.properties.get(prop)
    kind = where.WhichOneof("test_value")
    expected: Any = getattr(where, kind) if kind else None
    if kind and kind.endswith("_array"):
        expected = list(expected.values)
    if prop == "_id":
        expected = [_canonical(v) for v in expected] if isinstance(expected, list) else _canonical(expected)
    values = actual if isinstance(actual, list) else [] if actual is None else [actual]
    if op == F.OPERATOR_IS_NULL:
        return (actual is None or actual == []) == bool(where.value_boolean)
    if prop != "_id" and target.types.get(prop) in ("text", "text[]") and op in _TOKENIZED:
        return _text_matches(op, expected, values, target.tokenization.get(prop, "word"), strict)
    if op == F.OPERATOR_EQUAL:
        return expected in values
    if op == F.OPERATOR_NOT_EQUAL:
        return expected not in values
    if op == F.OPERATOR_CONTAINS_ANY:
        return any(v in expected for v in values)
    if op == F.OPERATOR_CONTAINS_ALL:
        return all(e in values for e in expected)
    if op == F.OPERATOR_CONTAINS_NONE:
        return not any(v in expected for v in values)
    if op == F.OPERATOR_LIKE:
        return any(fnmatch.fnmatchcase(str(v), str(expected)) for v in values)
    comparisons = {
        F.OPERATOR_GREATER_THAN: lambda a, b: a > b,
        F.OPERATOR_GREATER_THAN_EQUAL: lambda a, b: a >= b,
        F.OPERATOR_LESS_THAN: lambda a, b: a < b,
        F.OPERATOR_LESS_THAN_EQUAL: lambda a, b: a <= b,
    }
    if op in comparisons:
        return any(comparisons[op](v, expected) for v in values)
    raise ValueError(f"filter operator {F.Operator.Name(op)} is not supported by the fake")


_TOKENIZED = {
    F.OPERATOR_EQUAL, F.OPERATOR_NOT_EQUAL, F.OPERATOR_CONTAINS_ANY, F.OPERATOR_CONTAINS_ALL, F.OPERATOR_CONTAINS_NONE,
}  # fmt: skip
ONLY_STOPWORDS = (
    "invalid search term, only stopwords provided. Stopwords can be configured in class.invertedIndexConfig.stopwords"
)


def _terms(value: str, tokenization: str, strict: Strictness) -> list[str]:
    """A filter value's terms as the server's searcher builds them (``extractTokenizableProp``)."""
    drop = strict.stopword_filters or tokenization == "word"  # the affected versions drop them for every tokenization
    return [t for t in tokenize(tokenization, value) if not (drop and t in STOPWORDS)]


def _text_matches(op: int, expected: Any, values: list[Any], tokenization: str, strict: Strictness) -> bool:
    """Text filters match on terms: a value matches an object holding all of its terms (stopwords dropped)."""
    held = {t for v in values for t in tokenize(tokenization, str(v))}
    wanted = expected if isinstance(expected, list) else [expected]
    per_value = [list(_cached_terms(str(w), tokenization, strict)) for w in wanted]
    if op == F.OPERATOR_CONTAINS_ANY and not strict.stopword_filters:
        per_value = [terms for terms in per_value if terms]  # fixed servers skip stopword-only values here
        if not per_value:
            raise ValueError(ONLY_STOPWORDS)
    if any(not terms for terms in per_value):
        raise ValueError(ONLY_STOPWORDS)
    found = [all(t in held for t in terms) for terms in per_value]
    if op == F.OPERATOR_EQUAL:
        return found[0]
    if op == F.OPERATOR_NOT_EQUAL:
        return not found[0]
    if op == F.OPERATOR_CONTAINS_ANY:
        return any(found)
    if op == F.OPERATOR_CONTAINS_ALL:
        return all(found)
    return not any(found)  # CONTAINS_NONE


def _candidate_ids(where: base_pb2.Filters, target: FakeCollection) -> set[str] | None:
    """The uuids a filter can match, from ids and ``field`` postings; None when the whole collection must be scanned.

    Only narrows the scan: every candidate is still checked with :func:`matches`.
    """
    op = where.operator
    if op == F.OPERATOR_AND:
        narrowed = [ids for ids in (_candidate_ids(f, target) for f in where.filters) if ids is not None]
        return min(narrowed, key=len) if narrowed else None
    if op == F.OPERATOR_OR:
        parts = [_candidate_ids(f, target) for f in where.filters]
        return None if any(p is None for p in parts) else set().union(*(p for p in parts if p is not None))
    if op not in (F.OPERATOR_EQUAL, F.OPERATOR_CONTAINS_ANY):
        return None
    prop = where.target.property if where.HasField("target") else (where.on[0] if where.on else "")
    wanted = list(where.value_text_array.values) if where.HasField("value_text_array") else [where.value_text]
    if prop == "_id":
        return {u for u in (_canonical(v) for v in wanted) if u in target.objects}
    if target.types.get(prop) == "text" and target.tokenization.get(prop) == "field":
        postings = target.postings.get(prop, {})
        return set().union(*(postings.get(v.strip(), set()) for v in wanted))
    return None


def _candidates(where: base_pb2.Filters, target: FakeCollection) -> list[StoredObject]:
    """Objects that may match, in UUID order, without scanning the collection when an index narrows it."""
    ids = _candidate_ids(where, target)
    if ids is not None:
        return _sorted(target.objects[u] for u in ids if u in target.objects)
    return _sorted(target.objects.values())


@functools.lru_cache(maxsize=65536)
def _canonical(value: str) -> str:
    return str(uuidlib.UUID(value))


@functools.lru_cache(maxsize=4096)
def _cached_terms(value: str, tokenization: str, strict: Strictness) -> tuple[str, ...]:
    return tuple(_terms(value, tokenization, strict))


def check_filter(where: base_pb2.Filters, target: FakeCollection, strict: Strictness) -> None:
    """Raise the server's error for a filter it rejects before looking at any object (e.g. only stopwords)."""
    probe = StoredObject("00000000-0000-0000-0000-000000000000", {}, {})
    matches(where, probe, target, strict)


# -- encoding --------------------------------------------------------------------------------------------------
def _floats(data: bytes) -> list[float]:
    return list(struct.unpack(f"{len(data) // 4}f", data))


def _sort_key(obj: StoredObject, path: str) -> tuple[bool, Any]:
    value = obj.uuid if path == "_id" else obj.properties.get(path)
    return (value is not None, value if value is not None else 0)


def _sorted(objects: Any) -> list[StoredObject]:
    return sorted(objects, key=lambda o: o.uuid)


def _text_of(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)


def _value(kind: str, value: Any) -> properties_pb2.Value:
    if value is None:
        return properties_pb2.Value(null_value=0)
    if kind == "int":
        return properties_pb2.Value(int_value=int(value))
    if kind == "number":
        return properties_pb2.Value(number_value=float(value))
    if kind == "boolean":
        return properties_pb2.Value(bool_value=bool(value))
    if kind == "date":
        return properties_pb2.Value(date_value=str(value))
    if kind == "text[]":
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(text_values=properties_pb2.TextValues(values=list(value)))
        )
    return properties_pb2.Value(text_value=str(value))


# -- servers ---------------------------------------------------------------------------------------------------
class _Servicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, state: FakeWeaviate) -> None:
        self.state = state

    def _call(self, name: str, context: grpc.ServicerContext, run: Any) -> Any:
        self.state.grpc_calls[name] += 1
        self.state.log.append(name)
        auth = dict(context.invocation_metadata()).get("authorization")
        if not self.state.authorised(auth):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unauthenticated")
        try:
            return run()
        except KeyError as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    def Search(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - gRPC API
        return self._call("Search", context, lambda: self.state.search(request))

    def BatchObjects(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._call("BatchObjects", context, lambda: self.state.batch_objects(request))

    def BatchDelete(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._call("BatchDelete", context, lambda: self.state.batch_delete(request))

    def Aggregate(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._call("Aggregate", context, lambda: self.state.aggregate(request))


def _health_handler(state: FakeWeaviate) -> grpc.GenericRpcHandler:
    def check(request: Any, context: grpc.ServicerContext) -> Any:
        state.grpc_calls["HealthCheck"] += 1
        return health_weaviate_pb2.WeaviateHealthCheckResponse(
            status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
        )

    handler = grpc.unary_unary_rpc_method_handler(
        check,
        request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
        response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})


class FakeWeaviateServer:
    """REST on one free port and gRPC on another (on 127.0.0.1 unless ``grpc_host`` says otherwise).

    ``restart_of``: a stopped server whose state and ports this one takes over (Weaviate back after an outage).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        strict: Strictness = Strictness(),
        grpc_host: str = "127.0.0.1",
        restart_of: FakeWeaviateServer | None = None,
    ) -> None:
        self.state = restart_of.state if restart_of else FakeWeaviate(api_key, strict)
        self.grpc_host = restart_of.grpc_host if restart_of else grpc_host
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, payload = state.rest(self.command, self.path, body, self.headers.get("authorization"))
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server API

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", restart_of.http_port if restart_of else 0), Handler)
        self.httpd.daemon_threads = True
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_Servicer(state), self.grpc)
        self.grpc.add_generic_rpc_handlers((_health_handler(state),))
        self.grpc_port = self.grpc.add_insecure_port(f"{self.grpc_host}:{restart_of.grpc_port if restart_of else 0}")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def http_port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> FakeWeaviateServer:
        self.thread.start()
        self.grpc.start()
        return self

    def stop(self) -> None:
        self.grpc.stop(grace=None)
        self.httpd.shutdown()
        self.httpd.server_close()
