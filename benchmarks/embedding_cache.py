"""Query-embedding latency through the cache: cold (model) vs warm (Redis on loopback, and the in-process LRU).

    .venv/bin/python benchmarks/embedding_cache.py [--queries 200]

Starts a private redis-server on a free loopback port (no persistence), embeds SciFact claims with the local
MiniLM model through ``CachedEmbedder``: first pass cold (miss: MGET + model + SET EX pipeline), second pass warm
(one MGET). Model load and 5 warm-up queries are excluded. Prints p50/p95 per pass and the cache counters.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from rag.providers.embedding import Embedder
from rag.providers.embedding_cache import CachedEmbedder, LruEmbeddingCache, RedisEmbeddingCache
from rag.providers.local_embedder import MiniLMEmbedder

QUERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact" / "queries.jsonl"
DAY = 24 * 3600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("redis-server did not start")


def timed_pass(embedder: Embedder, queries: list[str]) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed_query(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.3f} | {p95:.3f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    claims = [json.loads(line)["text"] for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = list(dict.fromkeys(claims))[: args.queries]
    model = MiniLMEmbedder()
    for query in ["warm up"] * 5:
        model.embed_query(query)
    with tempfile.TemporaryDirectory(prefix="bestbefore-cache-bench-") as tmp:
        process, url = start_redis(Path(tmp))
        try:
            redis_cache = RedisEmbeddingCache(url, timeout=0.1)
            via_redis = CachedEmbedder(model, redis_cache, query_ttl=DAY, document_ttl=30 * DAY)
            via_lru = CachedEmbedder(model, LruEmbeddingCache(10_000), query_ttl=DAY, document_ttl=30 * DAY)
            rows = [
                summary("cold: Redis miss + MiniLM + SET EX", timed_pass(via_redis, queries)),
                summary("warm: Redis hit (MGET on loopback)", timed_pass(via_redis, queries)),
                summary("cold: LRU miss + MiniLM", timed_pass(via_lru, queries)),
                summary("warm: LRU hit (in process)", timed_pass(via_lru, queries)),
            ]
            print("| pass | queries | p50 (ms) | p95 (ms) |\n| --- | ---: | ---: | ---: |")
            print("\n".join(rows))
            print(f"\nRedis cache counters: {redis_cache.stats.snapshot()}")
            via_redis.cache.close()
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
