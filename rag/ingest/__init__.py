"""Ingestion: folder sources read into ``Document`` records with truthful dates, format readers, git dates,
passage dates (``git blame``), commit history, chunking.

Owns everything between a file on disk and a list of chunks. Imports only the shared ``rag`` modules (``models``,
``errors``, ``config``, ``durations``); never a store, a provider or the answering pipeline.
"""
