"""Evaluation: retrieval on BEIR-format folders (nDCG@k, Recall@k) and answers on documentation sites' question sets,
through the product's own indexing, search and answering.

Imports the shared ``rag`` modules, ``rag.ingest``, ``rag.providers``, ``rag.index`` and ``rag.answer``.
"""
