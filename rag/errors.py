"""Every error the RAG core raises, in one tree.

::

    BestBeforeError                 base class; ``str(err)`` says what to do
    ├── ConfigError                 bad bestbefore.toml / settings (names the key and the line)
    ├── SourceError                 a source cannot be read at all (missing folder, ...)
    ├── EmbedderMismatchError       the index was built with another embedder: run ``bestbefore ingest --full``
    ├── StoreError                  the vector store (or the query ledger) failed
    │   ├── IndexUnavailableError   the store's server cannot be reached right now (names WEAVIATE_URL)
    │   └── LedgerUnavailableError  the query ledger's database cannot be reached (writes wait; reads fail)
    └── ProviderError               a model provider (embed / rerank / chat) failed
        ├── ProviderAuthError       bad or missing API key (says which variable to fix)
        └── ProviderUnavailableError  outage, 429s or 5xx beyond the retry deadline

A single unreadable file is not an error: sources report it as a :class:`rag.models.SkippedFile`.
"""

from __future__ import annotations


class BestBeforeError(Exception):
    """Base class of every bestbefore error."""


class ConfigError(BestBeforeError):
    pass


class SourceError(BestBeforeError):
    pass


class EmbedderMismatchError(BestBeforeError):
    def __init__(self, stored: str, current: str) -> None:
        super().__init__(
            f"The index was built with embedder {stored!r} but {current!r} is configured. "
            "Rebuild it with `bestbefore ingest --full` (or configure the old embedder again)."
        )
        self.stored = stored
        self.current = current


class StoreError(BestBeforeError):
    pass


class LedgerUnavailableError(StoreError):
    pass


class ProviderError(BestBeforeError):
    pass


class ProviderAuthError(ProviderError):
    pass


class ProviderUnavailableError(ProviderError):
    pass


class IndexUnavailableError(StoreError):
    """The document index (Weaviate) cannot be reached right now; it may come back."""
