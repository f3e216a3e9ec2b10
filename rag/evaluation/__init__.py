"""Retrieval evaluation on BEIR-format folders (nDCG@k, Recall@k) through the product's own indexing and search.

Imports the shared ``rag`` modules, ``rag.ingest``, ``rag.providers`` and ``rag.index``.
"""
