"""The query ledger: one row per answer, votes, refresh and job runs, digest posts, owner nudges, change notices;
its named append-only migrations (SQLite or PostgreSQL) and the figures read from it.

Imports the shared ``rag`` modules and ``rag.observability`` (costs, privacy); it records answers it is handed.
"""
