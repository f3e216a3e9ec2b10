"""Backends chosen from ``Settings`` through small name -> factory registries (no if/else chains in the wiring).

Each kind of backend has a registry (``STORES``, ``EMBEDDERS``, ``GENERATORS``, ``RERANKERS``, ``CACHES``) and one
function naming the configured entry (``store_name(settings)`` ...). The production entries are Cohere
(``COHERE_API_KEY``), Weaviate (``WEAVIATE_URL``) and Redis (``REDIS_URL``); the embedded defaults need nothing.

Mixing is allowed: Cohere chat/rerank over the local embedder (set ``[index] embedder = "minilm"`` explicitly), or the
Cohere embedder over the embedded SQLite store. With ``COHERE_API_KEY`` set and no explicit ``[index] embedder``, Cohere
embeds too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.extractive import ExtractiveGenerator
from rag.config import Settings
from rag.errors import ConfigError
from rag.index.sqlite_store import SQLiteStore
from rag.index.store import VectorStore
from rag.providers.embedding import Embedder
from rag.providers.embedding_cache import EmbeddingCache, LruEmbeddingCache, RedisEmbeddingCache
from rag.providers.generation import Generator, Reranker
from rag.providers.local_embedder import make_local_embedder
from rag.redis_connection import RedisConnection

if TYPE_CHECKING:  # the SDKs load only when their backend is configured (keeps the CLI quick to start)
    from rag.index.weaviate_store import WeaviateStore
    from rag.providers.cohere_api import CohereAPI
    from rag.providers.cohere_chat import CohereGenerator
    from rag.providers.cohere_embedder import CohereEmbedder, CohereReranker


def build_cohere(settings: Settings) -> CohereAPI | None:
    """The shared Cohere client when ``COHERE_API_KEY`` is set; checks the key once (a clear error if it is wrong)."""
    if settings.cohere_api_key is None:
        return None
    from rag.providers.cohere_api import CohereAPI, RetryPolicy

    config = settings.app.cohere
    api = CohereAPI(
        settings.cohere_api_key.get_secret_value(),
        base_url=settings.co_api_url,
        policy=RetryPolicy(timeout=config.timeout, deadline=config.deadline),
    )
    try:
        api.check_key()
    except BaseException:
        api.close()
        raise
    return api


def uses_cohere_embedder(settings: Settings) -> bool:
    index = settings.app.index
    if index.embedder == "cohere":
        if settings.cohere_api_key is None:
            raise ConfigError('[index] embedder = "cohere" needs COHERE_API_KEY in the environment')
        return True
    return settings.cohere_api_key is not None and "embedder" not in index.model_fields_set


def cohere_embedder(settings: Settings, api: CohereAPI) -> CohereEmbedder:
    from rag.providers.cohere_embedder import CohereEmbedder

    config = settings.app.cohere
    return CohereEmbedder(api, model=config.embed_model, dimension=config.embed_dimension)


def cohere_reranker(settings: Settings, api: CohereAPI) -> CohereReranker:
    from rag.providers.cohere_embedder import CohereReranker

    return CohereReranker(api, model=settings.app.cohere.rerank_model)


def cohere_generator(settings: Settings, api: CohereAPI) -> CohereGenerator:
    from rag.providers.cohere_chat import CohereGenerator

    return CohereGenerator(api, model=settings.app.cohere.chat_model)


def weaviate_store(settings: Settings) -> WeaviateStore:
    """The Weaviate store at ``WEAVIATE_URL`` (``WEAVIATE_API_KEY``, ``WEAVIATE_GRPC_HOST/_PORT/_SECURE`` optional).
    Source names the server cannot filter on are refused here, at start-up."""
    if not settings.weaviate_url:
        raise ConfigError("The Weaviate store needs WEAVIATE_URL (e.g. http://localhost:8080)")
    from rag.index.weaviate_store import WeaviateStore, connect_weaviate

    config = settings.app.weaviate
    client = connect_weaviate(
        settings.weaviate_url,
        api_key=settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None,
        grpc_port=settings.weaviate_grpc_port,
        grpc_host=settings.weaviate_grpc_host,
        grpc_secure=settings.weaviate_grpc_secure,
        timeout=config.timeout,
        skip_init_checks=config.skip_init_checks,
    )
    try:
        store = WeaviateStore(
            client,
            collection=config.collection,
            title_weight=settings.app.index.title_weight,
            search_deadline=config.search_deadline,
        )
        store.check_sources([s.name for s in settings.app.sources])
    except BaseException:
        client.close()
        raise
    return store


def sqlite_store(settings: Settings, path: Path | None = None) -> SQLiteStore:
    """The embedded store: one SQLite file (the data dir's, or ``path``), with every ``[index]`` setting it reads."""
    return SQLiteStore(path or settings.index_path, title_weight=settings.app.index.title_weight)


def _need(api: CohereAPI | None) -> CohereAPI:
    if api is None:
        raise ConfigError("COHERE_API_KEY is not set")
    return api


# -- the registries ----------------------------------------------------------------------------------------------

StoreFactory = Callable[[Settings], VectorStore]

STORES: dict[str, StoreFactory] = {"sqlite": sqlite_store, "weaviate": weaviate_store}
EMBEDDERS: dict[str, Callable[[Settings, CohereAPI | None], Embedder]] = {
    "cohere": lambda settings, api: cohere_embedder(settings, _need(api)),
    "local": lambda settings, api: make_local_embedder(settings.app.index.embedder),
}
GENERATORS: dict[str, Callable[[Settings, CohereAPI | None], Generator]] = {
    "cohere": lambda settings, api: cohere_generator(settings, _need(api)),
    "extractive": lambda settings, api: ExtractiveGenerator(),
}
RERANKERS: dict[str, Callable[[Settings, CohereAPI | None], Reranker | None]] = {
    "cohere": lambda settings, api: cohere_reranker(settings, _need(api)),
    "none": lambda settings, api: None,
}
CACHES: dict[str, Callable[[Settings, RedisConnection | None], EmbeddingCache]] = {
    "redis": lambda settings, redis: RedisEmbeddingCache(redis or _need_redis(settings)),
    "lru": lambda settings, redis: LruEmbeddingCache(settings.app.cache.lru_size),
}


def _need_redis(settings: Settings) -> str:
    if not settings.redis_url:
        raise ConfigError("The Redis embedding cache needs REDIS_URL (e.g. redis://localhost:6379/0)")
    return settings.redis_url


def store_name(settings: Settings) -> str:
    return "weaviate" if settings.weaviate_url else "sqlite"


def embedder_name(settings: Settings) -> str:
    return "cohere" if uses_cohere_embedder(settings) else "local"


def generator_name(settings: Settings) -> str:
    return "cohere" if settings.cohere_api_key is not None else "extractive"


def reranker_name(settings: Settings) -> str:
    return "cohere" if settings.cohere_api_key is not None else "none"


def cache_name(settings: Settings) -> str:
    return "redis" if settings.redis_url else "lru"
