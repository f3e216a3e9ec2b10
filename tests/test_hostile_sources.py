"""One bad document never stops a source (#10): each hostile file is skipped with a reason or dated with a warning,
and everything around it is still read. Each test here failed (or hung) on the code before #10."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag.config import SourceConfig
from rag.index.indexing import refresh_source
from rag.index.sqlite_store import SQLiteStore
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.folder_walk import MAX_DEPTH
from rag.ingest.front_matter import MAX_DEPTH as YAML_DEPTH
from rag.ingest.readers import ReadError, markdown_title, split_front_matter
from rag.ingest.sources import SourceScan, scan_source
from rag.models import DateOrigin, Document
from rag.providers.local_embedder import HashingEmbedder

sys.path.insert(0, str(Path(__file__).parent / "data" / "hostile"))
from make_hostile import billion_laughs, make_deep_tree, remove_tree  # noqa: E402

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
GOOD = "# Good\n\nStill indexed next to a hostile file.\n"


def scan(root: Path, paths: list[str] | None = None) -> SourceScan:
    return scan_source(SourceConfig(name="docs", path=root), paths=paths, now=NOW)


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


def reasons(result: SourceScan) -> dict[str, str]:
    return {s.path: s.reason for s in result.skipped}


def docs(result: SourceScan) -> dict[str, Document]:
    return {d.path: d for d in result.documents}


def git(repo: Path, *args: str, date: str = "2024-05-06T07:08:09+00:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "T")
    return tmp_path


# --- dates ------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_impossible_unparsable_and_future_dates_warn_and_fall_back_to_git(repo: Path) -> None:
    cases = {
        "feb30.md": ("last_reviewed: 2024-02-30", "last_reviewed: '2024-02-30' is not a date"),
        "month13.md": ('last_reviewed: "2023-13-45"', "last_reviewed: '2023-13-45' is not a date"),
        "yesterday.md": ('last_reviewed: "yesterday"', "last_reviewed: 'yesterday' is not a date"),
        "future.md": ("last_reviewed: 2031-01-01", "last_reviewed: 2031-01-01 is in the future"),
    }
    for name, (line, _) in cases.items():
        write(repo, name, f"---\n{line}\n---\n# {name}\n\nbody of {name}\n")
    write(repo, "tomorrow.md", "---\nlast_reviewed: 2026-12-02\n---\n# Clock skew\n\nA day ahead is allowed.\n")
    write(repo, "good.md", GOOD)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "docs")
    result = scan(repo)
    found = docs(result)
    assert result.skipped == []
    for name, (_, warning) in cases.items():
        assert found[name].date_origin is DateOrigin.GIT, name
        assert found[name].updated_at == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        assert found[name].date_warning is not None and found[name].date_warning.startswith(warning)
    assert found["tomorrow.md"].date_origin is DateOrigin.FRONT_MATTER and found["tomorrow.md"].date_warning is None
    assert found["good.md"].date_warning is None


def test_a_future_git_commit_date_is_not_trusted_either(repo: Path) -> None:
    write(repo, "a.md", GOOD)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "from a clock in 2031", date="2031-01-01T00:00:00+00:00")
    (doc,) = scan(repo).documents
    assert doc.updated_at is None and doc.date_origin is None  # the indexer dates it when first seen
    assert doc.date_warning == "last git commit 2031-01-01 is in the future; not used"


def test_an_untrusted_date_is_first_seen_in_the_index_and_never_today_forever(tmp_path: Path) -> None:
    docs_dir = tmp_path / "docs"
    write(docs_dir, "future.md", "---\nlast_reviewed: 2031-01-01\n---\n# Future\n\nbody\n")
    store = SQLiteStore(tmp_path / "index.sqlite")
    source = SourceConfig(name="docs", path=docs_dir)
    embedder, chunking = HashingEmbedder(), ChunkingSettings()
    first = refresh_source(source, store=store, embedder=embedder, chunking=chunking, now=NOW)
    assert [(w.path, w.warning) for w in first.date_warnings] == [
        ("future.md", "last_reviewed: 2031-01-01 is in the future; not used")
    ]
    later = datetime(2027, 6, 1, tzinfo=UTC)
    again = refresh_source(source, store=store, embedder=embedder, chunking=chunking, now=later)
    assert again.docs_unchanged == 1 and again.docs_relabelled == 0  # the warning is stored, not re-applied
    meta = store.stored_docs()["docs:future.md"].meta
    assert (meta.updated_at, meta.date_origin) == (NOW, DateOrigin.FIRST_SEEN)  # not 2031, not "today" each run
    assert meta.date_warning == "last_reviewed: 2031-01-01 is in the future; not used"
    store.close()


# --- front matter at a bounded cost -------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_billion_laughs_front_matter_is_refused_without_expanding(tmp_path: Path) -> None:
    write(tmp_path, "lol.md", billion_laughs())
    write(tmp_path, "good.md", GOOD)
    result = scan(tmp_path)
    assert list(docs(result)) == ["good.md"]
    assert reasons(result)["lol.md"].startswith("YAML alias *a in front matter (line 3); aliases are not allowed")


@pytest.mark.timeout(30)
def test_front_matter_size_nesting_and_number_caps() -> None:
    with pytest.raises(ReadError, match=r"front matter too large \(146 KiB; the limit is 64 KiB\)"):
        split_front_matter("---\n" + "k: v\n" * 30_000 + "---\nbody\n")
    with pytest.raises(ReadError, match=f"nested deeper than {YAML_DEPTH} levels"):
        split_front_matter("---\na: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n")
    with pytest.raises(ReadError, match=f"nested deeper than {YAML_DEPTH} levels"):  # block style, by indentation
        split_front_matter("---\n" + "".join(" " * i + f"k{i}:\n" for i in range(300)) + "---\nbody\n")
    big, _ = split_front_matter("---\ntags: [" + ",".join(["x"] * 20_000) + "]\n---\nbody\n")  # 40 KiB: allowed
    assert len(big["tags"]) == 20_000
    with pytest.raises(ReadError, match="Exceeds the limit"):  # ValueError inside PyYAML stopped the ingest
        split_front_matter("---\nversion: " + "9" * 5000 + "\n---\nbody\n")
    meta, body = split_front_matter("---\nowner: &who alice\nlast_reviewed: 2024-02-30\n---\nbody\n")
    assert meta == {"owner": "alice", "last_reviewed": "2024-02-30"} and body == "body\n"  # dates stay text


@pytest.mark.timeout(30)
def test_heading_lines_full_of_spaces_take_linear_time() -> None:
    line = "# a" + " " * 50_000 + "b"
    assert markdown_title(line + "\n") == "a" + " " * 50_000 + "b"
    doc = Document("d:x.md", "d", "x.md", "X", line + "\n\nbody", "h", None, format="markdown")
    assert chunk_document(doc, ChunkingSettings())[0].heading_path == (line[2:201] + "…",)


def test_a_megabyte_heading_is_not_repeated_in_every_chunk_nor_stored_as_the_title(tmp_path: Path) -> None:
    write(tmp_path, "big.md", "# " + "word " * 200_000 + "\n\n" + "body text here. " * 2_000 + "\n")
    (doc,) = scan(tmp_path).documents
    assert len(doc.title) == 300 and doc.title.endswith("…")
    chunks = chunk_document(doc, ChunkingSettings())
    assert len(chunks) > 20
    assert all(len(chunk.heading_path[0]) == 200 for chunk in chunks)
    assert sum(len(chunk.text) for chunk in chunks) < 200_000  # 32 KB of body (it was over 20 MB: 1 MB per chunk)


# --- only regular files, an iterative capped walk -----------------------------------------------------------------


@pytest.mark.timeout(30)
def test_fifos_sockets_and_devices_are_reported_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")  # opening it would block until a writer comes: forever
    os.mknod(tmp_path / "sock.md", stat.S_IFSOCK | 0o600)
    write(tmp_path, "good.md", GOOD)
    result = scan(tmp_path)
    assert list(docs(result)) == ["good.md"]
    assert reasons(result) == {
        "pipe.md": "a FIFO (named pipe), not a regular file (not opened)",
        "sock.md": "a socket, not a regular file (not opened)",
    }
    with socket.socket(socket.AF_UNIX) as listener:  # a live socket too, bound by a real listener
        os.unlink(tmp_path / "sock.md")
        cwd = Path.cwd()
        os.chdir(tmp_path)  # AF_UNIX paths are limited to 107 bytes; bind relative to the folder
        try:
            listener.bind("sock.md")
        finally:
            os.chdir(cwd)
        assert reasons(scan(tmp_path))["sock.md"] == "a socket, not a regular file (not opened)"


@pytest.mark.timeout(60)
def test_a_tree_deeper_than_the_recursion_limit_is_walked_iteratively_and_capped(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    make_deep_tree(tmp_path / "deep", sys.getrecursionlimit() + 500, "bottom.md")
    write(tmp_path, "deep/d/shallow.md", GOOD)
    write(tmp_path, "good.md", GOOD)
    try:
        result = scan(tmp_path)
        assert sorted(docs(result)) == ["deep/d/shallow.md", "good.md"]
        too_deep = "deep/" + "/".join(["d"] * MAX_DEPTH)
        assert reasons(result) == {too_deep: f"folder nested deeper than {MAX_DEPTH} levels (not read)"}
    finally:
        remove_tree(tmp_path / "deep")


# --- symbolic links -----------------------------------------------------------------------------------------------


def test_symbolic_links_are_never_followed_and_say_where_they_lead(tmp_path: Path) -> None:
    root, outside = tmp_path / "docs", tmp_path / "outside"
    write(outside, "secret.md", "# Secret\n\nhunter2\n")
    write(root, "good.md", GOOD)
    (root / "out.md").symlink_to(outside / "secret.md")
    (root / "shared").symlink_to(outside, target_is_directory=True)
    (root / "in.md").symlink_to(root / "good.md")
    (root / "gone.md").symlink_to(root / "missing.md")
    (root / "loop.md").symlink_to(root / "loop.md")
    result = scan(root)
    assert list(docs(result)) == ["good.md"]
    assert reasons(result) == {
        "out.md": "symbolic link pointing outside the source folder (not followed)",
        "shared": "symbolic link to a folder pointing outside the source folder (not followed)",
        "in.md": "symbolic link to good.md (not followed; the target is indexed under its own path)",
        "gone.md": "broken symbolic link (its target does not exist)",
        "loop.md": "symbolic link loop (not followed)",
    }
    by_paths = scan(root, paths=["shared/secret.md", "shared", "out.md", "good.md"])
    assert list(docs(by_paths)) == ["good.md"]
    assert reasons(by_paths)["shared/secret.md"] == "path goes through the symbolic link shared (not followed)"


# --- any failure stays with its file ------------------------------------------------------------------------------


def test_a_file_that_cannot_be_chunked_is_skipped_and_the_rest_is_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last safety net: whatever a future bug in chunking raises, only that file is skipped."""
    import rag.index.refresh as refresh_module

    write(tmp_path, "good.md", GOOD)
    write(tmp_path, "poison.md", "# Poison\n\nthis one trips the chunker\n")

    def chunk_or_fail(doc: Document, settings: ChunkingSettings, tokens: object) -> list[object]:
        if doc.path == "poison.md":
            raise RecursionError("maximum recursion depth exceeded")
        return chunk_document(doc, settings, tokens)  # type: ignore[arg-type,return-value]

    monkeypatch.setattr(refresh_module, "chunk_document", chunk_or_fail)
    store = SQLiteStore(tmp_path / "index.sqlite")
    result = refresh_source(
        SourceConfig(name="docs", path=tmp_path, include=["**/*.md"]),
        store=store, embedder=HashingEmbedder(), chunking=ChunkingSettings(), now=NOW,
    )  # fmt: skip
    assert sorted(store.stored_docs()) == ["docs:good.md"]
    assert (result.docs_new, result.docs_skipped) == (1, 1)
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("poison.md", "could not be chunked: RecursionError: maximum recursion depth exceeded")
    ]
    store.close()


