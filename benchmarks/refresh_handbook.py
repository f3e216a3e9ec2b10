"""Incremental refresh on the real staff handbook (246 Markdown pages, git dates): bestbefore vs LangChain.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/refresh_handbook.py [--no-langchain]

The handbook bundle is cloned into a temporary folder. Every step edits the files on disk and then scans the
folder with ``rag.ingest.sources.scan_source`` (read, parse front matter, normalise, sha256, one ``git log`` pass for
dates): full build; nothing changed; one word changed in 1 % of pages; 1 % deleted; 1 % given an ``owner:`` in
their front matter (not text). Zero-cost embedder; default chunking (200 tokens, 30 overlap).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from refresh_bench import Step, floor_seconds, markdown_table, run_all

from rag.config import SourceConfig
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.sources import scan_source
from rag.models import Document

BUNDLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "handbook" / "handbook.bundle"


class Handbook:
    """A clone whose files can be put into any stage of the benchmark (and back)."""

    def __init__(self, root: Path) -> None:
        subprocess.run(["git", "clone", "-q", str(BUNDLE), str(root)], check=True)
        self.pages = root / "pages"
        self.source = SourceConfig(name="tts", path=self.pages, include=["**/*.md"])
        files = sorted(p for p in self.pages.rglob("*.md") if "\n---" in p.read_text(encoding="utf-8")[3:])
        bodies = [p for p in files if re.search(r"\n---\n+[A-Z][^\n]* the ", p.read_text(encoding="utf-8"))]
        count = max(1, round(len(files) / 100))
        self.edited = bodies[:count]
        self.deleted = bodies[count : 2 * count]
        self.relabelled = files[-count:]
        self.original = {p: p.read_text(encoding="utf-8") for p in self.edited + self.deleted + self.relabelled}
        self.stage = 0

    def set_stage(self, stage: int) -> None:
        if stage == self.stage:
            return
        for path, text in self.original.items():
            path.write_text(text, encoding="utf-8")
        if stage >= 1:
            for path in self.edited:
                head, sep, body = self.original[path].partition("\n---\n")
                path.write_text(head + sep + body.replace(" the ", " this ", 1), encoding="utf-8")
        if stage >= 2:
            for path in self.deleted:
                path.unlink()
        if stage >= 3:
            for path in self.relabelled:
                path.write_text(self.original[path].replace("---\n", "---\nowner: '@reviewer'\n", 1), encoding="utf-8")
        self.stage = stage

    def loader(self, stage: int) -> Callable[[], list[Document]]:
        def load() -> list[Document]:
            self.set_stage(stage)
            return scan_source(self.source).documents

        return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-langchain", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bestbefore-handbook-bench-") as tmp:
        book = Handbook(Path(tmp) / "handbook")
        count = len(book.edited)
        steps: list[Step] = [
            ("full build", book.loader(0)),
            ("nothing changed", book.loader(0)),
            (f"1 % edited ({count} pages, one word)", book.loader(1)),
            (f"1 % deleted ({count} pages)", book.loader(2)),
            (f"1 % front matter only ({count} pages)", book.loader(3)),
        ]
        floor = floor_seconds(book.loader(0))
        rows = run_all(steps, ChunkingSettings(), langchain=not args.no_langchain)
        book.set_stage(0)
    print(markdown_table(rows))
    quiet = next(r for r in rows if r.system == "bestbefore" and r.step == "nothing changed")
    print(f"\nscan floor (scan_source: read + parse + sha256 + git dates, best of 3): {floor:.3f} s")
    print(f"no-change refresh: {quiet.seconds:.3f} s = {quiet.seconds / floor:.1f}x the scan")


if __name__ == "__main__":
    main()
