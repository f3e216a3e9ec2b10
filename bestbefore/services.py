"""The composition root: turns ``Settings`` into the objects the CLI, the bot and the jobs share.

Each backend is chosen by configuration: an env var is present -> the real service is used
(``COHERE_API_KEY`` -> Cohere, ``WEAVIATE_URL`` -> Weaviate, ``REDIS_URL`` -> Redis cache, ``LANGFUSE_*`` -> Langfuse);
otherwise the embedded default (local embedder, one SQLite file, extractive answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from bestbefore import backends
from rag.answer.extractive import ExtractiveGenerator
from rag.answer.pipeline import AnswerRecorder, RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import Settings, ttl_seconds
from rag.errors import ConfigError
from rag.index.indexing import Indexer, chunking_settings
from rag.index.sqlite_store import SQLiteStore
from rag.index.store import VectorStore
from rag.ingest.chunking import ChunkingSettings
from rag.ledger.feedback import FeedbackStore
from rag.ledger.query_ledger import QueryLedger
from rag.observability.costs import PriceTable
from rag.observability.metrics import AnswerMetrics
from rag.observability.privacy import Privacy
from rag.providers.embedding import Embedder
from rag.providers.embedding_cache import CachedEmbedder, EmbeddingCache, LruEmbeddingCache, RedisEmbeddingCache
from rag.providers.generation import Generator, Reranker
from rag.providers.local_embedder import make_local_embedder

if TYPE_CHECKING:  # loaded only when configured
    from rag.observability.langfuse_tracing import LangfuseRecorder
    from rag.providers.cohere_api import CohereAPI


def build_embedder(settings: Settings, cohere: CohereAPI | None = None) -> Embedder:
    if backends.uses_cohere_embedder(settings):
        return backends.cohere_embedder(settings, cohere or _require(backends.build_cohere(settings)))
    return make_local_embedder(settings.app.index.embedder)


def _require(api: CohereAPI | None) -> CohereAPI:
    if api is None:
        raise ConfigError("COHERE_API_KEY is not set")
    return api


def build_embedding_cache(settings: Settings) -> EmbeddingCache:
    """Redis when ``REDIS_URL`` is set, else an in-process LRU of ``[cache] lru_size`` vectors."""
    if settings.redis_url:
        return RedisEmbeddingCache(settings.redis_url)
    return LruEmbeddingCache(settings.app.cache.lru_size)


def cached(embedder: Embedder, settings: Settings) -> CachedEmbedder:
    cache = settings.app.cache
    return CachedEmbedder(
        embedder,
        build_embedding_cache(settings),
        query_ttl=ttl_seconds(cache.query_ttl),
        document_ttl=ttl_seconds(cache.document_ttl),
    )


def build_store(settings: Settings) -> VectorStore:
    return backends.weaviate_store(settings) or SQLiteStore(settings.index_path)


def build_generator(settings: Settings, cohere: CohereAPI | None = None) -> Generator:
    return backends.cohere_generator(settings, cohere) if cohere is not None else ExtractiveGenerator()


def build_reranker(settings: Settings, cohere: CohereAPI | None = None) -> Reranker | None:
    return backends.cohere_reranker(settings, cohere) if cohere is not None else None


def build_policy(settings: Settings) -> StalenessPolicy:
    per_source = {s.name: s.staleness for s in settings.app.sources if s.staleness}
    return StalenessPolicy.from_config(settings.app.staleness, source_defaults=per_source)


def build_langfuse(settings: Settings, prices: PriceTable, metrics: AnswerMetrics) -> LangfuseRecorder | None:
    public, secret, host = settings.langfuse_public_key, settings.langfuse_secret_key, settings.langfuse_host
    if public is None or secret is None or not host:
        return None
    from rag.observability.langfuse_tracing import LangfuseRecorder

    return LangfuseRecorder(
        public_key=public.get_secret_value(),
        secret_key=secret.get_secret_value(),
        host=host,
        privacy=Privacy.parse(settings.app.ledger.privacy),
        prices=prices,
        on_export_error=lambda n: metrics.export_error("langfuse"),
    )


@dataclass
class Services:
    """Everything built once per process from ``Settings``; parts are built on first use."""

    settings: Settings
    recorders: list[AnswerRecorder] = field(default_factory=list)

    @cached_property
    def cohere(self) -> CohereAPI | None:
        """The shared Cohere client when COHERE_API_KEY is set (the key is checked once, at first use)."""
        return backends.build_cohere(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        return cached(build_embedder(self.settings, self.cohere), self.settings)

    @cached_property
    def store(self) -> VectorStore:
        return build_store(self.settings)

    @cached_property
    def prices(self) -> PriceTable:
        return PriceTable.from_config(self.settings.app.costs)

    @cached_property
    def metrics(self) -> AnswerMetrics:
        return AnswerMetrics(self.prices)

    @cached_property
    def langfuse(self) -> LangfuseRecorder | None:
        """Langfuse tracing when LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_HOST are all set."""
        return build_langfuse(self.settings, self.prices, self.metrics)

    @cached_property
    def ledger(self) -> QueryLedger:
        """The query ledger (DATABASE_URL, else a SQLite file in the data dir); votes go on to metrics/Langfuse."""
        listeners = [self.metrics] + ([self.langfuse] if self.langfuse is not None else [])
        return QueryLedger(
            self.settings.ledger_url,
            prices=self.prices,
            privacy=Privacy.parse(self.settings.app.ledger.privacy),
            listeners=listeners,
        )

    @property
    def tracing_recorders(self) -> list[AnswerRecorder]:
        recorders: list[AnswerRecorder] = [self.ledger, self.metrics]
        if self.langfuse is not None:
            recorders.append(self.langfuse)
        return recorders

    @cached_property
    def feedback(self) -> FeedbackStore:
        return self.ledger

    @cached_property
    def policy(self) -> StalenessPolicy:
        return build_policy(self.settings)

    @property
    def chunking(self) -> ChunkingSettings:
        return chunking_settings(self.settings.app.index)

    @cached_property
    def indexer(self) -> Indexer:
        """The one refresh path (CLI, scheduler, webhook); each source's run is recorded in the ledger."""
        return Indexer(store=self.store, embedder=self.embedder, chunking=self.chunking, recorder=self.ledger)

    @cached_property
    def pipeline(self) -> RagPipeline:
        index = self.settings.app.index
        self.store.ensure_embedder(self.embedder.id, self.embedder.dimension)  # refuse to query another model's index
        self.embedder.warm_up()  # model load is start-up time, not the first question's embed time
        return RagPipeline(
            store=self.store,
            embedder=self.embedder,
            generator=build_generator(self.settings, self.cohere),
            reranker=build_reranker(self.settings, self.cohere),
            policy=self.policy,
            recorders=[*self.recorders, *self.tracing_recorders],
            alpha=index.alpha,
            candidates=index.candidates,
            evidence=index.evidence,
            min_relevance=index.min_relevance,
        )

    def close(self) -> None:
        tracer = self.__dict__.get("langfuse")
        if tracer is not None:
            tracer.close()  # flushes queued traces and scores
        if "ledger" in self.__dict__:
            self.ledger.close()
        if "store" in self.__dict__:
            self.store.close()
        if "embedder" in self.__dict__:
            self.embedder.close()
        if self.__dict__.get("cohere") is not None:
            self.__dict__["cohere"].close()