def test_lone_surrogates_from_the_pure_python_yaml_parser_cannot_break_the_store_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without libyaml, ``"\\ud800"`` in front matter decodes to a lone surrogate, which no store can encode."""
    from rag.ingest import front_matter

    monkeypatch.setattr(front_matter, "LOADER", front_matter.TextDateLoader)
    write(tmp_path, "odd.md", '---\ntitle: "half \\ud800 a pair"\nowner: "\\udfff"\n---\n# Odd\n\nbody\n')
    write(tmp_path, "good.md", GOOD)
    store = SQLiteStore(tmp_path / "index.sqlite")
    result = refresh_source(
        SourceConfig(name="docs", path=tmp_path, include=["**/*.md"]),
        store=store, embedder=HashingEmbedder(), chunking=ChunkingSettings(), now=NOW,
    )  # fmt: skip
    assert result.docs_new == 2 and result.skipped == []
    odd = store.stored_docs()["docs:odd.md"].meta
    assert (odd.title, odd.owner) == ("half \ufffd a pair", "\ufffd")
    store.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loader", ["TextDateLoader", "FastTextDateLoader"])
def test_both_yaml_parsers_refuse_aliases_and_depth_and_keep_dates_as_text(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml (the PyPI wheels) or the pure-Python parser (no libyaml): the same limits, the same results."""
    from rag.ingest import front_matter

    monkeypatch.setattr(front_matter, "LOADER", getattr(front_matter, loader))
    with pytest.raises(ReadError, match=r"YAML alias \*a in front matter \(line 3\)"):
        split_front_matter(billion_laughs())
    with pytest.raises(ReadError, match="nested deeper than"):
        split_front_matter("---\na: " + "[" * 2000 + "]" * 2000 + "\n---\nbody\n")
    meta, _ = split_front_matter("---\nlast_reviewed: 2024-02-30\nupdated: 2024-01-02\ntags: [a, b]\n---\nbody\n")
    assert meta == {"last_reviewed": "2024-02-30", "updated": "2024-01-02", "tags": ["a", "b"]}
