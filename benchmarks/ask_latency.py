"""``ask`` latency at 10k and 100k chunks against its floor, thread plans, ingest throughput, peak memory.

    .venv/bin/python benchmarks/ask_latency.py            # everything (each measurement in its own process)
    .venv/bin/python benchmarks/ask_latency.py --only ask --chunks 10000 --threads before

* ask: ``answer_question`` end to end (MiniLM query embedding, hybrid search, extractive answer, sources) over a
  ``SQLiteStore`` holding N chunks. Chunk texts are 3-sentence windows of SciFact abstracts; their vectors are
  random unit vectors (latency does not depend on what the vectors mean). Model load and the first query (which
  loads the vector matrix) are excluded: 10 warm-up questions, then 200 timed SciFact claims.
* ingest: MiniLM embedding + store writes of 300 SciFact abstracts through ``apply_refresh`` (docs/s).
* floor: for each timed claim, one query embedding plus one exact scan of every stored vector
  (``vector_search``, the store's matrix-vector product and top-300 selection), right before the ask.
* threads: ``plan`` is the product's (``rag.providers.cpu_threads``: onnxruntime intra-op = cores, no spinning,
  BLAS 1 thread); ``before`` is what #16 found (onnxruntime 2 threads spinning, BLAS 2 threads). At 10k chunks the
  two alternate (before, plan, before, plan), each in its own process, so drift in the machine's load hits both.
* memory: peak RSS of each measurement's process (``resource.getrusage``).
Stores are built in a temporary folder (removed at the end) and shared by the measurements of one run.
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
from rag.providers.cpu_threads import ThreadPlan
from rag.providers.local_embedder import MiniLMEmbedder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
CHUNKS_PER_DOC = 5
THREAD_PLANS = {
    "plan": ThreadPlan.for_cores(),
    "before": ThreadPlan(onnx_intra_op=2, onnx_inter_op=1, blas=2, onnx_spinning=True),
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sentences() -> list[str]:
    out: list[str] = []
    with gzip.open(DATA / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            out.extend(s for s in _SENTENCE.split(json.loads(line)["text"]) if len(s) > 20)
    return out


def build_store(work: Path, n_chunks: int, dimension: int) -> Path:
    """A store of ``n_chunks`` synthetic chunks in ``work`` (built once per run, then reused)."""
    path = work / f"ask-{n_chunks}.sqlite"
    if path.exists():
        return path
    tmp = path.with_suffix(".building")
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


def measure_ask(work: Path, n_chunks: int, threads: str, questions: int = 200, warmup: int = 10) -> dict[str, object]:
    embedder = MiniLMEmbedder(threads=THREAD_PLANS[threads])
    path = build_store(work, n_chunks, embedder.dimension)
    store = SQLiteStore(path)
    index = IndexConfig()
    pipeline = extractive_pipeline(store, embedder, index)
    claims = list(load_beir(DATA, "test").queries.values())
    embedder.warm_up()
    store.warm_up()  # vectors in memory, keyword index built (what a serving bot has after its first minutes)
    for claim in claims[:warmup]:
        answer_question(claim, pipeline)
    totals: list[float] = []
    floors: list[float] = []
    parts: dict[str, list[float]] = {"embed": [], "retrieve": [], "generate": []}
    for claim in claims[warmup : warmup + questions]:
        started = time.perf_counter()
        vector = embedder.embed_query(claim).vectors[0]
        store.vector_search(vector, limit=300)
        floors.append((time.perf_counter() - started) * 1000)
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
        "threads": threads,
        "chunks": store_chunks(path),
        "questions": len(totals),
        "p50_ms": pct(totals, 50),
        "p95_ms": pct(totals, 95),
        "floor_p50_ms": pct(floors, 50),
        "floor_p95_ms": pct(floors, 95),
        "p95_over_floor_p95": round(pct(totals, 95) / pct(floors, 95), 2),
        **{f"{name}_p50_ms": pct(values, 50) for name, values in parts.items()},
        **{f"{name}_p95_ms": pct(values, 95) for name, values in parts.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
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
    parser.add_argument("--threads", choices=sorted(THREAD_PLANS), default="plan")
    parser.add_argument("--work", type=Path, help="where the stores of this run live (default: a temporary folder)")
    args = parser.parse_args()
    if args.only == "ingest":
        print(json.dumps(measure_ingest()))
        return
    if args.only == "ask" and args.work is not None:
        print(json.dumps(measure_ask(args.work, args.chunks or 10_000, args.threads)))
        return
    if args.only == "ask":
        runs = [["--chunks", str(args.chunks or 10_000), "--threads", args.threads]]
    else:
        ten_k = ["--chunks", "10000", "--threads"]
        runs = [[*ten_k, "before"], [*ten_k, "plan"], [*ten_k, "before"], [*ten_k, "plan"]]
        runs += [["--chunks", "100000", "--threads", "plan"]]
    with tempfile.TemporaryDirectory(prefix="bestbefore-bench-") as work:  # removed at the end, also on errors
        if args.only is None:
            runs.insert(0, ["--only", "ingest"])
        for extra in runs:  # separate processes: each peak RSS and thread setting is its own
            command = [sys.executable, __file__, *extra]
            if "--only" not in extra:
                command += ["--only", "ask", "--work", work]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
