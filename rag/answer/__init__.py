"""Answering: retrieve, rerank, pick evidence, generate or refuse honestly, attach sources with their ages; the
extractive generator; the staleness policy (which threshold applies and the warning's wording).

Imports the shared ``rag`` modules, ``rag.providers`` and ``rag.index``; never the ledger or observability
(those observe answers through the recorder protocol).
"""
