"""Keyword search at 100k chunks: the store's in-memory BM25 vs FTS5's ``bm25()`` vs bm25s, same texts, same run.

    .venv/bin/pip install -e '.[bench]'                   # bm25s
    .venv/bin/python benchmarks/keyword_search.py [--chunks 100000] [--questions 200]

The store is the one ``ask_latency.py`` measures (3-sentence windows of SciFact abstracts, built in a temporary
folder that is removed at the end). Per SciFact claim, interleaved: ``SQLiteStore.bm25_search`` (the in-memory
index), the same query through FTS5 (``ORDER BY bm25() LIMIT 300``, the path before #16 and the fallback while the
index builds), and bm25s over the same title + text of every chunk — once with its own query tokenisation
(``bm25s.tokenize`` + ``retrieve``, how it is used) and once scoring pre-tokenised queries only (``get_scores`` +
top-300 selection, its floor). Also: how many of FTS5's top 300 the in-memory index returns, and build times.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import bm25s
import numpy as np
from ask_latency import DATA, build_store

from rag.evaluation.beir import load_beir
from rag.index.sqlite_store import SQLiteStore, query_terms

LIMIT = 300


def pct(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def measure(path: Path, questions: int) -> dict[str, object]:
    claims = list(load_beir(DATA, "test").queries.values())[: questions + 10]
    db = sqlite3.connect(path)
    texts = [
        f"{title} {text}"
        for title, text in db.execute(
            "SELECT d.title, c.text FROM chunks c JOIN docs d ON d.doc_id = c.doc_id ORDER BY c.rowid"
        )
    ]
    db.close()
    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    bm25s_build = time.perf_counter() - started

    store = SQLiteStore(path)
    started = time.perf_counter()
    store.warm_up()  # vectors + keyword index
    warm_up = time.perf_counter() - started

    def ours(claim: str) -> dict[int, float]:
        return store.bm25_search(claim, limit=LIMIT)

    def fts5(claim: str) -> dict[int, float]:
        return store._bm25_fts5(query_terms(claim), limit=LIMIT, where=None)

    def bm25s_full(claim: str) -> object:
        tokens = bm25s.tokenize([claim], stopwords="en", show_progress=False)
        return retriever.retrieve(tokens, k=LIMIT, show_progress=False, n_threads=1)

    tokenized = {c: bm25s.tokenize([c], stopwords="en", return_ids=False, show_progress=False)[0] for c in claims}

    def bm25s_scores(claim: str) -> np.ndarray:
        scores = retriever.get_scores(tokenized[claim])
        top = np.argpartition(-scores, LIMIT - 1)[:LIMIT]
        return top[np.argsort(-scores[top])]

    runs = {"in-memory": ours, "fts5": fts5, "bm25s": bm25s_full, "bm25s scoring only": bm25s_scores}
    times: dict[str, list[float]] = {name: [] for name in runs}
    overlap: list[float] = []
    for number, claim in enumerate(claims):
        mine: object = None
        for name, run in runs.items():
            started = time.perf_counter()
            result = run(claim)
            if number >= 10:  # the first 10 warm caches
                times[name].append((time.perf_counter() - started) * 1000)
            if name == "in-memory":
                mine = result
            if name == "fts5" and isinstance(result, dict) and isinstance(mine, dict) and result:
                overlap.append(len(mine.keys() & result.keys()) / len(result))
    store.close()
    floor = statistics.median(times["bm25s scoring only"])
    return {
        "chunks": len(texts),
        "questions": len(times["fts5"]),
        **{f"{name} p50/p95 ms": [pct(v, 50), pct(v, 95)] for name, v in times.items()},
        "in-memory p50 / bm25s scoring-only p50": round(statistics.median(times["in-memory"]) / floor, 2),
        "in-memory p50 / fts5 p50": round(statistics.median(times["in-memory"]) / statistics.median(times["fts5"]), 3),
        "share of fts5's top 300 returned (mean; ties at the cut may differ)": round(statistics.mean(overlap), 4),
        "store warm-up s (vectors + keyword index)": round(warm_up, 1),
        "bm25s index s": round(bm25s_build, 1),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bestbefore-keyword-bench-") as work:  # removed at the end
        path = build_store(Path(work), args.chunks, 384)
        print(json.dumps(measure(path, args.questions), indent=1))


if __name__ == "__main__":
    main()
