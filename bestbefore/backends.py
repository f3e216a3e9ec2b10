"""Production backends chosen from ``Settings``: Cohere (``COHERE_API_KEY``) and Weaviate (``WEAVIATE_URL``).

Mixing is allowed: Cohere chat/rerank over the local embedder (set ``[index] embedder = "minilm"`` explicitly), or the
Cohere embedder over the embedded SQLite store. With ``COHERE_API_KEY`` set and no explicit ``[index] embedder``, Cohere
embeds too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.config import Settings
from rag.errors import ConfigError

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


def weaviate_store(settings: Settings) -> WeaviateStore | None:
    """The Weaviate store when ``WEAVIATE_URL`` is set (``WEAVIATE_API_KEY``, ``WEAVIATE_GRPC_HOST/_PORT/_SECURE``
    optional). Source names the server cannot filter on are refused here, at start-up."""
    if not settings.weaviate_url:
        return None
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
