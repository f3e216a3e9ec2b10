"""The index: the ``VectorStore`` protocol, the embedded SQLite store and the Weaviate store, score fusion, and
incremental refresh by ``source_hash`` (plan, then apply: new vectors are written before old ones are deleted).

Imports the shared ``rag`` modules, ``rag.ingest`` (to read and chunk) and ``rag.providers`` (to embed).
"""
