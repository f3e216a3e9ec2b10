"""The composition root: turns ``Settings`` into the objects the CLI, the bot and the jobs share.

Each backend is chosen by configuration: an env var is present -> the real service is used
(``COHERE_API_KEY`` -> Cohere, ``WEAVIATE_URL`` -> Weaviate, ``REDIS_URL`` -> Redis cache, ``LANGFUSE_*`` -> Langfuse);
otherwise the embedded default (local embedder, one SQLite file, extractive answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from rag.answer import AnswerRecorder, RagPipeline
from rag.chunking import ChunkingSettings
from rag.config import Settings
from rag.embedding import Embedder
from rag.extractive import ExtractiveGenerator
from rag.feedback import FeedbackStore, InMemoryFeedbackStore
from rag.generation import Generator, Reranker
from rag.indexing import chunking_settings
from rag.local_embedder import make_local_embedder
from rag.sqlite_store import SQLiteStore
from rag.staleness import StalenessPolicy
from rag.store import VectorStore


def build_embedder(settings: Settings) -> Embedder:
    return make_local_embedder(settings.app.index.embedder)


def build_store(settings: Settings) -> VectorStore:
    return SQLiteStore(settings.index_path)


def build_generator(settings: Settings) -> Generator:
    return ExtractiveGenerator()


def build_reranker(settings: Settings) -> Reranker | None:
    return None


def build_policy(settings: Settings) -> StalenessPolicy:
    per_source = {s.name: s.staleness for s in settings.app.sources if s.staleness}
    return StalenessPolicy.from_config(settings.app.staleness, source_defaults=per_source)


@dataclass
class Services:
    """Everything built once per process from ``Settings``; parts are built on first use."""

    settings: Settings
    recorders: list[AnswerRecorder] = field(default_factory=list)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings)

    @cached_property
    def store(self) -> VectorStore:
        return build_store(self.settings)

    @cached_property
    def feedback(self) -> FeedbackStore:
        return InMemoryFeedbackStore()

    @cached_property
    def policy(self) -> StalenessPolicy:
        return build_policy(self.settings)

    @property
    def chunking(self) -> ChunkingSettings:
        return chunking_settings(self.settings.app.index)

    @cached_property
    def pipeline(self) -> RagPipeline:
        index = self.settings.app.index
        return RagPipeline(
            store=self.store,
            embedder=self.embedder,
            generator=build_generator(self.settings),
            reranker=build_reranker(self.settings),
            policy=self.policy,
            recorders=self.recorders,
            alpha=index.alpha,
            candidates=index.candidates,
            evidence=index.evidence,
            min_relevance=index.min_relevance,
        )

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "embedder" in self.__dict__:
            self.embedder.close()
