"""``ConcatEmbedder``: a weighted ensemble of embedders that the stores see as one embedder.

Each component's vector is L2-normalised, scaled by ``sqrt(w_i)`` and the pieces are concatenated. The dot product
of two such vectors is then ``sum_i w_i * cos_i`` — the weighted mean of the components' cosine similarities — and
with the weights summing to 1 every vector stays unit length. So a store's single cosine search over the
concatenated vectors *is* the weighted ensemble, with no change to the ``VectorStore`` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rag.models import InputType
from rag.providers.embedding import Embedder, EmbeddingBatch, normalise_rows


def _weight_label(weight: float) -> str:
    return f"{round(weight, 4):g}"


class ConcatEmbedder(Embedder):
    """Weighted concatenation of ``components`` (embedder, weight); weights are rescaled to sum to 1."""

    def __init__(self, components: Sequence[tuple[Embedder, float]]) -> None:
        if not components:
            raise ValueError("ConcatEmbedder needs at least one component")
        if any(not math.isfinite(w) or w <= 0 for _, w in components):
            raise ValueError("ConcatEmbedder weights must be positive")
        total = sum(w for _, w in components)
        self.components: list[tuple[Embedder, float]] = [(e, w / total) for e, w in components]
        self.id = "ensemble/" + "+".join(f"{e.id}:{_weight_label(w)}" for e, w in self.components)
        self.dimension = sum(e.dimension for e, _ in self.components)
        providers = {e.provider for e, _ in self.components}
        self.provider = providers.pop() if len(providers) == 1 else "mixed"
        self.batch_size = max(e.batch_size for e, _ in self.components)
        self._scales = [math.sqrt(w) for _, w in self.components]

    def embed(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Each component embeds all ``texts`` with its own batching; rows are then scaled and joined."""
        if not texts:
            return EmbeddingBatch(vectors=np.zeros((0, self.dimension), dtype=np.float32))
        parts = []
        total = EmbeddingBatch(vectors=np.zeros((0, self.dimension), dtype=np.float32))
        for (embedder, _), scale in zip(self.components, self._scales, strict=True):
            batch = embedder.embed(texts, input_type=input_type)
            parts.append(normalise_rows(batch.vectors) * np.float32(scale))
            total.tokens += batch.tokens
            total.calls.extend(batch.calls)
            total.cache_hits += batch.cache_hits
            total.cache_misses += batch.cache_misses
        total.vectors = np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)
        return total

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        return self.embed(texts, input_type=input_type)

    def close(self) -> None:
        for embedder, _ in self.components:
            embedder.close()
