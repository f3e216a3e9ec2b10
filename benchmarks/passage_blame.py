"""#14: what passage dating (``git blame`` per written file) costs on the real 18F handbook, as a share of ingest.

    .venv/bin/python benchmarks/passage_blame.py [--embedder minilm|hashing]

The handbook bundle is cloned into a temporary folder and indexed the way ``refresh_source`` does it (scan, plan,
apply with the passage dater), with the dater timed inside the same run: a full build (every page blamed), then a
refresh after one word changed in 1 % of the pages (only those blamed). MiniLM (the default embedder) makes "ingest"
what a user waits for; ``hashing`` shows the share against a zero-cost embedder, the worst case.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rag.config import SourceConfig
from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.passage_dates import passage_dates
from rag.ingest.sources import scan_source
from rag.models import Chunk
from rag.providers.embedding import Embedder
from rag.providers.local_embedder import HashingEmbedder, MiniLMEmbedder

BUNDLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "handbook" / "handbook.bundle"
NOW = datetime(2026, 12, 3, tzinfo=UTC)


class TimedDater:
    """The refresh's passage dater, timed."""

    def __init__(self, folder: Path) -> None:
        self.dater = functools.partial(passage_dates, folder)
        self.seconds = 0.0
        self.files = 0

    def __call__(self, files: Sequence[tuple[str, Sequence[Chunk]]]) -> dict[str, datetime]:
        started = time.perf_counter()
        try:
            return self.dater(files)
        finally:
            self.seconds += time.perf_counter() - started
            self.files += len(files)


def refresh(source: SourceConfig, store: SQLiteStore, embedder: Embedder, now: datetime) -> tuple[float, TimedDater]:
    dater = TimedDater(Path(source.path))
    started = time.perf_counter()
    scan = scan_source(source, now=now)
    plan = plan_refresh(scan.documents, store.stored_docs(source.name), now=now)
    apply_refresh(plan, store=store, embedder=embedder, chunking=ChunkingSettings(), passage_dater=dater)
    return time.perf_counter() - started, dater


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", choices=["minilm", "hashing"], default="minilm")
    args = parser.parse_args()
    embedder: Embedder = MiniLMEmbedder() if args.embedder == "minilm" else HashingEmbedder()
    embedder.embed_query("load the model before timing")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "handbook"
        subprocess.run(["git", "clone", "-q", str(BUNDLE), str(root)], check=True)
        pages = root / "pages"
        source = SourceConfig(name="tts", path=pages, include=["**/*.md"])
        store = SQLiteStore(Path(tmp) / "index.sqlite")
        store.ensure_embedder(embedder.id, embedder.dimension)
        rows = [("full build", *refresh(source, store, embedder, NOW))]
        files = sorted(p for p in pages.rglob("*.md") if " the " in p.read_text(encoding="utf-8"))
        for path in files[: max(1, round(len(files) / 100))]:
            path.write_text(path.read_text(encoding="utf-8").replace(" the ", " this ", 1), encoding="utf-8")
        rows.append(("1 % edited (one word)", *refresh(source, store, embedder, NOW + timedelta(days=1))))
        store.close()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"embedder {args.embedder}; load average {' '.join(load)}\n")
    print("| step | files blamed | ingest (s) | of which blame (s) | blame share |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for step, seconds, dater in rows:
        share = dater.seconds / seconds * 100 if seconds else 0.0
        print(f"| {step} | {dater.files} | {seconds:.3f} | {dater.seconds:.3f} | {share:.1f} % |")


if __name__ == "__main__":
    main()
