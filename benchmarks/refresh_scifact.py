"""Incremental refresh on the SciFact corpus (5,183 abstracts): bestbefore vs LangChain's indexing API.

    .venv/bin/pip install -e '.[bench]'                          # LangChain, for the side-by-side
    .venv/bin/python benchmarks/refresh_scifact.py               # zero-cost embedder: pure indexing overhead
    .venv/bin/python benchmarks/refresh_scifact.py --model minilm [--limit N]   # real local model (minutes)

Steps, each on the result of the one before: full build; nothing changed; one word of the first sentence changed
in 1 % of docs (52); nothing changed; 1 % of docs deleted; 1 % given a new review date and owner (front matter,
not text); a sentence inserted into 1 % of docs. Every step re-reads the corpus (gzip JSON lines) and hashes each
doc, as a refresh of a real source would; that alone is the floor. Chunking: 120 tokens, 20 overlap (~3 chunks
per abstract).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from refresh_bench import (
    NOW,
    Row,
    Step,
    edit_one_word,
    floor_seconds,
    insert_sentence,
    markdown_table,
    one_percent,
    relabel,
    run_all,
)

from rag.index.refresh import apply_refresh, plan_refresh
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings
from rag.models import Document

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact" / "corpus.jsonl.gz"
CHUNKING = ChunkingSettings(max_tokens=120, overlap_tokens=20)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_corpus(limit: int | None = None) -> list[Document]:
    docs = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            text = row["text"].strip()
            path = f"{row['_id']}.txt"
            docs.append(
                Document(
                    doc_id=f"scifact:{path}", source="scifact", path=path, title=row["title"], text=text,
                    source_hash=sha256(text), updated_at=None, format="text",
                )
            )  # fmt: skip
            if limit and len(docs) >= limit:
                break
    return docs


def build_steps(limit: int | None) -> list[Step]:
    base = read_corpus(limit)
    edited = set(one_percent(base, 0))
    removed = {base[i].doc_id for i in one_percent(base, 37)}
    relabelled = {base[i].doc_id for i in one_percent(base, 61)}
    inserted = {base[i].doc_id for i in one_percent(base, 83)}

    def corpus(stage: int) -> Callable[[], list[Document]]:
        def load() -> list[Document]:
            docs = read_corpus(limit)
            if stage >= 1:
                docs = [edit_one_word(d, sha256) if i in edited else d for i, d in enumerate(docs)]
            if stage >= 2:
                docs = [d for d in docs if d.doc_id not in removed]
            if stage >= 3:
                docs = [relabel(d) if d.doc_id in relabelled else d for d in docs]
            if stage >= 4:
                docs = [insert_sentence(d, sha256) if d.doc_id in inserted else d for d in docs]
            return docs

        return load

    return [
        ("full build", corpus(0)),
        ("nothing changed", corpus(0)),
        (f"1 % edited ({len(edited)} docs, one word)", corpus(1)),
        ("nothing changed again", corpus(1)),
        (f"1 % deleted ({len(removed)} docs)", corpus(2)),
        (f"1 % metadata only ({len(relabelled)} docs)", corpus(3)),
        (f"1 % sentence inserted ({len(inserted)} docs)", corpus(4)),
    ]


def real_model(limit: int | None) -> None:
    from rag.providers.local_embedder import MiniLMEmbedder

    steps = build_steps(limit)
    embedder = MiniLMEmbedder()
    with tempfile.TemporaryDirectory(prefix="bestbefore-refresh-minilm-") as tmp:
        store = SQLiteStore(Path(tmp) / "index.sqlite")
        store.ensure_embedder(embedder.id, embedder.dimension)
        embedder.embed_query("warm up the model")  # model load is not indexing work
        for name, load in (steps[0], steps[2]):
            started = time.perf_counter()
            docs = load()
            plan = plan_refresh(docs, store.stored_docs(), now=NOW)
            result = apply_refresh(plan, store=store, embedder=embedder, chunking=CHUNKING)
            seconds = time.perf_counter() - started
            print(f"| {name} | {len(docs)} | {result.chunks_embedded} | {seconds:.2f} |", flush=True)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["zero-cost", "minilm"], default="zero-cost")
    parser.add_argument("--limit", type=int, default=None, help="only the first N docs")
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--langchain-records-in-file", action="store_true", help="SQLRecordManager on a file")
    args = parser.parse_args()
    if args.model == "minilm":
        print("| step | docs | chunks embedded | wall time (s) |\n| --- | ---: | ---: | ---: |")
        real_model(args.limit)
        return
    floor = floor_seconds(lambda: read_corpus(args.limit))
    rows: list[Row] = run_all(
        build_steps(args.limit),
        CHUNKING,
        langchain=not args.no_langchain,
        records_in_file=args.langchain_records_in_file,
    )
    print(markdown_table(rows))
    ours = {r.step: r for r in rows if r.system == "bestbefore"}
    theirs = {r.step: r for r in rows if r.system == "langchain"}
    quiet = ours["nothing changed"].seconds
    print(f"\nfloor (read + sha256 of the corpus, best of 3): {floor:.3f} s")
    print(f"no-change refresh: {quiet:.3f} s = {quiet / floor:.1f}x the floor")
    if theirs:
        print(f"LangChain no-change: {theirs['nothing changed'].seconds:.3f} s = "
              f"{theirs['nothing changed'].seconds / quiet:.1f}x bestbefore")  # fmt: skip
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
