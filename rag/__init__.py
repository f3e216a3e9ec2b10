"""The RAG core: documents with true dates in, grounded answers with citations and staleness out.

It knows nothing of Slack, the scheduler, ``bot/``, ``jobs/`` or the composition root (``tests/test_layout.py``).
The shared records, settings and plumbing live at this level (``models``, ``errors``, ``config``, ``durations``,
``clock``, ``observers``, ``redis_connection``; they import only each other); each subpackage owns one
responsibility and imports only the shared modules and the packages its docstring's "Imports" sentence names
(``tests/test_layout.py`` reads those sentences and enforces them):

* ``ingest`` — sources, format readers, git dates, chunking;
* ``providers`` — embedders, the embedding cache, rerankers and generators (local and Cohere);
* ``index`` — the ``VectorStore`` protocol, its SQLite and Weaviate stores, fusion and incremental refresh;
* ``answer`` — the answering pipeline, extractive generation and the staleness policy;
* ``ledger`` — the query ledger (answers, votes, runs), its migrations and figures;
* ``observability`` — Langfuse traces, Prometheus metrics, costs and privacy;
* ``evaluation`` — retrieval evaluation on BEIR folders;
* ``limits`` — question rate limits (token buckets) and the daily spend cap.
"""
