"""Cohere embeddings (``/v2/embed``) and reranking (``/v2/rerank``) behind our ``Embedder`` / ``Reranker``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from cohere.v2.client import OMIT

from rag.errors import ProviderError
from rag.models import InputType, ProviderCall, SearchHit
from rag.providers.cohere_api import CohereAPI, billed
from rag.providers.embedding import Embedder, EmbeddingBatch, normalise_rows
from rag.providers.generation import Reranked

MAX_TEXTS_PER_CALL = 96  # Cohere's limit for one /v2/embed call
# How many tokens of one input each embed model reads (Cohere's model docs); the chunker keeps chunks inside it.
# There is no local Cohere tokenizer, so chunks are sized with the words x 1.3 estimate against this window.
MAX_INPUT_TOKENS = {"embed-v4.0": 128_000}
DEFAULT_MAX_INPUT_TOKENS = 512  # the v3 family: embed-english-v3.0, embed-multilingual-v3.0 and their -light
DEFAULT_DIMENSIONS = {  # the models' documented default output dimension: no start-up call needed to learn it
    "embed-v4.0": 1536,
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
}


class CohereEmbedder(Embedder):
    """``embed-v4.0`` (configurable) float embeddings; documents and queries use their own ``input_type``.

    ``dimension``: ask for this ``output_dimension`` (embed-v4.0: 256, 512, 1024 or 1536); ``None`` keeps the
    model's default, known for Cohere's models (so start-up makes no call) and discovered with one probe call for
    any other.
    """

    provider = "cohere"
    batch_size = MAX_TEXTS_PER_CALL

    def __init__(self, api: CohereAPI, *, model: str = "embed-v4.0", dimension: int | None = None) -> None:
        self.api = api
        self.model = model
        self.id = f"cohere/{model}"
        self.max_input_tokens = MAX_INPUT_TOKENS.get(model, DEFAULT_MAX_INPUT_TOKENS)
        self._output_dimension = dimension
        known = DEFAULT_DIMENSIONS.get(model)
        self.dimension = dimension if dimension is not None else known or self._discover_dimension()

    def _discover_dimension(self) -> int:
        probe = self._call(["dimension probe"], InputType.QUERY)
        return int(probe.shape[1])

    def _call(self, texts: Sequence[str], input_type: InputType) -> np.ndarray:
        return self.embed_batch(texts, input_type=input_type, check_dimension=False).vectors

    def embed_batch(
        self, texts: Sequence[str], *, input_type: InputType, check_dimension: bool = True
    ) -> EmbeddingBatch:
        if len(texts) > MAX_TEXTS_PER_CALL:
            raise ValueError(f"at most {MAX_TEXTS_PER_CALL} texts per call, got {len(texts)}")
        dimension = self._output_dimension if self._output_dimension is not None else OMIT
        response = self.api.call(
            "embed",
            lambda options: self.api.client.embed(
                model=self.model,
                input_type=input_type.value,
                texts=list(texts),
                embedding_types=["float"],
                truncate="END",
                output_dimension=dimension,
                request_options=options,
            ),
        )
        floats = response.embeddings.float_
        if floats is None or len(floats) != len(texts):
            raise ProviderError(
                f"Cohere embed returned {0 if floats is None else len(floats)} vectors for {len(texts)} texts"
            )
        vectors = normalise_rows(np.asarray(floats, dtype=np.float32))
        if check_dimension and vectors.shape[1] != self.dimension:
            raise ProviderError(f"Cohere embed returned {vectors.shape[1]} dimensions, expected {self.dimension}")
        units = billed(response.meta, "input_tokens")
        tokens = int(units.get("input_tokens", 0))
        call = ProviderCall("cohere", self.model, "embed", units)
        return EmbeddingBatch(vectors=vectors, tokens=tokens, calls=[call])

    def close(self) -> None:
        self.api.close()


class CohereReranker:
    """``rerank-v3.5`` (configurable) over the fused candidates; ``rerank_score`` and ``score`` are its relevance."""

    def __init__(self, api: CohereAPI, *, model: str = "rerank-v3.5") -> None:
        self.api = api
        self.model = model
        self.id = f"cohere/{model}"

    def rerank(self, query: str, hits: Sequence[SearchHit], *, top_n: int) -> Reranked:
        if not hits:
            return Reranked(hits=[])
        documents = [f"{hit.doc.title}\n{hit.chunk.text}" for hit in hits]
        response = self.api.call(
            "rerank",
            lambda options: self.api.client.rerank(
                model=self.model,
                query=query,
                documents=documents,
                top_n=min(top_n, len(documents)),
                request_options=options,
            ),
        )
        ranked = [
            replace(hits[result.index], score=result.relevance_score, rerank_score=result.relevance_score)
            for result in response.results
            if 0 <= result.index < len(hits)
        ]
        call = ProviderCall("cohere", self.model, "rerank", billed(response.meta, "search_units"))
        return Reranked(hits=ranked, calls=(call,))
