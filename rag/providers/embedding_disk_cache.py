"""``DiskCachedEmbedder``: wraps an embedder and keeps its vectors in a SQLite file, keyed by the text's hash.

For evaluation and benchmarks, where the same corpus is embedded again and again (a SciFact run costs minutes
of CPU the first time, seconds afterwards). The cache file is per embedder id, so vectors of different models
never mix; progress is committed batch by batch, so an interrupted run keeps what it embedded.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.models import InputType
from rag.providers.embedding import Embedder, EmbeddingBatch


def _key(text: str, input_type: InputType) -> str:
    return hashlib.sha256(f"{input_type.value}\x00{text}".encode()).hexdigest()


class DiskCachedEmbedder(Embedder):
    """Same ``id``, ``dimension`` and vectors as ``inner``; cached vectors are read from ``cache_dir``."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        self.inner = inner
        self.id = inner.id
        self.dimension = inner.dimension
        self.provider = inner.provider
        self.batch_size = max(inner.batch_size, 256)
        self.max_input_tokens = inner.max_input_tokens
        cache_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", inner.id)
        self.path = cache_dir / f"{slug}.sqlite"
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Look every text up first; embed only the misses (with the inner embedder's own batching)."""
        keys = [_key(t, input_type) for t in texts]
        found = self._lookup(keys)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        todo = [i for i, key in enumerate(keys) if key not in found]
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
        total = EmbeddingBatch(vectors=out, cache_hits=len(texts) - len(todo), cache_misses=len(todo))
        step = 512  # commit progress in slices so an interrupted run keeps its work
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
            batch = self.inner.embed([texts[i] for i in part], input_type=input_type)
            out[part] = batch.vectors
            total.tokens += batch.tokens
            total.truncated += batch.truncated
            total.calls.extend(batch.calls)
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors(key, vector) VALUES (?, ?)",
                    [(keys[i], out[i].tobytes()) for i in part],
                )
        self.hits += total.cache_hits
        self.misses += total.cache_misses
        return total

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        return self.embed(texts, input_type=input_type)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens_batch(texts)

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dimension,):
                    found[key] = vector
        return found

    def warm_up(self) -> None:
        self.inner.warm_up()

    def close(self) -> None:
        self._db.close()
        self.inner.close()
