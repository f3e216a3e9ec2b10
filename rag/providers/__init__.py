"""Model providers: the ``Embedder`` base class, local (MiniLM, hashing) and Cohere embedders, the embedding cache,
the ``Generator`` / ``Reranker`` protocols and their Cohere implementations.

Owns every call to a model. Imports only the shared ``rag`` modules; never the index, the ledger or Slack.
"""
