"""The composition root: turns ``Settings`` into the objects the CLI, the bot and the jobs share.

Each backend is chosen by configuration: an env var is present -> the real service is used
(``COHERE_API_KEY`` -> Cohere, ``WEAVIATE_URL`` -> Weaviate, ``REDIS_URL`` -> Redis cache, ``LANGFUSE_*`` -> Langfuse);
otherwise the embedded default (local embedder, one SQLite file, extractive answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bestbefore import backends
from rag.answer.pipeline import RagPipeline
from rag.answer.staleness import StalenessPolicy
from rag.config import Settings, ttl_seconds
from rag.index.indexing import Indexer, chunking_settings
from rag.index.sqlite_store import SQLiteStore
from rag.index.store import VectorStore
from rag.ingest.chunking import ChunkingSettings
from rag.ledger.change_notices import ChangeNoticeLog
from rag.ledger.doc_reviews import DocReviewLog
from rag.ledger.feedback import FeedbackStore
from rag.ledger.query_ledger import QueryLedger
from rag.limits.buckets import make_token_buckets
from rag.limits.questions import QuestionLimits
from rag.limits.spend import DailySpend, with_spend_cap
from rag.observability.costs import PriceTable
from rag.observability.metrics import AnswerMetrics
from rag.observability.privacy import Privacy
from rag.observers import AnswerObserver, Observers
from rag.providers.embedding import Embedder
from rag.providers.embedding_cache import CachedEmbedder, EmbeddingCache
from rag.providers.embedding_disk_cache import DiskCachedEmbedder
from rag.providers.generation import Generator, Reranker
from rag.redis_connection import RedisConnection

LEDGER_SPILL_FILE = "ledger-spill.jsonl"  # ledger writes waiting for the database (written when it is back)

if TYPE_CHECKING:  # loaded only when configured
    from slack_sdk import WebClient

    from bot.dedupe import EventClaims
    from bot.publisher import SlackPublisher
    from jobs.change_notices import ChangeNotifier
    from jobs.locks import SlotClaims
    from jobs.nudges import NudgeLog
    from rag.observability.langfuse_tracing import LangfuseRecorder
    from rag.providers.cohere_api import CohereAPI


def build_embedder(settings: Settings, cohere: CohereAPI | None = None) -> Embedder:
    """The configured embedder, without a cache (``bestbefore eval`` wraps it in its disk cache)."""
    if cohere is None and backends.embedder_name(settings) == "cohere":
        cohere = backends.build_cohere(settings)
    return backends.EMBEDDERS[backends.embedder_name(settings)](settings, cohere)


def build_embedding_cache(settings: Settings, redis: RedisConnection | None = None) -> EmbeddingCache:
    """Redis when ``REDIS_URL`` is set (on the shared connection), else an in-process LRU of ``[cache] lru_size``."""
    return backends.CACHES[backends.cache_name(settings)](settings, redis)


def cached(embedder: Embedder, settings: Settings, redis: RedisConnection | None = None) -> CachedEmbedder:
    cache = settings.app.cache
    return CachedEmbedder(
        embedder,
        build_embedding_cache(settings, redis),
        query_ttl=ttl_seconds(cache.query_ttl),
        document_ttl=ttl_seconds(cache.document_ttl),
    )


def build_store(settings: Settings) -> VectorStore:
    return backends.STORES[backends.store_name(settings)](settings)


def build_generator(settings: Settings, cohere: CohereAPI | None = None) -> Generator:
    return backends.GENERATORS[backends.generator_name(settings)](settings, cohere)


def build_reranker(settings: Settings, cohere: CohereAPI | None = None) -> Reranker | None:
    return backends.RERANKERS[backends.reranker_name(settings)](settings, cohere)


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
    recorders: list[AnswerObserver] = field(default_factory=list)  # extra answer observers (tests, benchmarks)

    @cached_property
    def cohere(self) -> CohereAPI | None:
        """The shared Cohere client when COHERE_API_KEY is set (the key is checked once, at first use)."""
        return backends.build_cohere(self.settings)

    @cached_property
    def redis(self) -> RedisConnection | None:
        """The one Redis connection (``REDIS_URL``) shared by the embedding cache, event claims and job claims."""
        if not self.settings.redis_url:
            return None
        return RedisConnection(self.settings.redis_url)  # cache outages reach the metrics with each answer

    @cached_property
    def embedder(self) -> Embedder:
        return cached(build_embedder(self.settings, self.cohere), self.settings, self.redis)

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
        ledger = QueryLedger(
            self.settings.ledger_url,
            prices=self.prices,
            privacy=Privacy.parse(self.settings.app.ledger.privacy),
            listeners=self.observers,  # stored votes go on to the one observer list
            spill_path=self.settings.bestbefore_home / LEDGER_SPILL_FILE,
        )
        self.observers.insert(len(self.recorders), ledger)  # and it records every answer
        return ledger

    @cached_property
    def observers(self) -> Observers:
        """The one fan-out of answers, votes and cache events: extra recorders, the ledger, metrics, Langfuse.

        The ledger joins the list when it is built (it stores votes itself, then tells the list about them)."""
        members: list[object] = [*self.recorders, self.metrics]
        if self.langfuse is not None:
            members.append(self.langfuse)
        return Observers(members)

    @cached_property
    def feedback(self) -> FeedbackStore:
        return self.ledger

    @property
    def doc_reviews(self) -> DocReviewLog:
        """Verifications ("still accurate") and flags ("report outdated") of docs, in the ledger."""
        return self.ledger.reviews

    @cached_property
    def policy(self) -> StalenessPolicy:
        return build_policy(self.settings)

    @property
    def chunking(self) -> ChunkingSettings:
        return chunking_settings(self.settings.app.index)

    @cached_property
    def indexer(self) -> Indexer:
        """The one refresh path (CLI, scheduler, webhook); each source's run is recorded in the ledger, and after
        each run the answers whose cited docs changed are told in their threads."""
        return Indexer(
            store=self.store,
            embedder=self.embedder,
            chunking=self.chunking,
            recorder=self.ledger,
            after_refresh=self.change_notifier,
        )

    @cached_property
    def change_notices(self) -> ChangeNoticeLog:
        """The change-notice record on the ledger's engine (its table is a ledger migration)."""
        return ChangeNoticeLog(self.ledger.engine)

    @cached_property
    def change_notifier(self) -> ChangeNotifier:
        """``[notices]``: the after-refresh hook posting change notices through the bot's publisher."""
        from jobs.change_notices import ChangeNotifier

        return ChangeNotifier(
            answers=self.ledger,
            notices=self.change_notices,
            publisher=self.publisher,
            config=self.settings.app.notices,
            channels=self.settings.app.channels,
        )

    @cached_property
    def spend(self) -> DailySpend | None:
        """``[limits] daily_spend_usd``: today's spend from the ledger's recorded costs, or None (no cap)."""
        cap = self.settings.app.limits.daily_spend_usd
        return DailySpend(lambda since, until: self.ledger.stats(since, until).cost_usd, cap) if cap else None

    @cached_property
    def pipeline(self) -> RagPipeline:
        index = self.settings.app.index
        self.store.ensure_embedder(self.embedder.id, self.embedder.dimension)  # refuse to query another model's index
        self.embedder.warm_up()  # model load is start-up time, not the first question's embed time
        _ = self.ledger  # built before the first answer: it joins the observers
        generator, reranker = with_spend_cap(
            build_generator(self.settings, self.cohere), build_reranker(self.settings, self.cohere), self.spend
        )
        return RagPipeline(
            store=self.store,
            embedder=self.embedder,
            generator=generator,
            reranker=reranker,
            policy=self.policy,
            recorders=self.observers,
            alpha=index.alpha,
            candidates=index.candidates,
            evidence=index.evidence,
            min_relevance=index.min_relevance,
            reviews=self.ledger.reviews,
            deadline=self.settings.app.cohere.deadline if self.cohere is not None else None,  # one bound per answer
        )

    @cached_property
    def slack(self) -> WebClient | None:
        """The Slack Web API client, or None without ``SLACK_BOT_TOKEN`` (see :meth:`require_slack`)."""
        token = self.settings.slack_bot_token
        if token is None or not token.get_secret_value():
            return None
        from bot.app import web_client

        return web_client(self.settings)

    @cached_property
    def publisher(self) -> SlackPublisher | None:
        """The bot's Slack publisher (digest, chart, owner nudges) on the one client; None without a token."""
        if self.slack is None:
            return None
        from bot.publisher import SlackPublisher

        return SlackPublisher(self.slack)

    def require_slack(self) -> WebClient:
        """The Slack client, or a ``ConfigError`` saying where to find the token."""
        if self.slack is None:
            from bot.app import web_client

            return web_client(self.settings)  # raises the error naming SLACK_BOT_TOKEN
        return self.slack

    @cached_property
    def event_claims(self) -> EventClaims:
        """Slack event de-duplication: on the shared Redis connection, else within this process."""
        from bot.dedupe import make_claims

        return make_claims(self.redis)

    @cached_property
    def job_claims(self) -> SlotClaims:
        """Run-once claims for job slots: on the shared Redis connection, else within this process."""
        from jobs.locks import LocalSlotClaims, RedisSlotClaims

        return RedisSlotClaims.shared(self.redis) if self.redis is not None else LocalSlotClaims()

    @cached_property
    def question_limits(self) -> QuestionLimits:
        """``[limits]``: per-user and per-channel question rate limits, in Redis on the shared connection."""
        return QuestionLimits(make_token_buckets(self.redis), self.settings.app.limits)

    @cached_property
    def nudges(self) -> NudgeLog | None:
        """The owner-nudge log on the ledger's engine (its table is a ledger migration); None unless nudging."""
        if not self.settings.app.digest.nudge_owners:
            return None
        from jobs.nudges import NudgeLog

        return NudgeLog(self.ledger.engine)

    def evaluation_embedder(self, cache_dir: Path | None = None) -> Embedder:
        """The configured embedder for ``bestbefore eval`` (uncached, or cached on disk in ``cache_dir``)."""
        embedder = build_embedder(self.settings, self.cohere)
        return DiskCachedEmbedder(embedder, cache_dir) if cache_dir is not None else embedder

    def evaluation_store(self, path: Path) -> SQLiteStore:
        """A scratch store for ``bestbefore eval`` with every ``[index]`` setting of the real one."""
        return backends.sqlite_store(self.settings, path)

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
        if self.__dict__.get("redis") is not None:
            self.__dict__["redis"].close()
