"""Local stand-ins for the services the tests and benchmarks talk to over real sockets (Slack, Cohere, Weaviate,
Langfuse's OTLP endpoint), and the harnesses and seed data built on them. Imported by tests/ and benchmarks/ alike;
nothing here imports pytest at module level except where a fixture needs it.
"""
