"""Do the 18F handbook's chunks fit MiniLM's window, how much padding does batching cost, and what does ingest take?

    .venv/bin/python benchmarks/chunk_fit.py                 # counts, then ingest before/after (each in a process)
    .venv/bin/python benchmarks/chunk_fit.py --no-ingest     # counts only (no model run, seconds)
    .venv/bin/python benchmarks/chunk_fit.py --docs 60       # ingest only the first 60 pages

The handbook bundle is cloned into a temporary folder (removed at the end). ``before`` is chunking as it was before
#16 (words x 1.3, no window) with batches sorted by characters and the old threads (onnxruntime 2 spinning, BLAS
2); ``after`` is the product: MiniLM's own WordPiece counts against its 254 + 2 window, batches sorted by word
pieces, the thread plan of ``rag.providers.cpu_threads``. Token positions = rows x longest row of every batch the
model runs (what it computes); real tokens = the rows' own lengths (both with [CLS] and [SEP]).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rag.config import SourceConfig
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.sources import scan_source
from rag.models import Document, InputType
from rag.providers.cpu_threads import ThreadPlan
from rag.providers.embedding import EmbeddingBatch
from rag.providers.local_embedder import MiniLMEmbedder
from rag.tokens import WORD_ESTIMATE, estimate_tokens

BUNDLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "handbook" / "handbook.bundle"
SPECIAL = 2  # [CLS] and [SEP]
WINDOW = 254  # MiniLM reads 256 positions, 2 of them special


class MeasuredMiniLM(MiniLMEmbedder):
    """MiniLM that records what every batch costs the model (rows x longest row) and what it holds."""

    def __init__(self, *, threads: ThreadPlan | None = None) -> None:
        super().__init__(threads=threads)
        self.positions = 0
        self.real_tokens = 0

    def embed_batch(self, texts: Sequence[str], *, input_type: InputType) -> EmbeddingBatch:
        lengths = [min(n, WINDOW) + SPECIAL for n in MiniLMEmbedder.count_tokens_batch(self, texts)]
        self.positions += len(texts) * max(lengths)
        self.real_tokens += sum(lengths)
        return super().embed_batch(texts, input_type=input_type)


class BeforeMiniLM(MeasuredMiniLM):
    """The pre-#16 behaviour: chunks sized by words x 1.3 with no window, batches sorted by characters."""

    def __init__(self) -> None:
        super().__init__(threads=ThreadPlan(onnx_intra_op=2, onnx_inter_op=1, blas=2, onnx_spinning=True))
        self.max_input_tokens = None  # the chunker knew no window

    def count_tokens(self, text: str) -> int:  # what the chunker sees
        return estimate_tokens(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:  # what embed() sorts by
        return [len(text) for text in texts]


def handbook_documents(root: Path) -> list[Document]:
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(root)], check=True)
    source = SourceConfig(name="tts", path=root / "pages", include=["**/*.md"])
    return scan_source(source).documents


def padding(groups: list[list[str]], lengths: dict[str, int], key: dict[str, int], batch: int) -> int:
    """Token positions when each group is sorted by ``key`` and cut into batches of ``batch``."""
    positions = 0
    for group in groups:
        ordered = sorted(group, key=lambda t: key[t])
        for start in range(0, len(ordered), batch):
            rows = ordered[start : start + batch]
            positions += len(rows) * max(lengths[t] for t in rows)
    return positions


def counts(docs: list[Document]) -> dict[str, object]:
    embedder = MiniLMEmbedder()
    window = WINDOW
    settings = ChunkingSettings()
    out: dict[str, object] = {"docs": len(docs)}
    for name, counter in (("before", WORD_ESTIMATE), ("after", embedder)):
        per_doc = [[c.text for c in chunk_document(doc, settings, counter)] for doc in docs]
        texts = [t for chunks in per_doc for t in chunks]
        pieces = dict(zip(texts, embedder.count_tokens_batch(texts), strict=False))
        lengths = {t: min(n, window) + SPECIAL for t, n in pieces.items()}
        groups: list[list[str]] = [[]]  # apply_refresh embeds docs in groups of >= 256 chunks
        for chunks in per_doc:
            groups[-1].extend(dict.fromkeys(chunks))
            if len(groups[-1]) >= 256:
                groups.append([])
        real = sum(lengths[t] for g in groups for t in g)
        by_chars = padding(groups, lengths, {t: len(t) for t in pieces}, embedder.batch_size)
        by_pieces = padding(groups, lengths, pieces, embedder.batch_size)
        out[name] = {
            "chunks": len(texts),
            "over the window": sum(n > window for n in pieces.values()),
            "word pieces never embedded": sum(max(0, n - window) for n in pieces.values()),
            "longest chunk (word pieces)": max(pieces.values()),
            "real tokens": real,
            "positions / real, sorted by characters": round(by_chars / real, 3),
            "positions / real, sorted by word pieces": round(by_pieces / real, 3),
        }
    return out


def ingest(docs: list[Document], mode: str) -> dict[str, object]:
    embedder: MeasuredMiniLM = BeforeMiniLM() if mode == "before" else MeasuredMiniLM()
    embedder.embed_query("load the model before timing")
    with tempfile.TemporaryDirectory(prefix="bestbefore-chunk-bench-") as tmp:
        store = SQLiteStore(Path(tmp) / "index.sqlite")
        store.ensure_embedder(embedder.id, embedder.dimension)
        plan = plan_refresh(docs, {}, now=datetime(2024, 1, 1, tzinfo=UTC))
        embedder.positions = embedder.real_tokens = 0
        started = time.perf_counter()
        result = apply_refresh(plan, store=store, embedder=embedder, chunking=ChunkingSettings())  # the product path
        seconds = time.perf_counter() - started
        store.close()
    return {
        "mode": mode,
        "docs": len(docs),
        "chunks": result.chunks_embedded,
        "truncated (as MiniLM counts)": result.chunks_truncated if mode == "after" else None,
        "seconds": round(seconds, 1),
        "positions / real tokens": round(embedder.positions / max(embedder.real_tokens, 1), 3),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--docs", type=int, default=0, help="ingest only the first N pages (0: all)")
    parser.add_argument("--ingest", choices=["before", "after"], help=argparse.SUPPRESS)  # one leg, in a process
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest:
        docs = handbook_documents(args.root / "handbook")
        print(json.dumps(ingest(docs[: args.docs or None], args.ingest)))
        return
    with tempfile.TemporaryDirectory(prefix="bestbefore-chunk-bench-") as tmp:  # removed at the end
        docs = handbook_documents(Path(tmp) / "handbook")
        print(json.dumps(counts(docs), indent=1), flush=True)
        if args.no_ingest:
            return
        for mode in ("before", "after"):  # each in its own process: thread settings are per process
            leg = Path(tmp) / mode
            leg.mkdir()
            command = [sys.executable, __file__, "--ingest", mode, "--root", str(leg), "--docs", str(args.docs)]
            print(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
