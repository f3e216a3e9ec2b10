"""Incremental refresh of the real staff handbook through ``bestbefore refresh --json`` (hashing embedder)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bestbefore.cli import app
from rag.config import SourceConfig
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.sources import scan_source

runner = CliRunner()
CHUNKING = ChunkingSettings()  # the [index] defaults the CLI uses


def refresh_json(config: Path, *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["-c", str(config), "refresh", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def chunk_table(index: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(index)
    try:
        return db.execute(
            "SELECT c.chunk_id, c.doc_id, c.ordinal, c.chunk_hash, c.vector, d.source_hash, d.title "
            "FROM chunks c JOIN docs d ON d.doc_id = c.doc_id ORDER BY c.chunk_id"
        ).fetchall()
    finally:
        db.close()


@pytest.fixture
def handbook(handbook_clone: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the handbook (with .git, so dates come from git) and a config indexing all its pages."""
    copy = tmp_path / "clone"
    shutil.copytree(handbook_clone, copy)
    config = tmp_path / "bestbefore.toml"
    config.write_text(
        f'[[sources]]\nname = "tts"\npath = "{copy / "pages"}"\ninclude = ["**/*.md"]\n\n[index]\nembedder = "hashing"\n'
    )
    return copy / "pages", config


def test_handbook_edit_rename_delete_add_and_front_matter(
    handbook: tuple[Path, Path], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages, config = handbook
    full = refresh_json(config)
    assert int(full["chunks_embedded"]) > int(full["docs_new"]) > 200  # type: ignore[call-overload]

    nothing = refresh_json(config)
    assert (nothing["chunks_embedded"], nothing["docs_new"], nothing["docs_changed"], nothing["docs_removed"]) == (
        0, 0, 0, 0,
    )  # fmt: skip
    plain = runner.invoke(app, ["-c", str(config), "refresh"], catch_exceptions=False)
    assert "Nothing changed" in plain.stdout and "0 chunks embedded" in plain.stdout

    source = SourceConfig(name="tts", path=pages, include=["**/*.md"])
    before = {d.doc_id: d for d in scan_source(source).documents}
    stored_hashes = {c.chunk_hash for d in before.values() for c in chunk_document(d, CHUNKING)}

    overtime = pages / "travel-and-leave" / "overtime.md"
    text = overtime.read_text(encoding="utf-8")
    marker = "You will need supervisor approval before working extra hours."
    assert marker in text
    overtime.write_text(text.replace(marker, "Ask your supervisor, in writing, before working extra hours."))
    (pages / "travel-and-leave" / "paid-parental-leave.md").rename(pages / "travel-and-leave" / "parental-leave.md")
    deleted = pages / "travel-and-leave" / "going-out-of-office.md"
    deleted.unlink()
    (pages / "travel-and-leave" / "bike-to-work.md").write_text(
        "---\ntitle: Bike to work\n---\n\nSecure bike parking is in the basement; showers are on floor 2.\n"
    )
    relabelled = pages / "travel-and-leave" / "voluntary-leave-transfer-program.md"
    relabelled.write_text(
        relabelled.read_text(encoding="utf-8").replace(
            "title: Voluntary Leave Transfer Program", "title: Donating leave to colleagues"
        )
    )  # fmt: skip (front matter only: not text, so nothing to embed)

    after = scan_source(source).documents
    new_chunks = {c.chunk_hash for d in after for c in chunk_document(d, CHUNKING)} - stored_hashes
    report = refresh_json(config)
    assert report["chunks_embedded"] == len(new_chunks)
    assert 1 <= len(new_chunks) <= 2  # the edited paragraph's chunk and the new page
    assert (report["docs_new"], report["docs_changed"], report["docs_removed"]) == (2, 1, 2)
    assert report["docs_relabelled"] == 1
    assert refresh_json(config)["chunks_embedded"] == 0

    incremental = chunk_table(home / "index.sqlite")
    monkeypatch.setenv("BESTBEFORE_HOME", str(home.parent / "clean-home"))
    refresh_json(config)
    assert incremental == chunk_table(home.parent / "clean-home" / "index.sqlite")
    assert any(row[6] == "Donating leave to colleagues" for row in incremental)
    assert not any(str(row[1]).endswith("going-out-of-office.md") for row in incremental)
