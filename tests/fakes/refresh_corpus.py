"""A small deterministic corpus in two versions, and a full dump of a SQLite index, for the refresh tests.

Also imported by ``refresh_crash_helper.py`` (run as a subprocess that kills itself), so it has no pytest imports.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from rag.ingest.chunking import ChunkingSettings
from rag.ingest.sources import source_hash
from rag.models import DateOrigin, Document

NOW = datetime(2025, 6, 1, tzinfo=UTC)
CHUNKING = ChunkingSettings(max_tokens=60, overlap_tokens=10)  # one 2-paragraph section = one chunk
_WORDS = (
    "policy leave expense travel laptop onboarding payroll review security badge office remote contract vendor "
    "budget invoice approval manager holiday benefit pension training mentor incident backup password vpn "
    "deadline meeting report audit customer support release deploy rollback ticket escalation"
).split()


def make_doc(
    source: str,
    path: str,
    text: str,
    *,
    title: str | None = None,
    updated_at: datetime | None = None,
    owner: str | None = None,
) -> Document:
    return Document(
        doc_id=f"{source}:{path}",
        source=source,
        path=path,
        title=title or path.rsplit("/", 1)[-1].removesuffix(".md"),
        text=text,
        source_hash=source_hash(text),
        updated_at=updated_at,
        date_origin=DateOrigin.FRONT_MATTER if updated_at else None,
        owner=owner,
        format="markdown",
    )


def paragraph(rng: random.Random, tag: str) -> str:
    return f"{tag} " + " ".join(rng.choice(_WORDS) for _ in range(17)) + "."


def section(rng: random.Random, name: str) -> str:
    return f"## {name}\n\n{paragraph(rng, name + ' first')}\n\n{paragraph(rng, name + ' second')}"


def version_one(docs: int = 24) -> list[Document]:
    """``docs`` markdown docs of three sections each (three chunks); every third doc has a front matter date."""
    out = []
    for i in range(docs):
        rng = random.Random(i)
        text = "\n\n".join(section(rng, f"Topic {i}-{j}") for j in range(3))
        dated = datetime(2024, 1 + i % 12, 1, tzinfo=UTC) if i % 3 == 0 else None
        folder = "Guides" if i == 9 else "docs"
        out.append(make_doc("kb", f"{folder}/doc-{i:02d}.md", text, updated_at=dated, owner="@ops"))
    return out


def version_two(v1: list[Document]) -> tuple[list[Document], dict[str, int]]:
    """Edits of every kind; returns the docs and the number of chunks each kind must embed."""
    docs = {d.path: d for d in v1}
    # one paragraph of one doc edited: one chunk
    d3 = docs["docs/doc-03.md"]
    docs[d3.path] = _with_text(d3, d3.text.replace("Topic 3-1 second", "Topic 3-1 second (edited)"))
    # deleted
    del docs["docs/doc-05.md"]
    # renamed (same text): nothing to embed
    d7 = docs.pop("docs/doc-07.md")
    docs["archive/doc-07.md"] = _moved(d7, "archive/doc-07.md")
    # only the path's casing changes: nothing to embed
    d9 = docs.pop("Guides/doc-09.md")
    docs["guides/doc-09.md"] = _moved(d9, "guides/doc-09.md")
    # metadata only (title, owner, reviewed date): nothing to embed
    d12 = docs["docs/doc-12.md"]
    docs[d12.path] = replace(d12, title="Doc twelve", owner="@people", updated_at=datetime(2025, 5, 1, tzinfo=UTC))
    # a section moves from doc 11 into a new doc, and the new doc has one new section: one chunk
    d11 = docs["docs/doc-11.md"]
    moved, kept = _split_off(d11.text, "## Topic 11-2")
    docs[d11.path] = _with_text(d11, kept)
    fresh = section(random.Random(99), "Topic new-0")
    docs["docs/new.md"] = make_doc("kb", "docs/new.md", fresh + "\n\n" + moved)
    # a section moves from doc 1 to the end of doc 20: both changed, doc 1 is written (and loses the chunk) in an
    # earlier group than doc 20 gains it; nothing to embed
    d1, d20 = docs["docs/doc-01.md"], docs["docs/doc-20.md"]
    moved, kept = _split_off(d1.text, "## Topic 1-0")
    docs[d1.path] = _with_text(d1, kept)
    docs[d20.path] = _with_text(d20, d20.text + "\n\n" + moved)
    return sorted(docs.values(), key=lambda d: d.path), {"edit": 1, "new": 1}


def edit_every_doc(v1: list[Document]) -> list[Document]:
    """Every doc gets one paragraph changed (for the concurrent reader test)."""
    return [_with_text(d, d.text.replace(" first ", " first (revised) ", 1)) for d in v1]


def _with_text(doc: Document, text: str) -> Document:
    return replace(doc, text=text, source_hash=source_hash(text))


def _moved(doc: Document, path: str) -> Document:
    return replace(doc, doc_id=f"{doc.source}:{path}", path=path)


def _split_off(text: str, heading: str) -> tuple[str, str]:
    """(the section starting at ``heading``, the text without it)."""
    parts = text.split("\n\n## ")
    parts = [parts[0]] + ["## " + p for p in parts[1:]]
    moved = [p for p in parts if p.startswith(heading)]
    kept = [p for p in parts if not p.startswith(heading)]
    return moved[0], "\n\n".join(kept)


def docs_to_json(docs: list[Document]) -> str:
    rows = []
    for doc in docs:
        row = asdict(doc)
        row["updated_at"] = doc.updated_at.isoformat() if doc.updated_at else None
        rows.append(row)
    return json.dumps(rows)


def docs_from_json(data: str) -> list[Document]:
    out = []
    for row in json.loads(data):
        row["updated_at"] = datetime.fromisoformat(row["updated_at"]) if row["updated_at"] else None
        row["date_origin"] = DateOrigin(row["date_origin"]) if row["date_origin"] else None
        out.append(Document(**row))
    return out


def dump_index(path: Path) -> dict[str, object]:
    """Everything a SQLite index holds, in a comparable form (row ids differ between builds, content must not)."""
    db = sqlite3.connect(path)
    try:
        return {
            "embedder": db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchall(),
            "docs": db.execute("SELECT * FROM docs ORDER BY doc_id").fetchall(),
            "chunks": db.execute(
                "SELECT chunk_id, doc_id, ordinal, text, chunk_hash, heading_path, vector FROM chunks ORDER BY chunk_id"
            ).fetchall(),
            "fts": db.execute(
                "SELECT c.chunk_id, f.title, f.body FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid "
                "ORDER BY c.chunk_id"
            ).fetchall(),
            "fts_rows": db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0],
            "chunkless_docs": db.execute(
                "SELECT doc_id FROM docs WHERE doc_id NOT IN (SELECT doc_id FROM chunks)"
            ).fetchall(),
        }
    finally:
        db.close()
