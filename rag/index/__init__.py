"""The index: the ``VectorStore`` protocol, the embedded SQLite store and the Weaviate store, score fusion,
incremental refresh by ``source_hash`` (plan, then apply: new vectors are written before old ones are deleted) and
the one refresh path, ``Indexer.refresh`` (the lock, each source in turn, each outcome recorded).

Imports the shared ``rag`` modules, ``rag.ingest`` (to read and chunk) and ``rag.providers`` (to embed).
"""
