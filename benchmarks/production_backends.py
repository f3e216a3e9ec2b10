"""Production-backend mechanics through the real SDKs against the local fakes (no real Cohere or Weaviate here).

    .venv/bin/python benchmarks/production_backends.py [--docs 200] [--queries 50]

1. Retry deadline: a Cohere endpoint that always answers 503; how long ``CohereAPI`` takes to give up for several
   ``[cohere] deadline`` values, and how many attempts it made (the deadline must hold, not multiply).
2. Recovery: two 429s then success; the added latency.
3. Cohere embed batching: ``--docs`` x 5 chunk texts through ``/v2/embed`` (96 per call): calls and wall time.
4. Store write + hybrid search, ``SQLiteStore`` vs ``WeaviateStore`` (real weaviate-client over gRPC to the pure-Python
   fake). The Weaviate figures are client + protocol + fake overhead, not Weaviate's own speed.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.errors import ProviderUnavailableError  # noqa: E402
from rag.index.sqlite_store import SQLiteStore  # noqa: E402
from rag.index.store import VectorStore  # noqa: E402
from rag.index.weaviate_store import WeaviateStore, connect_weaviate  # noqa: E402
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta, InputType  # noqa: E402
from rag.providers.cohere_api import CohereAPI, RetryPolicy  # noqa: E402
from rag.providers.cohere_embedder import CohereEmbedder  # noqa: E402
from rag.providers.local_embedder import HashingEmbedder  # noqa: E402
from tests.fakes.cohere_fake import FakeCohereServer  # noqa: E402
from tests.fakes.weaviate_fake import FakeWeaviateServer  # noqa: E402

WORDS = "expense travel receipt laptop vacation policy manager approval security onboarding payroll office".split()


def text_of(doc: int, part: int) -> str:
    return " ".join(WORDS[(doc * 7 + part * 3 + i) % len(WORDS)] for i in range(40)) + f" doc{doc} part{part}"


def retry_deadlines(server: FakeCohereServer) -> None:
    print("\n1. persistent 503: time to give up (backoff 0.5 s doubling, +-20 % jitter)")
    print("| deadline | gave up after | attempts |")
    print("| --- | --- | --- |")
    server.fake.always_fail["/v2/embed"] = 503
    for deadline in (1.0, 3.0, 6.0):
        api = CohereAPI(server.fake.api_key, base_url=server.url, policy=RetryPolicy(timeout=5, deadline=deadline))
        before = len(server.fake.calls("/v2/embed"))
        started = time.perf_counter()
        try:
            CohereEmbedder(api, dimension=256).embed_query("x")
        except ProviderUnavailableError:
            elapsed = time.perf_counter() - started
        else:
            raise SystemExit("expected the persistent 503 to end in ProviderUnavailableError")
        print(f"| {deadline:g} s | {elapsed:.2f} s | {len(server.fake.calls('/v2/embed')) - before} |")
        api.close()
    del server.fake.always_fail["/v2/embed"]


def recovery(server: FakeCohereServer) -> None:
    api = CohereAPI(server.fake.api_key, base_url=server.url, policy=RetryPolicy(timeout=5, deadline=30))
    embedder = CohereEmbedder(api, dimension=256)
    started = time.perf_counter()
    embedder.embed_query("warm")
    clean = time.perf_counter() - started
    server.fake.fail("/v2/embed", 503, 503)
    started = time.perf_counter()
    embedder.embed_query("after two 503s")
    print(f"\n2. one embed call: {clean * 1000:.1f} ms clean; {time.perf_counter() - started:.2f} s after two 503s")
    api.close()


def embed_batching(server: FakeCohereServer, docs: int) -> None:
    api = CohereAPI(server.fake.api_key, base_url=server.url)
    embedder = CohereEmbedder(api, dimension=256)
    texts = [text_of(d, p) for d in range(docs) for p in range(5)]
    before = len(server.fake.calls("/v2/embed"))
    started = time.perf_counter()
    batch = embedder.embed(texts, input_type=InputType.DOCUMENT)
    elapsed = time.perf_counter() - started
    calls = len(server.fake.calls("/v2/embed")) - before
    print(f"\n3. embed {len(texts)} chunks: {calls} calls, {elapsed:.2f} s, {batch.tokens} billed input tokens")
    api.close()


def store_round(store: VectorStore, docs: int, queries: int) -> tuple[float, float, float]:
    embedder = HashingEmbedder(dimension=256)
    store.ensure_embedder(embedder.id, embedder.dimension)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for d in range(docs):
        doc_id = f"bench:doc{d}.md"
        meta = DocMeta(doc_id, "bench", f"doc{d}.md", f"Doc {d}", f"h{d}", now, DateOrigin.GIT)
        texts = [text_of(d, p) for p in range(5)]
        vectors = embedder.embed(texts, input_type=InputType.DOCUMENT).vectors
        records = [
            ChunkRecord(Chunk(f"{doc_id}#{p}", doc_id, p, t, hashlib.sha256(t.encode()).hexdigest()), meta, vectors[p])
            for p, t in enumerate(texts)
        ]
        store.replace_doc(doc_id, records)
    write = time.perf_counter() - started
    latencies = []
    for q in range(queries):
        query = f"{WORDS[q % len(WORDS)]} {WORDS[(q * 5) % len(WORDS)]} policy"
        vector = embedder.embed_query(query).vectors[0]
        started = time.perf_counter()
        store.hybrid_search(query, vector, limit=40, alpha=0.5)
        latencies.append(time.perf_counter() - started)
    ordered = sorted(latencies)
    return write, statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def stores(docs: int, queries: int) -> None:
    print(f"\n4. {docs} docs x 5 chunks written with replace_doc, then {queries} hybrid queries (limit 40)")
    print("| store | write all | query p50 | query p95 |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "index.sqlite")
        write, p50, p95 = store_round(sqlite, docs, queries)
        sqlite.close()
        print(f"| SQLiteStore | {write:.2f} s | {p50:.1f} ms | {p95:.1f} ms |")
    server = FakeWeaviateServer().start()
    try:
        weaviate = WeaviateStore(connect_weaviate(server.url, grpc_port=server.grpc_port, skip_init_checks=True))
        write, p50, p95 = store_round(weaviate, docs, queries)
        weaviate.close()
        print(f"| WeaviateStore -> fake Weaviate | {write:.2f} s | {p50:.1f} ms | {p95:.1f} ms |")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    server = FakeCohereServer().start()
    try:
        retry_deadlines(server)
        recovery(server)
        embed_batching(server, args.docs)
    finally:
        server.stop()
    stores(args.docs, args.queries)


if __name__ == "__main__":
    main()
