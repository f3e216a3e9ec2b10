"""``ask`` latency at 10k and 100k chunks, ingest throughput, and peak memory (embedded default).

    .venv/bin/python benchmarks/ask_latency.py            # everything (each measurement in its own process)
    .venv/bin/python benchmarks/ask_latency.py --only ask --chunks 10000

* ask: ``answer_question`` end to end (MiniLM query embedding, hybrid search, extractive answer, sources) over a
  ``SQLiteStore`` holding N chunks. Chunk texts are 3-sentence windows of SciFact abstracts; their vectors are
  random unit vectors (latency does not depend on what the vectors mean). Model load and the first query (which
  loads the vector matrix) are excluded: 10 warm-up questions, then 200 timed SciFact claims.
* ingest: MiniLM embedding + store writes of 300 SciFact abstracts through ``apply_refresh`` (docs/s).
* memory: peak RSS of each measurement's process (``resource.getrusage``).
Stores are built once under /tmp/bestbefore-bench (outside the repo) and reused.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.answer.pipeline import answer_question, extractive_pipeline
from rag.config import IndexConfig
from rag.evaluation.beir import corpus_documents, load_beir
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings, chunk_hash, chunk_id
from rag.models import Chunk, ChunkRecord, DateOrigin, DocMeta
from rag.providers.local_embedder import MiniLMEmbedder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
WORK = Path("/tmp/bestbefore-bench")
CHUNKS_PER_DOC = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sentences() -> list[str]:
    out: list[str] = []
    with gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            out.extend(s for s in _SENTENCE.split(json.loads(line)["text"]) if len(s) > 20)
    return out


def build_store(n_chunks: int, dimension: int) -> Path:
    """A store of ``n_chunks`` synthetic chunks (built once, then reused)."""
    path = WORK / f"ask-{n_chunks}.sqlite"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    for leftover in WORK.glob(tmp.name + "*"):
        leftover.unlink()
    rng = random.Random(7)
    vectors = np.random.default_rng(7).standard_normal((n_chunks, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pool = sentences()
    store = SQLiteStore(tmp)
    store.ensure_embedder(MiniLMEmbedder.id, dimension)
    settings = ChunkingSettings()
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for doc_no in range(0, n_chunks // CHUNKS_PER_DOC):
        doc_id = f"bench:doc-{doc_no}.md"
        meta = DocMeta(
            doc_id, "bench", f"doc-{doc_no}.md", f"Synthetic page {doc_no}", f"h{doc_no}", now, DateOrigin.GIT
        )
        records = []
        for ordinal in range(CHUNKS_PER_DOC):
            start = rng.randrange(len(pool) - 3)
            text = " ".join(pool[start : start + 3])
            hash_ = chunk_hash(f"{doc_no}:{ordinal}:{text}", settings)
            chunk = Chunk(chunk_id(doc_id, hash_, 0), doc_id, ordinal, text, hash_)
            records.append(ChunkRecord(chunk, meta, vectors[doc_no * CHUNKS_PER_DOC + ordinal]))
        store.replace_doc(doc_id, records)
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    tmp.rename(path)
    return path


def measure_ask(n_chunks: int, questions: int = 200, warmup: int = 10) -> dict[str, object]:
    embedder = MiniLMEmbedder()
    path = build_store(n_chunks, embedder.dimension)
    store = SQLiteStore(path)
    index = IndexConfig()
    pipeline = extractive_pipeline(store, embedder, index)
    claims = list(load_beir(DATA, "test").queries.values())
    for claim in claims[:warmup]:
        answer_question(claim, pipeline)
    totals: list[float] = []
    parts: dict[str, list[float]] = {"embed": [], "retrieve": [], "generate": []}
    for claim in claims[warmup : warmup + questions]:
        started = time.perf_counter()
        answer = answer_question(claim, pipeline)
        totals.append((time.perf_counter() - started) * 1000)
        for name in parts:
            parts[name].append(answer.timings_ms.get(name, 0.0))
    store.close()

    def pct(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)

    return {
        "measure": "ask",
        "chunks": store_chunks(path),
        "questions": len(totals),
        "p50_ms": pct(totals, 50),
        "p95_ms": pct(totals, 95),
        **{f"{name}_p50_ms": pct(values, 50) for name, values in parts.items()},
        **{f"{name}_p95_ms": pct(values, 95) for name, values in parts.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def store_chunks(path: Path) -> int:
    store = SQLiteStore(path)
    try:
        return store.count_chunks()
    finally:
        store.close()


def measure_ingest(docs: int = 300) -> dict[str, object]:
    dataset = load_beir(DATA, "test")
    sample = corpus_documents(dataset)[:docs]
    embedder = MiniLMEmbedder()
    embedder.embed_query("load the model before timing")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "i.sqlite")
        store.ensure_embedder(embedder.id, embedder.dimension)
        plan = plan_refresh(sample, {}, now=datetime(2024, 1, 1, tzinfo=UTC))
        started = time.perf_counter()
        result = apply_refresh(plan, store=store, embedder=embedder, chunking=ChunkingSettings())
        seconds = time.perf_counter() - started
        store.close()
    return {
        "measure": "ingest",
        "docs": docs,
        "chunks": result.chunks_embedded,
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1),
        "chunks_per_s": round(result.chunks_embedded / seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["ask", "ingest"])
    parser.add_argument("--chunks", type=int)
    args = parser.parse_args()
    if args.only == "ask":
        print(json.dumps(measure_ask(args.chunks or 10_000)))
        return
    if args.only == "ingest":
        print(json.dumps(measure_ingest()))
        return
    runs = [["--only", "ingest"], ["--only", "ask", "--chunks", "10000"], ["--only", "ask", "--chunks", "100000"]]
    for extra in runs:  # separate processes: each peak RSS is its own
        out = subprocess.run([sys.executable, __file__, *extra], check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
