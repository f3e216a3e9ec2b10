"""A cache in front of any ``Embedder``: Redis when configured, an in-process LRU otherwise.

Keys are ``bestbefore:emb:v1:<embedder id>:<input type>:<sha256(text)>`` so a different model or input type can
never return a wrong vector; values are the raw float32 bytes of one vector. Lookups for a batch are one MGET,
writes one pipeline of ``SET ... EX``. Redis being down or slow never fails an embedding: the cache is bypassed
(with a short socket timeout and a pause before the next attempt), a warning is logged once per outage,
``stats.outages`` / ``stats.errors`` count what happened, and each lookup made while the cache is down is reported
in ``EmbeddingBatch.cache_outages`` (the answer's ``cache["outages"]``, counted by the metrics as cache outage events).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from rag.models import InputType
from rag.providers.embedding import Embedder, EmbeddingBatch
from rag.redis_connection import RedisConnection

log = logging.getLogger(__name__)

KEY_PREFIX = "bestbefore:emb:v1"


def cache_key(embedder_id: str, input_type: InputType, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{KEY_PREFIX}:{embedder_id}:{input_type.value}:{digest}"


def pack_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack_vector(data: bytes, dimension: int) -> np.ndarray | None:
    """The vector in ``data``, or None when it is not ``dimension`` float32 values (treated as a miss)."""
    if len(data) != dimension * 4:
        return None
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


@dataclass
class CacheStats:
    """Counters for the metrics endpoint. ``available`` is False while the backend is in an outage."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0  # failed backend calls (each one bypassed)
    outages: int = 0  # transitions from available to unavailable
    available: bool = True

    def snapshot(self) -> dict[str, int | bool]:
        return asdict(self)


class EmbeddingCache(Protocol):
    """Raw byte storage for vectors. Implementations never raise for backend failures."""

    stats: CacheStats

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def set_many(self, items: Sequence[tuple[str, bytes]], *, ttl_seconds: int) -> None: ...

    def close(self) -> None: ...


class LruEmbeddingCache:
    """In-process LRU (thread-safe) with per-entry expiry; ``size=0`` disables it."""

    def __init__(self, size: int = 10_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        found: list[bytes | None] = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and entry[0] <= now:
                    del self._entries[key]
                    entry = None
                if entry is not None:
                    self._entries.move_to_end(key)
                found.append(None if entry is None else entry[1])
        return found

    def set_many(self, items: Sequence[tuple[str, bytes]], *, ttl_seconds: int) -> None:
        if self.size <= 0:
            return
        expires = self._clock() + ttl_seconds
        with self._lock:
            for key, value in items:
                self._entries[key] = (expires, value)
                self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            self.stats.writes += len(items)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        with self._lock:
            self._entries.clear()


class RedisEmbeddingCache:
    """Redis-backed cache. Every failure (refused, timeout, protocol) is caught: the caller just sees misses.

    ``redis``: the process's shared :class:`RedisConnection` (or a URL to open one with ``timeout``). After a failure,
    Redis is not tried again for ``retry_after`` seconds, so an outage costs each query nothing rather than one timeout.
    """

    def __init__(self, redis: str | RedisConnection, *, timeout: float = 0.1, retry_after: float = 5.0) -> None:
        self.stats = CacheStats()
        self._owned = isinstance(redis, str)
        self._redis = (
            RedisConnection(redis, timeout=timeout, retry_after=retry_after) if isinstance(redis, str) else redis
        )
        self._where = self._redis.where
        self._errors = self._redis.errors
        self._client: Any = self._redis.client
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys or not self._may_try():
            return [None] * len(keys)
        try:
            values = self._client.mget(list(keys))
        except self._errors as exc:
            self._failed(exc)
            return [None] * len(keys)
        self._recovered()
        return [v if isinstance(v, bytes) else None for v in values]

    def set_many(self, items: Sequence[tuple[str, bytes]], *, ttl_seconds: int) -> None:
        if not items or not self._may_try():
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for key, value in items:
                    pipe.set(key, value, ex=ttl_seconds)
                pipe.execute()
        except self._errors as exc:
            self._failed(exc)
            return
        self._recovered()
        with self._lock:
            self.stats.writes += len(items)

    def _may_try(self) -> bool:
        return self.stats.available or self._redis.may_try()

    def _failed(self, exc: BaseException) -> None:
        self._redis.failed()
        with self._lock:
            self.stats.errors += 1
            if not self.stats.available:
                return
            self.stats.available = False
            self.stats.outages += 1
        log.warning(
            "Embedding cache at %s unavailable (%s); embedding without the cache until it is back",
            self._where,
            type(exc).__name__,
        )

    def _recovered(self) -> None:
        self._redis.recovered()
        if self.stats.available:
            return
        with self._lock:
            if self.stats.available:
                return
            self.stats.available = True
        log.warning("Embedding cache at %s is back", self._where)

    def close(self) -> None:
        if self._owned:  # a shared connection is closed by whoever built it
            self._redis.close()


class CachedEmbedder(Embedder):
    """Wraps an ``Embedder``; same ``id`` and ``dimension`` (the index identity does not change).

    Query embeddings live ``query_ttl`` seconds in the cache, document embeddings ``document_ttl``.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache, *, query_ttl: int, document_ttl: int) -> None:
        self.inner = inner
        self.cache = cache
        self.id = inner.id
        self.dimension = inner.dimension
        self.provider = inner.provider
        self.batch_size = inner.batch_size
        self._ttl = {InputType.QUERY: query_ttl, InputType.DOCUMENT: document_ttl}
        self._count_lock = threading.Lock()
        self.max_input_tokens = inner.max_input_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens_batch(texts)

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        return self.embed(texts, input_type=input_type)

    def embed(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        if not texts:
            return self.inner.embed(texts, input_type=input_type)
        keys = [cache_key(self.id, input_type, text) for text in texts]
        found = self.cache.get_many(keys)
        bypassed = not self.cache.stats.available  # the lookup found the cache down: every key is a miss
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}  # key -> rows (duplicates in one call are embedded once)
        for row, (key, data) in enumerate(zip(keys, found, strict=True)):
            vector = None if data is None else unpack_vector(data, self.dimension)
            if vector is None:
                missing.setdefault(key, []).append(row)
            else:
                out[row] = vector
        hits = len(texts) - sum(len(rows) for rows in missing.values())
        result = EmbeddingBatch(
            vectors=out, cache_hits=hits, cache_misses=len(texts) - hits, cache_outages=int(bypassed)
        )
        if missing:
            firsts = [rows[0] for rows in missing.values()]
            fresh = self.inner.embed([texts[row] for row in firsts], input_type=input_type)
            for rows, vector in zip(missing.values(), fresh.vectors, strict=True):
                out[rows] = vector
            result.tokens = fresh.tokens
            result.truncated = fresh.truncated
            result.calls = list(fresh.calls)
            self.cache.set_many(
                [(key, pack_vector(vector)) for key, vector in zip(missing, fresh.vectors, strict=True)],
                ttl_seconds=self._ttl[input_type],
            )
        with self._count_lock:
            self.stats.hits += result.cache_hits
            self.stats.misses += result.cache_misses
        return result

    def warm_up(self) -> None:
        self.inner.warm_up()

    def close(self) -> None:
        self.inner.close()
        self.cache.close()
