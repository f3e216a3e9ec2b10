"""The ``Embedder`` base class: a provider implements ``embed_batch``; the base class derives the rest."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.models import InputType, ProviderCall
from rag.tokens import estimate_tokens


@dataclass
class EmbeddingBatch:
    """Vectors (float32, one row per input, L2-normalised) and what the provider billed for them.

    ``truncated``: inputs longer than the model's window (the model read only their beginning).
    """

    vectors: np.ndarray
    tokens: int = 0
    calls: list[ProviderCall] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0
    truncated: int = 0
    cache_outages: int = 0  # lookups that bypassed the cache because it was down


class Embedder(ABC):
    """Turns texts into vectors.

    Subclasses set ``id`` (stored with the index; a different id means a rebuild), ``dimension`` and
    ``provider``, and implement :meth:`embed_batch` for one batch. :meth:`embed` batches by similar token count
    (padding waste dominates on long documents) and keeps the input order.

    Token counting (the chunker sizes chunks with it): ``max_input_tokens`` is how many tokens of text the model
    reads (its window less its special tokens; ``None``: no known limit) and :meth:`count_tokens` counts a text
    the way the model does. The base class estimates (words x 1.3); an embedder with its own tokenizer overrides.
    """

    id: str
    dimension: int
    provider: str = "local"
    batch_size: int = 32
    max_input_tokens: int | None = None

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as this model counts them, special tokens excluded (here: an estimate)."""
        return estimate_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` of each text (a tokenizer may do a batch faster)."""
        return [self.count_tokens(text) for text in texts]

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Embed one batch (at most ``batch_size`` texts)."""

    def embed(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        """Embed any number of texts, batched by token count; rows come back in input order.

        Sorting by the model's own token count (not characters) keeps padding to a few percent: a batch costs
        its longest member's length for every row.
        """
        if not texts:
            return EmbeddingBatch(vectors=np.zeros((0, self.dimension), dtype=np.float32))
        counts = self.count_tokens_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: counts[i])
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        window = self.max_input_tokens
        total = EmbeddingBatch(vectors=out, truncated=0 if window is None else sum(c > window for c in counts))
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
