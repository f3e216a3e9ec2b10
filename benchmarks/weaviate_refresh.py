"""Objects a one-file refresh reads from Weaviate, before and after the doc-level collection (issue #15).

    .venv/bin/python benchmarks/weaviate_refresh.py [--sources 5] [--files 100] [--chunks 100] [--before 68ec1d0]

Builds a ``--sources`` x ``--files`` x ``--chunks`` index (50 000 chunks by default) in the strict fake Weaviate
through the real weaviate-client, edits one file, and runs ``refresh_source(paths=[that file])`` — what a webhook
refresh does — once with today's ``WeaviateStore`` and once with the store as it was at ``--before`` (loaded from
git: it lists a source's docs by reading every chunk of every source through the cursor API). The fake counts the
objects each collection sends back. Wall times are the pure-Python fake's, so only their ratio means anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import SourceConfig  # noqa: E402
from rag.index.indexing import refresh_source  # noqa: E402
from rag.index.weaviate_store import WeaviateStore, connect_weaviate  # noqa: E402
from rag.ingest.chunking import ChunkingSettings  # noqa: E402
from rag.providers.local_embedder import HashingEmbedder  # noqa: E402
from tests.fakes.weaviate_fake import FakeWeaviateServer  # noqa: E402

WORDS = "expense travel receipt laptop vacation policy manager approval security onboarding payroll office".split()
CHUNKING = ChunkingSettings(max_tokens=40, overlap_tokens=0)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def write_sources(root: Path, sources: int, files: int, chunks: int) -> list[SourceConfig]:
    configs = []
    for s in range(sources):
        folder = root / f"source{s}"
        folder.mkdir()
        for f in range(files):
            sections = [
                f"## Part {p}\n\n"
                + " ".join(WORDS[(s + f * 7 + p * 3 + i) % len(WORDS)] for i in range(25))
                + f" f{f}p{p}"
                for p in range(chunks)
            ]
            (folder / f"doc{f:03d}.md").write_text(
                "---\nlast_reviewed: 2025-06-01\n---\n# Doc\n\n" + "\n\n".join(sections)
            )
        configs.append(SourceConfig(name=f"source{s}", path=folder))
    return configs


def old_store_module(commit: str) -> ModuleType:
    """rag/index/weaviate_store.py as it was at ``commit`` (before the doc-level collection)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:rag/index/weaviate_store.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "weaviate_store_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("weaviate_store_before", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_file_refresh(
    store: Any, source: SourceConfig, embedder: HashingEmbedder, server: FakeWeaviateServer
) -> dict[str, Any]:
    edited = source.path / "doc000.md"
    edited.write_text(edited.read_text() + f"\n\n## Added\n\nOne more paragraph {time.time_ns()}.\n")
    server.state.objects_returned.clear()
    calls_before = sum(server.state.grpc_calls.values())
    started = time.perf_counter()
    result = refresh_source(source, store=store, embedder=embedder, chunking=CHUNKING, now=NOW, paths=["doc000.md"])
    seconds = time.perf_counter() - started
    assert result.docs_changed == 1, result
    return {
        "objects": sum(server.state.objects_returned.values()),
        "by_collection": dict(server.state.objects_returned),
        "calls": sum(server.state.grpc_calls.values()) - calls_before,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=5)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--before", default="68ec1d0", help="commit of the store before the doc-level collection")
    args = parser.parse_args()
    embedder = HashingEmbedder(dimension=64)
    server = FakeWeaviateServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        sources = write_sources(Path(tmp), args.sources, args.files, args.chunks)
        client = connect_weaviate(server.url, grpc_port=server.grpc_port, skip_init_checks=True, timeout=300)
        store = WeaviateStore(client, collection="Bench")
        started = time.perf_counter()
        for source in sources:
            refresh_source(source, store=store, embedder=embedder, chunking=CHUNKING, now=NOW)
        total = store.count_chunks()
        print(
            f"index: {args.sources} sources x {args.files} files, {total} chunks, built in {time.perf_counter() - started:.0f} s"
        )
        after = one_file_refresh(store, sources[0], embedder, server)
        old = old_store_module(args.before)
        before_client = connect_weaviate(server.url, grpc_port=server.grpc_port, skip_init_checks=True, timeout=300)
        before = one_file_refresh(old.WeaviateStore(before_client, collection="Bench"), sources[0], embedder, server)
        print("| store | objects read | by collection | gRPC calls | wall (fake) |")
        print("| --- | --- | --- | --- | --- |")
        for name, row in ((f"before ({args.before}: chunk scan)", before), ("after (doc-level collection)", after)):
            print(f"| {name} | {row['objects']} | {row['by_collection']} | {row['calls']} | {row['seconds']:.2f} s |")
        print(f"objects read: {before['objects'] / max(after['objects'], 1):.0f}x fewer; "
              f"wall {before['seconds'] / after['seconds']:.1f}x faster")  # fmt: skip
        store.close()
        before_client.close()
    server.stop()
    print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
