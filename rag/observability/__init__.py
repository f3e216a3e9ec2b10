"""Observability: Langfuse traces and feedback scores, Prometheus metrics, cost accounting and privacy scrubbing.

Imports the shared ``rag`` modules; observes answers and votes it is handed, never answers or indexes itself.
"""
