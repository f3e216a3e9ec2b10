"""Sweep the hybrid-retrieval knobs on SciFact **train** (never test): title weight, fusion, alpha, depth.

    .venv/bin/python benchmarks/tune_scifact.py [--data ../shared/data/scifact] [--split train]

Corpus embeddings are cached in /tmp/bestbefore-eval-cache (outside the repo), so only the first run embeds.
BM25 and dense chunk scores are fetched once per title weight; the fusions are then computed from them exactly as
``SQLiteStore.hybrid_search`` does (``rag.index.fusion``), so each variant costs milliseconds.
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from rag.evaluation.beir import index_corpus, load_beir
from rag.evaluation.ir_metrics import evaluate_run, ranked
from rag.index.fusion import reciprocal_rank_fusion, relative_score_fusion
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.models import InputType
from rag.providers.embedding_disk_cache import DiskCachedEmbedder
from rag.providers.local_embedder import MiniLMEmbedder

Scores = dict[int, float]


def per_doc(scores: Scores, doc_of: dict[int, str]) -> dict[str, float]:
    best: dict[str, float] = {}
    for rowid, score in scores.items():
        doc = doc_of[rowid]
        best[doc] = max(score, best.get(doc, float("-inf")))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/bestbefore-eval-cache"))
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--chunk-overlap", type=int, default=30)
    args = parser.parse_args()

    dataset = load_beir(args.data, args.split)
    embedder = DiskCachedEmbedder(MiniLMEmbedder(), args.cache_dir)
    chunking = ChunkingSettings(args.chunk_tokens, args.chunk_overlap)
    index_path = args.cache_dir / f"index-{chunking.fingerprint.replace(':', '_')}.sqlite"
    store = SQLiteStore(index_path)
    index_corpus(dataset, store, embedder, chunking)
    ids = list(dataset.queries)
    qvecs = embedder.embed([dataset.queries[q] for q in ids], input_type=InputType.QUERY).vectors
    with sqlite3.connect(index_path) as db:
        doc_of = {int(rowid): str(doc) for rowid, doc in db.execute("SELECT rowid, doc_id FROM chunks")}
    deep = 1000
    dense = {q: store.vector_search(np.asarray(v), limit=deep) for q, v in zip(ids, qvecs, strict=True)}

    def score(run: dict[str, dict[str, float]]) -> str:
        m = evaluate_run(run, dataset.qrels)
        return f"ndcg@10 {m['ndcg@10']:.4f}  r@10 {m['recall@10']:.4f}  r@100 {m['recall@100']:.4f}"

    print(f"split {args.split}: {len(ids)} queries, {store.count_chunks()} chunks")
    print("dense              ", score({q: per_doc(dense[q], doc_of) for q in ids}))
    for title_weight in (1.0, 2.0, 3.0, 5.0):
        lexical_store = SQLiteStore(index_path, title_weight=title_weight)
        lexical = {q: lexical_store.bm25_search(dataset.queries[q], limit=deep) for q in ids}
        lexical_store.close()
        print(f"bm25 title {title_weight:<4}    ", score({q: per_doc(lexical[q], doc_of) for q in ids}))
        variants: dict[str, Callable[[str], dict[str, float]]] = {}
        for depth, alpha in itertools.product((50, 100, 300), (0.3, 0.4, 0.5, 0.6, 0.7)):
            variants[f"chunk-rsf d{depth} a{alpha}"] = partial(chunk_rsf, lexical, dense, doc_of, depth, alpha)
            variants[f"doc-rsf   d{depth} a{alpha}"] = partial(doc_rsf, lexical, dense, doc_of, depth, alpha)
        for depth, k, weight in itertools.product((100, 300), (10, 60), (1.0, 1.5)):
            variants[f"doc-rrf   d{depth} k{k} w{weight}"] = partial(doc_rrf, lexical, dense, doc_of, depth, k, weight)
        results = []
        for name, fuse in variants.items():
            run = {q: fuse(q) for q in ids}
            m = evaluate_run(run, dataset.qrels)
            results.append((m["ndcg@10"], name, score(run)))
        for _, name, line in sorted(results, reverse=True)[:8]:
            print(f"  {name:<28} {line}")
    store.close()
    embedder.close()


def chunk_rsf(
    lexical: dict[str, Scores], dense: dict[str, Scores], doc_of: dict[int, str], depth: int, alpha: float, q: str
) -> dict[str, float]:
    fused = relative_score_fusion(as_keys(top(lexical[q], depth)), as_keys(top(dense[q], depth)), alpha=alpha)
    return per_doc({int(k): v for k, v in fused.items()}, doc_of)


def doc_rsf(
    lexical: dict[str, Scores], dense: dict[str, Scores], doc_of: dict[int, str], depth: int, alpha: float, q: str
) -> dict[str, float]:
    return relative_score_fusion(
        per_doc(top(lexical[q], depth), doc_of), per_doc(top(dense[q], depth), doc_of), alpha=alpha
    )


def doc_rrf(
    lexical: dict[str, Scores],
    dense: dict[str, Scores],
    doc_of: dict[int, str],
    depth: int,
    k: int,
    weight: float,
    q: str,
) -> dict[str, float]:
    rankings = [ranked(per_doc(top(lexical[q], depth), doc_of)), ranked(per_doc(top(dense[q], depth), doc_of))]
    return reciprocal_rank_fusion(rankings, weights=[1.0, weight], k=k)


def top(scores: Scores, depth: int) -> Scores:
    return dict(sorted(scores.items(), key=lambda item: -item[1])[:depth])


def as_keys(scores: Scores) -> dict[str, float]:
    return {str(k): v for k, v in scores.items()}


if __name__ == "__main__":
    main()
