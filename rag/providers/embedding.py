"""The ``Embedder`` base class: a provider implements ``embed_batch``; the base class derives the rest."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.models import InputType, ProviderCall


@dataclass
class EmbeddingBatch:
    """Vectors (float32, one row per input, L2-normalised) and what the provider billed for them."""

    vectors: np.ndarray
    tokens: int = 0
    calls: list[ProviderCall] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0
    cache_outages: int = 0  # lookups that bypassed the cache because it was down


class Embedder(ABC):
    """Turns texts into vectors.

    Subclasses set ``id`` (stored with the index; a different id means a rebuild), ``dimension`` and
    ``provider``, and implement :meth:`embed_batch` for one batch. :meth:`embed` batches by similar length
    (padding waste dominates on long documents) and keeps the input order.
    """

    id: str
    dimension: int
    provider: str = "local"
    batch_size: int = 32

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Embed one batch (at most ``batch_size`` texts)."""

    def embed(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Embed any number of texts, batched by similar length; rows come back in input order."""
        if not texts:
            return EmbeddingBatch(vectors=np.zeros((0, self.dimension), dtype=np.float32))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        total = EmbeddingBatch(vectors=out)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.embed_batch([texts[i] for i in idx], input_type=input_type)
            out[idx] = batch.vectors
            total.tokens += batch.tokens
            total.calls.extend(batch.calls)
            total.cache_hits += batch.cache_hits
            total.cache_misses += batch.cache_misses
            total.cache_outages += batch.cache_outages
        return total

    def embed_query(self, text: str) -> EmbeddingBatch:
        """Embed one query; ``vectors`` has one row."""
        return self.embed([text], input_type=InputType.QUERY)

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Load the model (or open connections) now, so the first question does not pay for it."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sessions, pools)."""


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
